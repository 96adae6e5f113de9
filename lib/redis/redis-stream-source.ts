import type { Settlement } from '../core/options';
import { Readable } from '../util/stream-classes';
import { Acknowledger } from './acknowledger';
import { HeldEntries } from './held-entries';
import { createClient, type RedisClientLike } from './redis-client';
import { readFailure, RedisStreamError, RedisStreamErrorCodes } from './redis-errors';
import { closeSource, RetryPause } from './source-lifecycle';
import { PoisonLetters, sortReadAgain } from './poison';
import { ReadPlan, type ReadOrigin } from './read-plan';
import {
  sourceCounters,
  type DroppedEntry,
  type RedisStreamSourceMetrics,
  type RedisTransientErrorEvent,
} from './source-events';
import {
  resolveSourceOptions,
  type RedisStreamEntry,
  type RedisStreamSourceOptions,
  type ResolvedSourceOptions,
} from './source-options';
import { StreamReader } from './stream-reader';
import type { RawEntry } from './stream-replies';

/** What one step of the read loop found. */
const Step = {
  FOUND: 'found',
  /** Moved on (a phase ended, a scan page was empty) without waiting: not idle. */
  MOVED_ON: 'moved-on',
  /** A read of new entries came back empty. */
  EMPTY: 'empty',
} as const;
type Step = (typeof Step)[keyof typeof Step];

/**
 * An objectMode Readable of `{ id, fields, record }` entries read from a Redis stream through a
 * consumer group. It reads only when downstream asks for more (`_read`), at most `count` at a time,
 * and at most `maxUnacknowledged` not yet acknowledged: a slow sink means fewer reads, not more memory.
 *
 * Acknowledgement is the writable's job, through the settlement hook:
 * `backpressure({ flush, onSettled: source.onSettled })` XACKs an entry once the flush that carried
 * it succeeded, or once `onDeadLetter` took it. Nothing else acknowledges: an entry not settled stays
 * pending and is delivered again (to this worker after a restart, or to another through XAUTOCLAIM).
 * With a drop strategy, also `on('drop', source.onDrop)`: a deliberate drop is final and acknowledged.
 *
 * Finish with `await source.close()` once the pipeline has finished: it sends the last
 * acknowledgements and closes the connections the source opened.
 *
 * Events: `'poison'` (RedisPoisonEvent), `'transient-error'` (RedisTransientErrorEvent), and the
 * Readable events.
 */
export class RedisStreamSource<V extends string | Buffer = string> extends Readable {
  readonly #o: ResolvedSourceOptions<V>;
  readonly #commands: RedisClientLike;
  readonly #ownsCommands: boolean;
  readonly #readerClient: RedisClientLike;
  readonly #reader: StreamReader;
  readonly #held: HeldEntries;
  readonly #acks: Acknowledger;
  readonly #plan: ReadPlan;
  #readerConnectedBefore = false;

  #wanted = false;
  /** The read loop is running (it stops when downstream has enough, and _read starts it again). */
  #pumping = false;
  /** The read loop's promise, for close() to wait on. */
  #pumped: Promise<void> = Promise.resolve();
  #waitingForAcks = false;
  #stopped = false;
  #ended = false;
  #failures = 0;
  /** The wait before a failed read is tried again (cut short by stop()). */
  readonly #backoff = new RetryPause();
  /** onDeadLetter calls for poison entries in progress. */
  readonly #poisonLetters: PoisonLetters<V>;
  #closing: Promise<void> | undefined;
  #closed = false;

  readonly #metrics = sourceCounters();

