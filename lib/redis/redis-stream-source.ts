import type { Settlement } from '../core/options';
import { Readable } from '../util/stream-classes';
import { Acknowledger } from './acknowledger';
import { HeldEntries } from './held-entries';
import { closeClient, createClient, type RedisClientLike } from './redis-client';
import {
  isNoGroupError,
  isTransientRedisError,
  messageOf,
  RedisStreamError,
  RedisStreamErrorCodes,
} from './redis-errors';
import {
  resolveSourceOptions,
  type RedisStreamEntry,
  type RedisStreamSourceOptions,
  type ResolvedSourceOptions,
} from './source-options';
import { StreamReader, type ReadResult } from './stream-reader';
import type { RawEntry } from './stream-replies';

/** Counters of `getMetrics()`. */
export interface RedisStreamSourceMetrics {
  /** Entries handed downstream, from all three origins below. */
  delivered: number;
  /** … of which never delivered to the group before (`XREADGROUP >`). */
  readNew: number;
  /** … of which were this consumer's own pending entries (read before a restart or a reconnect). */
  readPending: number;
  /** … of which were taken over from idle consumers (XAUTOCLAIM). */
  claimed: number;
  /** Handed out (or being dead-lettered) and neither acknowledged nor released yet. */
  held: number;
  /** Acknowledgements Redis confirmed (XACK). */
  acknowledged: number;
  /** Settled, not yet confirmed by Redis (queued or in flight; retried while Redis is away). */
  ackPending: number;
  /** Given back with `release()` (or a `'destroyed'` drop): left pending for another delivery. */
  released: number;
  /** Entries found delivered more than `maxDeliveries` times. */
  poison: number;
  /** Poison entries `onDeadLetter` accepted (then acknowledged). */
  deadLettered: number;
  /** Pending entries whose stream entry was deleted (XDEL, MAXLEN): nothing to deliver. */
  deleted: number;
  /** Commands that failed and were retried (connection lost, Redis loading, …). */
  transientErrors: number;
}

/** Payload of the `'poison'` event. */
export interface RedisPoisonEvent<V extends string | Buffer> {
  entries: RedisStreamEntry<V>[];
  error: RedisStreamError;
  /** `false` without `onDeadLetter`: the entries stay pending and are not delivered again by this source. */
  deadLettering: boolean;
}

/** Payload of the `'transient-error'` event: a command failed and is retried. */
export interface RedisTransientErrorEvent {
  operation: 'read' | 'claim' | 'ack' | 'keep-alive';
  error: Error;
}

/** The parts of a `'drop'` event (`DropEvent`) the source needs. */
export interface DroppedEntry {
  item: { readonly id: string };
  reason: string;
}

