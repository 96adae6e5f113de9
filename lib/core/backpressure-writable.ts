import type { BackpressureEventMap, BackpressureEventName } from './backpressure-events';
import type { DurableMode } from './durable-mode';
import type { EndDrain } from './end-drain';
import type { FlushScheduler } from './flush-scheduler';
import type { GiveUp } from './give-up';
import type { HeldBuffer } from './held-buffer';
import type { BackpressureMetrics } from './metrics';
import { resolveOptions, type BackpressureWritableOptions, type ResolvedOptions } from './options';
import { measureItem } from './size-of';
import { WritableParts } from './writable-parts';
import type { PressureTracker } from '../pressure/pressure-tracker';
import { BackpressureState, type PressureSource } from '../pressure/state';
import type { BatchQueue } from '../util/batch-queue';
import { Writable } from '../util/stream-classes';
import {
  isEndCallback,
  type EndCallback,
  type NodeWritableState,
  type WriteDoneCallback,
} from '../util/write-signature';

// The types of getMetrics() and of the events live beside their producers; they are re-exported
// here because this is where users (and lib/index.ts) have always imported them from.
export type { BackpressureMetrics } from './metrics';
export type { CorruptEvent, DeadLetterEvent, FlushEvent, RetryEvent } from './backpressure-events';

type WriteCallback = (error?: Error | null) => void;

/**
 * An objectMode Writable that holds a bounded buffer, tracks a watermark state
 * machine and delivers batches to an async `flush` function.
 *
 * BLOCK is Node's own mechanism: once the buffer is full `write()` returns
 * false, and `'drain'` fires when there is room again, so `pipeline()` and
 * `pipe()` producers pause and resume and nothing is dropped.
 *
 * Events: `'state'` (StateChange), `'flush'` (FlushEvent), `'retry'`
 * (RetryEvent), `'dead-letter'` (DeadLetterEvent), `'circuit'` (CircuitChange),
 * `'corrupt'` (CorruptEvent, durable mode), `'ready'` (durable mode: the log is open), and the Writable
 * events.
 *
 * Durable mode (`durable: { dir }`): see {@link DurableMode} and docs/durable.md.
 */
export class BackpressureWritable<T> extends Writable implements PressureSource {
  readonly #o: ResolvedOptions<T>;

  /** The parts, built and wired to each other; the ones the write() path uses are also held here. */
  readonly #parts: WritableParts<T>;
  /** Accepted items not in flight (our ring plus the mirror of Node's write queue). */
  readonly #held: HeldBuffer<T>;
  /** `#held.ring`, read directly by the fast path in write(). */
  readonly #buffer: BatchQueue<T>;
  /** The watermark state, its thresholds and the block timer. */
  readonly #pressure: PressureTracker;
  /** Node's state for this stream: its `destroyed` says closed before our state does (see #isClosed). */
  readonly #ws: NodeWritableState;
  /** `_write` callback withheld while our buffer is full: this is BLOCK. */
  #heldCallback: WriteCallback | null = null;
  /** A `write()` returned false and `'drain'` is owed. */
  #needDrain = false;
  /** No sizes to measure, not ending, not past the drain deadline: the hot path in write() may apply. */
  #plainItems: boolean;
  /** end(), the drain deadline, finishing. */
  readonly #end: EndDrain<T>;
  /** Where items go when the stream gives up on them (onDeadLetter, or the stream's error), and the count. */
  readonly #giveUp: GiveUp<T>;

  /** Batches on their way to `flush`: jobs, attempts, retries, circuit waits, adaptive sizes. */
  readonly #scheduler: FlushScheduler<T>;
  /** Durable mode: the log every accepted item goes through (null in memory mode). */
  readonly #durable: DurableMode<T> | null;

  #eventsAccepted = 0;