  constructor(options: RedisStreamSourceOptions<V>) {
    const o = resolveSourceOptions(options);
    super({ objectMode: true, highWaterMark: o.count });
    this.#o = o;
    this.#ownsCommands = o.client === undefined;
    this.#commands = o.client ?? createClient(o.url as string, o.redisOptions);
    this.#readerClient = this.#commands.duplicate();
    // Connection errors also reject the commands they hit, which is where they are handled;
    // without a listener ioredis would print each reconnection attempt's error.
    if (this.#ownsCommands) this.#commands.on('error', ignore);
    this.#readerClient.on('error', ignore);
    this.#readerClient.on('ready', this.#onReaderReady);
    const target = { stream: o.stream, group: o.group, consumer: o.consumer };
    this.#reader = new StreamReader(this.#readerClient, this.#commands, target, { buffers: o.buffers, field: o.field });
    this.#held = new HeldEntries(this.#commands, target, o.claimIdleMs, (error) =>
      this.#transient('keep-alive', error),
    );
    this.#acks = new Acknowledger(this.#commands, o.stream, o.group, {
      onFailure: (error) => this.#transient('ack', error),
      onAcknowledged: (count) => {
        this.#metrics.acknowledged += count;
      },
    });
    this.#poisonLetters = new PoisonLetters<V>(o.onDeadLetter, o.stream, o.maxDeliveries, {
      report: (event) => {
        this.#metrics.poison += event.entries.length;
        this.emit('poison', event);
      },
      // Held while the handler works: kept alive in Redis, so that no other worker takes them meanwhile.
      hold: (ids) => {
        for (const id of ids) this.#held.add(id);
      },
      accepted: (ids) => {
        this.#metrics.deadLettered += ids.length;
        if (!this.#closed) this.acknowledge(ids);
      },
      failed: (ids, error) => {
        this.release(ids);
        this.destroy(error);
      },
    });
    this.#plan = new ReadPlan(this.#reader, o as ResolvedSourceOptions<string | Buffer>);
  }

  /** This worker's consumer name in the group. */
  get consumer(): string {
    return this.#o.consumer;
  }

  getMetrics(): RedisStreamSourceMetrics {
    return { ...this.#metrics, held: this.#held.size, ackPending: this.#acks.pending };
  }

  /**
   * Settled for good: acknowledge (XACK) these entries. Batched (one XACK per event-loop turn) and
   * retried until Redis confirms; `close()` waits for them. Throws ERR_REDIS_CLOSED after `close()`.
   */
  acknowledge(ids: readonly string[]): void {
    if (this.#closed) {
      throw new RedisStreamError(
        RedisStreamErrorCodes.CLOSED,
        `acknowledge() after close(): ${ids.length} entries stay pending in ${this.#o.stream}`,
        { ids: ids.slice() },
      );
    }
    for (const id of ids) this.#held.delete(id);
    this.#acks.add(ids);
    this.#afterUnheld();
  }

  /**
   * Not settled, and not going to be here: forget these entries without acknowledging them. They
   * stay pending and are delivered again once idle for `claimIdleMs` (to whichever worker claims them).
   */
  release(ids: readonly string[]): void {
    for (const id of ids) if (this.#held.delete(id)) this.#metrics.released++;
    this.#afterUnheld();
  }

  /** The writable's `onSettled`: flushed and dead-lettered items are acknowledged. Items need an `id`. */
  readonly onSettled = (items: readonly { readonly id: string }[], _how: Settlement): void => {
    const ids = new Array<string>(items.length);
    for (let i = 0; i < items.length; i++) ids[i] = (items[i] as { id: string }).id;
    this.acknowledge(ids);
  };

  /**
   * A `'drop'` listener for `backpressure()` with a drop strategy: an entry the strategy dropped on
   * purpose is acknowledged (the drop is the decision, counted and reported by the stream, as it is
   * for any input). A `'destroyed'` drop is no decision: that entry is released, to be delivered again.
   */
  readonly onDrop = (event: DroppedEntry): void => {
    if (event.reason === 'destroyed') this.release([event.item.id]);
    else this.acknowledge([event.item.id]);
  };

  /** Stops reading: the read in progress is cut short, what it returns is still pushed, then the readable ends. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#backoff.cancel();
    this.#reader.unblock().catch(ignore);
    if (!this.#pumping) {
      this.#pumping = true;
      this.#pumped = this.#finish().finally(() => {
        this.#pumping = false;
      });
    }
  }

  /**
   * Stops reading, waits (up to `closeTimeoutMs`) for pending dead-letter calls and for Redis to
   * confirm every acknowledgement, then closes the connections the source opened. Call it once the
   * pipeline has finished (its last settlements are acknowledged here). Rejects with
   * ERR_REDIS_ACK_FAILED (with the `ids`) if some could not be acknowledged: those entries stay
   * pending and will be delivered again. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  override _read(): void {
    this.#wanted = true;
    if (!this.#waitingForAcks) this.#startPump();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Reading stops; acknowledgements already queued still go out (close() sends and waits for them).
    this.#stopped = true;
    this.#backoff.cancel();
    this.#reader.unblock().catch(ignore);
    callback(error);
  }

  // ------------------------------------------------------------------ reading

  #startPump(): void {
    if (this.#pumping || this.#stopped || this.destroyed) return;
    this.#pumping = true;
    this.#pumped = this.#pump();
  }

  async #pump(): Promise<void> {
    try {
      while (this.#wanted && !this.#stopped && !this.destroyed) {
        if (this.#held.size >= this.#o.maxUnacknowledged) {
          this.#waitingForAcks = true; // #afterUnheld resumes
          return;
        }
        let step: Step;
        try {
          step = await this.#step();
          this.#failures = 0;
        } catch (err) {
          if (this.#stopped || this.destroyed) break;
          if (!this.#recover(err)) break;
          await this.#backoff.afterFailures(this.#failures);
          continue;
        }
        if (step === Step.EMPTY) this.#plan.afterEmpty();
      }
      if (this.#stopped) await this.#finish();
    } finally {
      this.#pumping = false;
    }
  }

  /** Stopped: a read started ahead is still handed out (Redis delivered it to us), then the readable ends. */
  async #finish(): Promise<void> {
    const ahead = this.#plan.stop();
    if (ahead !== null && !this.destroyed) {
      try {
        await this.#hand((await ahead).entries, 'readNew');
      } catch {
        // Left pending: delivered again once idle for claimIdleMs.
      }
    }
    this.#end();
  }

  /** One command's worth of reading (see ReadPlan), and what it found handed out. */
  async #step(): Promise<Step> {
    const room = Math.min(this.#o.count, this.#o.maxUnacknowledged - this.#held.size);
    const found = await this.#plan.next(room, this.#held.size);
    switch (found.kind) {
      case 'empty':
        return Step.EMPTY;
      case 'idle':
        this.stop(); // idle for endWhenIdleMs, and nothing left to take over
        return Step.MOVED_ON;
      case 'moved-on':
        return Step.MOVED_ON;
      case 'entries': {
        const deleted = found.deleted.ids;
        if (deleted.length > 0) {
          this.#metrics.deleted += deleted.length;
          if (found.deleted.clear) this.#acks.add(deleted);
        }
        if ((await this.#hand(found.entries, found.origin)) + deleted.length === 0) return Step.MOVED_ON;
        this.#plan.progress();
        return Step.FOUND;
      }
    }
  }

  /**
   * Pushes what was read. Entries read again (own pending list, takeover) are first checked: one
   * this source already holds is not handed out twice, one acknowledged meanwhile by the worker it
   * was taken from is dropped, and one delivered more than `maxDeliveries` times is poison.
   * Returns how many entries made progress: handed out, or taken by `onDeadLetter` (poison left
   * pending and entries this source already holds do not count: reading them again is no progress).
   */
  async #hand(entries: RawEntry[], origin: ReadOrigin): Promise<number> {
    if (entries.length === 0) return 0;
    const { deliver, poison } =
      origin === 'readNew'
        ? { deliver: entries, poison: [] }
        : await sortReadAgain(entries, this.#held, this.#reader, this.#o.maxDeliveries);
    // Destroyed while the counts were looked up: leave the entries pending, to be delivered again.
    if (this.destroyed) return 0;
    this.#metrics[origin] += deliver.length;
    this.#metrics.delivered += deliver.length;
    for (const entry of deliver) {
      this.#held.add(entry.id);
      // Everything read is pushed (at most `count`, the high-water mark): push() saying "enough" ends the loop.
      this.#wanted = this.push(entry);
    }
    if (poison.length > 0) this.#poisonLetters.take(poison as RedisStreamEntry<V>[]);
    return deliver.length + (this.#o.onDeadLetter === undefined ? 0 : poison.length);
  }

  /** A failed read: true to retry (after a backoff), false when the source was destroyed with it. */
  #recover(err: unknown): boolean {
    this.#failures++;
    const failure = readFailure(err, this.#o.stream, this.#o.group);
    if (failure instanceof RedisStreamError) {
      this.destroy(failure);
      return false;
    }
    if (failure === 'group-lost') this.#plan.groupLost();
    this.#transient('read', err instanceof Error ? err : new Error(String(err)));
    return true;
  }

  #transient(operation: RedisTransientErrorEvent['operation'], error: Error): void {
    this.#metrics.transientErrors++;
    this.emit('transient-error', { operation, error } satisfies RedisTransientErrorEvent);
  }

  /** The reader connection came back (not its first connection): see ReadPlan.readerReconnected. */
  readonly #onReaderReady = (): void => {
    if (!this.#readerConnectedBefore) {
      this.#readerConnectedBefore = true;
      return;
    }
    this.#plan.readerReconnected();
  };

  #afterUnheld(): void {
    if (!this.#waitingForAcks || this.#held.size >= this.#o.maxUnacknowledged) return;
    this.#waitingForAcks = false;
    if (this.#wanted) this.#startPump();
  }

  #end(): void {
    if (this.#ended || this.destroyed) return;
    this.#ended = true;
    this.push(null);
  }

  // ------------------------------------------------------------------ closing

  async #close(): Promise<void> {
    this.stop();
    await closeSource({
      settled: () => this.#settledEverything(),
      timeoutMs: this.#o.closeTimeoutMs,
      stopWork: () => {
        this.#closed = true;
        this.#held.stop();
        this.#acks.abandon();
        return this.#acks.pendingIds();
      },
      clients: this.#ownsCommands ? [this.#readerClient, this.#commands] : [this.#readerClient],
      stream: this.#o.stream,
    });
  }

  /** Reading stopped, no dead-letter call pending, every acknowledgement confirmed. */
  async #settledEverything(): Promise<void> {
    await this.#pumped;
    await this.#poisonLetters.whenSettled();
    await this.#acks.whenIdle();
  }
}

function ignore(): void {
  // see the callers
}

/**
 * A Readable of the entries of a Redis stream, read through a consumer group (see
 * {@link RedisStreamSource}). Needs `ioredis` (loaded now, when `url` is given).
 */
export function redisStreamSource(
  options: RedisStreamSourceOptions<Buffer> & { valueEncoding: 'buffer' },
): RedisStreamSource<Buffer>;
export function redisStreamSource(options: RedisStreamSourceOptions<string>): RedisStreamSource<string>;
export function redisStreamSource<V extends string | Buffer>(
  options: RedisStreamSourceOptions<V>,
): RedisStreamSource<V> {
  return new RedisStreamSource<V>(options);
}