const Phase = {
  /** Reading this consumer's own pending entries (at the start, after a reconnect or a lost group). */
  PENDING: 'pending',
  /** Taking over idle entries when a scan is due, otherwise reading new ones. */
  LIVE: 'live',
} as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** What one step of the read loop found. */
const Step = {
  FOUND: 'found',
  /** Moved on (a phase ended, a scan page was empty) without waiting: not idle. */
  MOVED_ON: 'moved-on',
  /** A read of new entries came back empty. */
  EMPTY: 'empty',
} as const;
type Step = (typeof Step)[keyof typeof Step];

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;
const CLIENT_CLOSE_MS = 2000;

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
  readonly #claimIntervalMs: number;

  #phase: Phase = Phase.PENDING;
  #pendingCursor = '0';
  #claimCursor = '0-0';
  #nextClaimAt = 0;
  /** The idle deadline passed: one last complete takeover scan decides whether to end. */
  #finalScan = false;
  #idleSince: number | undefined;
  #groupReady = false;
  /** A read of new entries started while the previous batch was being handed out (see #readAhead), and when. */
  #ahead: Promise<ReadResult> | null = null;
  #aheadStartedAt = 0;
  /** The last read of new entries came back full: the next one need not block (see StreamReader.readNew). */
  #lastReadFull = false;
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
  #backoff: { timer: NodeJS.Timeout; resolve: () => void } | null = null;
  readonly #deadLettering = new Set<Promise<void>>();
  #closing: Promise<void> | undefined;
  #closed = false;

  readonly #metrics: Omit<RedisStreamSourceMetrics, 'held' | 'ackPending'> = {
    delivered: 0,
    readNew: 0,
    readPending: 0,
    claimed: 0,
    acknowledged: 0,
    released: 0,
    poison: 0,
    deadLettered: 0,
    deleted: 0,
    transientErrors: 0,
  };

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
    this.#claimIntervalMs = Math.max(Math.floor(o.claimIdleMs / 2), 1);
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
    this.#cancelBackoff();
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
    this.#cancelBackoff();
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
          await this.#pause(Math.min(RETRY_MIN_MS * 2 ** (this.#failures - 1), RETRY_MAX_MS));
          continue;
        }
        if (step !== Step.EMPTY) {
          if (step === Step.FOUND) this.#idleSince = undefined;
          continue;
        }
        const endAfter = this.#o.endWhenIdleMs;
        if (endAfter !== undefined && Date.now() - (this.#idleSince as number) >= endAfter && !this.#finalScan) {
          this.#finalScan = true;
          this.#nextClaimAt = 0;
          this.#claimCursor = '0-0';
        }
      }
      if (this.#stopped) await this.#finish();
    } finally {
      this.#pumping = false;
    }
  }

  /** Stopped: a read started ahead is still handed out (Redis delivered it to us), then the readable ends. */
  async #finish(): Promise<void> {
    const ahead = this.#ahead;
    this.#ahead = null;
    if (ahead !== null && !this.destroyed) {
      try {
        await this.#hand((await ahead).entries, 'readNew');
      } catch {
        // Left pending: delivered again once idle for claimIdleMs.
      }
    }
    this.#end();
  }

  /** One command's worth of reading: own pending entries, a takeover scan page, or new entries. */
  async #step(): Promise<Step> {
    const o = this.#o;
    if (!this.#groupReady) {
      await this.#reader.ensureGroup(o.groupStartId);
      this.#groupReady = true;
    }
    const ahead = this.#ahead;
    if (ahead !== null) {
      this.#ahead = null;
      return this.#onNewEntries(await ahead, this.#aheadStartedAt);
    }
    const room = Math.min(o.count, o.maxUnacknowledged - this.#held.size);
    if (this.#phase === Phase.PENDING) {
      const read = await this.#reader.readPending(this.#pendingCursor, room);
      if (read.lastId === undefined) {
        this.#phase = Phase.LIVE;
        return Step.MOVED_ON;
      }
      // Entries of our pending list that were deleted from the stream: nothing to deliver, and nobody else will clear them.
      if (read.deleted.length > 0)
        this.#onDeleted(
          read.deleted.map((d) => d.id),
          true,
        );
      const handed = await this.#hand(read.entries, 'readPending');
      this.#pendingCursor = read.lastId;
      return handed + read.deleted.length > 0 ? Step.FOUND : Step.MOVED_ON;
    }
    if (Date.now() >= this.#nextClaimAt) {
      const claimed = await this.#reader.claim(this.#claimCursor, o.claimIdleMs, room);
      this.#claimCursor = claimed.cursor;
      const scanDone = claimed.cursor === '0-0';
      if (scanDone) this.#nextClaimAt = Date.now() + this.#claimIntervalMs;
      // Redis already removed deleted entries from the pending list.
      if (claimed.deleted.length > 0)
        this.#onDeleted(
          claimed.deleted.map((d) => d.id),
          false,
        );
      const handed = await this.#hand(claimed.entries, 'claimed');
      if (handed + claimed.deleted.length > 0) {
        this.#finalScan = false;
        return Step.FOUND;
      }
      if (scanDone && this.#finalScan) {
        this.stop(); // idle for endWhenIdleMs, and nothing left to take over
        return Step.MOVED_ON;
      }
      if (!scanDone) return Step.MOVED_ON;
    }
    const now = Date.now();
    // After a full batch more is likely waiting: ask without blocking; block only once the stream ran dry.
    const blockMs = this.#lastReadFull ? undefined : this.#blockMsAt(now);
    return this.#onNewEntries(await this.#reader.readNew(room, blockMs), now);
  }

  /** How long a read of new entries started at `now` may wait: never past the next takeover scan or the idle deadline. */
  #blockMsAt(now: number): number {
    const o = this.#o;
    const blockMs = Math.min(o.blockMs, Math.max(this.#nextClaimAt - now, 1));
    if (o.endWhenIdleMs === undefined) return blockMs;
    // The idle deadline counts from this read when it is the first empty one.
    return Math.min(blockMs, Math.max((this.#idleSince ?? now) + o.endWhenIdleMs - now, 1));
  }

  async #onNewEntries(read: ReadResult, startedAt: number): Promise<Step> {
    this.#lastReadFull = read.entries.length >= this.#o.count;
    if (read.entries.length === 0) {
      this.#idleSince ??= startedAt;
      return Step.EMPTY;
    }
    this.#finalScan = false;
    this.#readAhead(read.entries.length);
    await this.#hand(read.entries, 'readNew');
    return Step.FOUND;
  }

  /**
   * After a full batch of new entries (more are likely waiting), the next read starts before this
   * batch is handed out, so that its round trip overlaps the work downstream instead of adding to
   * it. At most one batch ahead, within `maxUnacknowledged`, and only while nothing else is due
   * (a takeover scan, the idle check, a stop): bounded, and what it reads is handed out next.
   */
  #readAhead(got: number): void {
    const o = this.#o;
    if (got < o.count || this.#stopped || this.#phase !== Phase.LIVE || this.#finalScan) return;
    const now = Date.now();
    if (now >= this.#nextClaimAt || this.#held.size + got + o.count > o.maxUnacknowledged) return;
    this.#aheadStartedAt = now;
    const ahead = this.#reader.readNew(o.count, undefined);
    ahead.catch(ignore); // its failure is handled where it is awaited (the next step)
    this.#ahead = ahead;
  }

  /**
   * Pushes what was read. Entries read again (own pending list, takeover) are first checked: one
   * this source already holds is not handed out twice, one acknowledged meanwhile by the worker it
   * was taken from is dropped, and one delivered more than `maxDeliveries` times is poison.
   * Returns how many entries made progress: handed out, or taken by `onDeadLetter` (poison left
   * pending and entries this source already holds do not count: reading them again is no progress).
   */
  async #hand(entries: RawEntry[], origin: 'readNew' | 'readPending' | 'claimed'): Promise<number> {
    if (entries.length === 0) return 0;
    let deliver = entries;
    const poison: RawEntry[] = [];
    if (origin !== 'readNew') {
      const fresh = entries.filter((e) => !this.#held.has(e.id));
      deliver = fresh;
      if (this.#o.maxDeliveries !== Infinity && fresh.length > 0) {
        const counts = await this.#reader.deliveryCounts(fresh.map((e) => e.id));
        deliver = [];
        for (const entry of fresh) {
          const count = counts.get(entry.id);
          if (count === undefined) continue; // acknowledged meanwhile: delivered already
          if (count > this.#o.maxDeliveries) poison.push(entry);
          else deliver.push(entry);
        }
      }
    }
    // Destroyed while the counts were looked up: leave the entries pending, to be delivered again.
    if (this.destroyed) return 0;
    this.#metrics[origin] += deliver.length;
    this.#metrics.delivered += deliver.length;
    for (const entry of deliver) {
      this.#held.add(entry.id);
      // Everything read is pushed (at most `count`, the high-water mark): push() saying "enough" ends the loop.
      this.#wanted = this.push(entry);
    }
    if (poison.length > 0) this.#onPoison(poison);
    return deliver.length + (this.#o.onDeadLetter === undefined ? 0 : poison.length);
  }

  #onDeleted(ids: string[], acknowledge: boolean): void {
    this.#metrics.deleted += ids.length;
    if (acknowledge) this.#acks.add(ids);
  }

  /** Poison: to onDeadLetter, acknowledged once it resolved; without it, left pending. */
  #onPoison(raw: RawEntry[]): void {
    const entries = raw as RedisStreamEntry<V>[];
    const ids = entries.map((e) => e.id);
    this.#metrics.poison += entries.length;
    const error = new RedisStreamError(
      RedisStreamErrorCodes.POISON,
      `${entries.length} entries of ${this.#o.stream} delivered more than maxDeliveries (${this.#o.maxDeliveries}) times`,
      { ids, entries: entries.slice() },
    );
    const handler = this.#o.onDeadLetter;
    this.emit('poison', {
      entries: entries.slice(),
      error,
      deadLettering: handler !== undefined,
    } satisfies RedisPoisonEvent<V>);
    if (handler === undefined) return;
    // Held while the handler works: kept alive in Redis, so that no other worker takes them meanwhile.
    for (const id of ids) this.#held.add(id);
    const call = Promise.resolve()
      .then(() => handler(entries.slice(), error))
      .then(
        () => {
          this.#metrics.deadLettered += entries.length;
          if (this.#closed) return;
          this.acknowledge(ids);
        },
        (cause: unknown) => {
          this.release(ids);
          this.destroy(
            new RedisStreamError(
              RedisStreamErrorCodes.DEAD_LETTER_FAILED,
              `onDeadLetter failed for ${entries.length} poison entries (they stay pending): ${messageOf(cause)}`,
              { cause, ids, entries },
            ),
          );
        },
      )
      .finally(() => this.#deadLettering.delete(call));
    this.#deadLettering.add(call);
  }

  /** A failed read: true to retry (after a backoff), false when the source was destroyed with it. */
  #recover(err: unknown): boolean {
    this.#failures++;
    if (isNoGroupError(err)) {
      // The stream or group is gone (deleted, or Redis restarted without persistence): create it again.
      this.#groupReady = false;
      this.#phase = Phase.PENDING;
      this.#pendingCursor = '0';
      this.#claimCursor = '0-0';
      this.#transient('read', err as Error);
      return true;
    }
    if (isTransientRedisError(err)) {
      this.#transient('read', err instanceof Error ? err : new Error(String(err)));
      return true;
    }
    this.destroy(
      new RedisStreamError(
        RedisStreamErrorCodes.COMMAND_FAILED,
        `reading ${this.#o.stream} (group ${this.#o.group}) failed: ${messageOf(err)}`,
        { cause: err },
      ),
    );
    return false;
  }

  #transient(operation: RedisTransientErrorEvent['operation'], error: Error): void {
    this.#metrics.transientErrors++;
    this.emit('transient-error', { operation, error } satisfies RedisTransientErrorEvent);
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#backoff = null;
        resolve();
      }, ms);
      this.#backoff = { timer, resolve };
    });
  }

  #cancelBackoff(): void {
    const backoff = this.#backoff;
    if (backoff === null) return;
    this.#backoff = null;
    clearTimeout(backoff.timer);
    backoff.resolve();
  }

  /** The reader connection came back: what it read just before may never have arrived, so re-read our pending list. */
  readonly #onReaderReady = (): void => {
    if (!this.#readerConnectedBefore) {
      this.#readerConnectedBefore = true;
      return;
    }
    this.#reader.onReaderReconnected();
    this.#phase = Phase.PENDING;
    this.#pendingCursor = '0';
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
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#o.closeTimeoutMs);
    });
    try {
      await Promise.race([this.#settledEverything(), deadline]);
    } finally {
      clearTimeout(timer);
    }
    this.#closed = true;
    this.#held.stop();
    this.#acks.abandon();
    const unacknowledged = this.#acks.pendingIds();
    await Promise.all([
      closeClient(this.#readerClient, CLIENT_CLOSE_MS),
      this.#ownsCommands ? closeClient(this.#commands, CLIENT_CLOSE_MS) : Promise.resolve(),
    ]);
    if (unacknowledged.length > 0) {
      throw new RedisStreamError(
        RedisStreamErrorCodes.ACK_FAILED,
        `${unacknowledged.length} settled entries of ${this.#o.stream} could not be acknowledged within ${this.#o.closeTimeoutMs} ms; they stay pending and will be delivered again`,
        { ids: unacknowledged },
      );
    }
  }

  /** Reading stopped, no dead-letter call pending, every acknowledgement confirmed. */
  async #settledEverything(): Promise<void> {
    await this.#pumped;
    while (this.#deadLettering.size > 0) await Promise.allSettled([...this.#deadLettering]);
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