  // Bound once: no closures per item or per timer arm.
  readonly #emitDrainIfOwed = (): void => {
    if (this.#needDrain && this.#pressure.state !== BackpressureState.BLOCKED && !this.destroyed) {
      this.#needDrain = false;
      this.emit('drain');
    }
  };

  constructor(options: BackpressureWritableOptions<T>) {
    const resolved = resolveOptions(options);
    // highWaterMark 1: once anything waits in Node's queue, Node's own write()
    // says false too, so Node never buffers more than we account for. Durable mode opens its log in
    // Node's construct step: Node holds _final (and reports an open failure as the stream's error).
    const durable = resolved.durable;
    super(
      durable === undefined
        ? { objectMode: true, highWaterMark: 1 }
        : {
            objectMode: true,
            highWaterMark: 1,
            construct(callback: (error?: Error | null) => void): void {
              (this as unknown as BackpressureWritable<T>).#parts.openLog(callback);
            },
          },
    );
    this.#o = resolved;
    this.#ws = (this as unknown as { _writableState: NodeWritableState })._writableState;
    this.#plainItems = resolved.sizeOf === undefined && durable === undefined;
    // What only the façade can answer (see FacadeState), bound once.
    const parts = new WritableParts<T>(resolved, this, {
      isClosed: () => this.#isClosed(),
      updateState: () => this.#updateState(),
      onRoom: () => this.#onRoom(),
      onLeftBlocked: () => {
        if (this.#needDrain) process.nextTick(this.#emitDrainIfOwed);
      },
      stopFastPath: () => {
        this.#plainItems = false;
      },
      abandoned: () => {
        this.#plainItems = false;
        const callback = this.#heldCallback;
        this.#heldCallback = null;
        return callback;
      },
      resume: () => {
        this.#updateState();
        if (this.#needDrain) process.nextTick(this.#emitDrainIfOwed);
      },
    });
    this.#parts = parts;
    this.#held = parts.held;
    this.#buffer = parts.held.ring;
    this.#pressure = parts.pressure;
    this.#durable = parts.durable;
    this.#scheduler = parts.scheduler;
    this.#giveUp = parts.giveUp;
    this.#end = parts.end;
  }

  // Typed events ({@link BackpressureEventMap}: 'state', 'flush', 'retry', 'dead-letter', 'circuit');
  // the Writable events as for every stream.
  override on<E extends BackpressureEventName>(event: E, listener: (payload: BackpressureEventMap<T>[E]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  override once<E extends BackpressureEventName>(
    event: E,
    listener: (payload: BackpressureEventMap<T>[E]) => void,
  ): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.once(event, listener);
  }

  /** The current watermark state. */
  get state(): BackpressureState {
    return this.#pressure.state;
  }

  getMetrics(): BackpressureMetrics {
    return this.#parts.metrics(this.#eventsAccepted);
  }

  // ---------------------------------------------------------------- writing

  // Node's two overloads, with `unknown` for its `any` chunk: every call that compiled against
  // Writable#write still does (__tests__/types/public-api.test.ts).
  override write(chunk: unknown, callback?: WriteDoneCallback): boolean;
  override write(chunk: unknown, encoding: BufferEncoding, callback?: WriteDoneCallback): boolean;
  override write(chunk: unknown, encoding?: BufferEncoding | WriteDoneCallback, callback?: WriteDoneCallback): boolean {
    const ws = (this as unknown as { _writableState: NodeWritableState })._writableState;
    // Hot path — pipe() and plain loops write one item, no callback, with room to spare: nothing to
    // measure, no threshold or batch boundary crossed, nothing queued in Node. Every check the full
    // path would make is implied by these conditions (it took bench/core.bench.ts from ~0.8 to parity).
    if (this.#plainItems && encoding === undefined && callback === undefined && chunk !== null) {
      const next = this.#buffer.size + 1;
      if (
        next > 1 &&
        next < this.#pressure.nextUpItems &&
        next < this.#o.maxBufferSize &&
        (next < this.#scheduler.batchSize || this.#scheduler.inFlightBatches >= this.#scheduler.concurrency) &&
        ws.length === 0 &&
        ws.corked === 0 &&
        !ws.ending &&
        !ws.destroyed
      ) {
        this.#eventsAccepted++;
        this.#buffer.push(chunk as T);
        if (this.#pressure.state === BackpressureState.BLOCKED) {
          this.#needDrain = true;
          return false;
        }
        return true;
      }
    }
    return this.#writeFull(chunk, encoding, callback);
  }

  /**
   * Everything write() does beyond the hot path, in a method of its own: a write() that small is
   * inlined into the producer's loop (that alone took bench/library.bench.ts from ~0.8 to ~1.0 of
   * a hand-written batching loop).
   */
  #writeFull(
    chunk: unknown,
    encoding: BufferEncoding | WriteDoneCallback | undefined,
    callback: WriteDoneCallback | undefined,
  ): boolean {
    const ws = this.#ws;
    // Node's own errors (null item, write after end, write after destroy) stay Node's.
    if (chunk === null || this.#pressure.ending || ws.ending || ws.destroyed) {
      return this.#nodeWrite(chunk, encoding, callback);
    }
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    if (this.#durable !== null) {
      this.#eventsAccepted++;
      this.#durable.accept(chunk as T, typeof callback === 'function' ? (callback as WriteCallback) : undefined);
      this.#updateState();
      if (this.#pressure.state === BackpressureState.BLOCKED) {
        this.#needDrain = true;
        return false;
      }
      return true;
    }
    if (this.#end.abandonError !== null) {
      // Past the drain deadline: nothing more will be flushed, so a late item is dead-lettered on arrival.
      this.#eventsAccepted++;
      if (typeof callback === 'function') process.nextTick(callback, null);
      this.#giveUp.deadLetter([chunk as T], this.#end.abandonError);
      return true;
    }
    let size = 0;
    if (this.#o.sizeOf !== undefined) {
      try {
        size = measureItem(this.#o.sizeOf, chunk as T);
      } catch (err) {
        // Counted and handed over, never lost: a bad size is this item's problem, not the stream's.
        this.#eventsAccepted++;
        if (typeof callback === 'function') process.nextTick(callback, null);
        this.#giveUp.deadLetter([chunk as T], err as Error);
        return this.#pressure.state !== BackpressureState.BLOCKED;
      }
    }
    this.#eventsAccepted++;
    if (ws.length === 0 && ws.corked === 0 && !this.#held.isFull()) {
      // Fast path: Node's queue is empty and we have room, so Node's per-item
      // bookkeeping would only hand the item straight to _write anyway.
      this.#take(chunk as T, size);
      if (typeof callback === 'function') process.nextTick(callback, null);
    } else {
      // Full, corked, or Node still holds earlier items: queue behind them so order is kept.
      this.#held.mirrorQueued(chunk as T, size);
      this.#updateStateOnGrowth();
      this.#nodeWrite(chunk, encoding, callback);
    }
    if (this.#pressure.state === BackpressureState.BLOCKED) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  /** Node's Writable#write with the arguments as the caller gave them: Node's own checks and errors apply. */
  #nodeWrite(
    chunk: unknown,
    encoding: BufferEncoding | WriteDoneCallback | undefined,
    callback?: WriteDoneCallback,
  ): boolean {
    if (typeof encoding === 'function') return super.write(chunk, encoding);
    if (encoding === undefined) return super.write(chunk, callback);
    return super.write(chunk, encoding, callback);
  }

  override end(callback?: EndCallback): this;
  override end(chunk: unknown, callback?: EndCallback): this;
  override end(chunk: unknown, encoding: BufferEncoding, callback?: EndCallback): this;
  override end(chunk?: unknown, encoding?: BufferEncoding | EndCallback, callback?: EndCallback): this {
    if (isEndCallback(chunk)) {
      callback = chunk;
      chunk = undefined;
    } else if (typeof encoding === 'function') {
      callback = encoding;
    }
    // Node's end(item) bypasses our write(); route the last item through it.
    if (chunk !== null && chunk !== undefined) this.write(chunk);
    if (!this.#pressure.ending && !this.destroyed && !this.writableEnded) {
      this.#end.begin();
      this.#scheduler.pump();
    }
    return super.end(callback);
  }

  override _write(chunk: T, _encoding: BufferEncoding, callback: WriteCallback): void {
    if (this.#held.queuedSize > 0) {
      this.#take(chunk, this.#held.shiftQueued());
    } else if (this.#held.consumeHandedOver()) {
      // dead-lettered (or handed back) when the stream gave up
    } else {
      // Not seen by write() (cannot happen through the public API); account it now.
      this.#eventsAccepted++;
      if (this.#end.abandonError !== null) this.#giveUp.deadLetter([chunk], this.#end.abandonError);
      else this.#take(chunk, this.#o.sizeOf === undefined ? 0 : measureItem(this.#o.sizeOf, chunk));
    }
    if (this.#held.isRingFull()) this.#heldCallback = callback;
    else callback();
  }

  override _final(callback: WriteCallback): void {
    this.#end.final(callback);
  }

  /** See GiveUp.teardown: memory mode dead-letters what is held, durable mode leaves it on disk. */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Closed from here on (#isClosed reads Node's destroyed flag); the state says so only once
    // everything held has been counted, so that the 'state' → closed event sees it empty.
    this.#parts.clearTimers();
    this.#heldCallback = null;
    this.#giveUp.teardown(error, callback);
  }

  // --------------------------------------------------------------- buffering

  /** Puts an accepted item into our buffer and starts a flush if one is due. */
  #take(item: T, size: number): void {
    if (this.#held.push(item, size)) this.#scheduler.refFlushTimer(); // buffered items keep the process alive until flushed
    this.#updateStateOnGrowth();
    if (this.#isClosed()) return; // a 'state' listener destroyed the stream (which dead-lettered the item)
    this.#scheduler.onItemBuffered();
  }

  /**
   * No `closed` or `ending` flag beside the state: ending is the state (`#pressure.ending`:
   * draining, then closed), and so is closed, but for one window that Node's own flag covers:
   * `destroy()` sets `destroyed` before `_destroy` runs, while our state turns closed only once
   * everything held has been counted (so that the 'state' → closed listeners see it counted).
   */
  #isClosed(): boolean {
    return this.#pressure.state === BackpressureState.CLOSED || this.#ws.destroyed;
  }

  /** Room was made: let Node hand over what it holds, and owe 'drain' if due. */
  #onRoom(): void {
    const callback = this.#heldCallback;
    if (callback !== null && !this.#held.isRingFull()) {
      this.#heldCallback = null;
      callback();
    }
    this.#updateState();
    this.#durable?.kick();
  }

  // ------------------------------------------------------------ state machine

  #updateState(): void {
    if (!this.#ws.destroyed) this.#pressure.update();
  }

  /** The buffer only grew: re-evaluate the state only if it reached the next threshold up. */
  #updateStateOnGrowth(): void {
    if (!this.#ws.destroyed) this.#pressure.updateOnGrowth(this.#held.size, this.#held.bytes);
  }

  /**
   * Starts the `drainTimeoutMs` deadline now, as `end()` does, while writes may
   * still arrive: for a composition whose stage is still draining into this
   * stream (so that its `end()` too is bounded by `drainTimeoutMs`). When the
   * deadline passes, everything held is dead-lettered, and so is every item
   * written afterwards, on arrival. Calling it again, or `end()` after it, does
   * not restart the deadline.
   */
  beginDrainDeadline(): void {
    this.#end.beginDeadline();
  }
}
