import type { BackpressureEventMap, BackpressureEventName, DeadLetterEvent } from './backpressure-events';
import { DeadLetters, type DeadLetterHost } from './dead-letters';
import { BackpressureError, ErrorCodes, type ErrorCode } from './errors';
import { FlushScheduler, type FlushHost } from './flush-scheduler';
import { HeldBuffer } from './held-buffer';
import type { BackpressureMetrics } from './metrics';
import { resolveOptions, type BackpressureWritableOptions, type ResolvedOptions, type Settlement } from './options';
import { measureItem } from './size-of';
import { PressureTracker } from '../pressure/pressure-tracker';
import { BackpressureState, type PressureSource } from '../pressure/state';
import type { BatchQueue } from '../util/batch-queue';
import { Writable } from '../util/stream-classes';
import { isEndCallback, type EndCallback, type WriteDoneCallback } from '../util/write-signature';

// The types of getMetrics() and of the events live beside their producers; they are re-exported
// here because this is where users (and lib/index.ts) have always imported them from.
export type { BackpressureMetrics } from './metrics';
export type { DeadLetterEvent, FlushEvent, RetryEvent } from './backpressure-events';

type WriteCallback = (error?: Error | null) => void;

/**
 * The fields of Node's (and readable-stream's) WritableState that the fast
 * path reads directly: the public getters (writableLength, writableCorked,
 * writableEnded, destroyed) read the same fields through an extra call each,
 * which shows on the hot path.
 */
interface NodeWritableState {
  length: number;
  corked: number;
  ending: boolean;
  destroyed: boolean;
}

/**
 * An objectMode Writable that holds a bounded buffer, tracks a watermark state
 * machine and delivers batches to an async `flush` function.
 *
 * BLOCK is Node's own mechanism: once the buffer is full `write()` returns
 * false, and `'drain'` fires when there is room again, so `pipeline()` and
 * `pipe()` producers pause and resume and nothing is dropped.
 *
 * Events: `'state'` (StateChange), `'flush'` (FlushEvent), `'retry'`
 * (RetryEvent), `'dead-letter'` (DeadLetterEvent), and the Writable events.
 */
export class BackpressureWritable<T> extends Writable implements PressureSource {
  readonly #o: ResolvedOptions<T>;

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
  /** Set when the drain deadline passed and everything held was handed over: later arrivals are dead-lettered with it. */
  #abandonError: Error | null = null;
  #drainDeadlineStarted = false;
  #finalCallback: WriteCallback | null = null;
  /** onDeadLetter hand-overs: pending calls, failed items, the end of destroy(). */
  readonly #deadLetters: DeadLetters<T>;
  /**
   * The coded error #fail is about to destroy the stream with (no onDeadLetter: its `items` are the
   * only way back). Set before the 'dead-letter' event, so that a listener calling destroy() without
   * an error cannot make the stream end quietly with those items in no error.
   */
  #failure: BackpressureError<T> | null = null;

  /** Batches on their way to `flush`: jobs, attempts, retries, circuit waits, adaptive sizes. */
  readonly #scheduler: FlushScheduler<T>;
  #drainTimer: NodeJS.Timeout | null = null;

  #eventsAccepted = 0;
  #eventsDeadLettered = 0;

  // Bound once: no closures per item or per timer arm.
  readonly #onDrainTimeout = (): void => {
    this.#drainTimer = null;
    this.#abandon(ErrorCodes.DRAIN_TIMEOUT, `end() could not deliver everything within ${this.#o.drainTimeoutMs} ms`);
  };
  readonly #onBlockTimeout = (): void => {
    this.#fail(
      ErrorCodes.BLOCK_TIMEOUT,
      `writer blocked for ${this.#o.maxBlockTimeMs} ms without the sink making progress`,
      [],
      undefined,
    );
  };
  readonly #emitDrainIfOwed = (): void => {
    if (this.#needDrain && this.#pressure.state !== BackpressureState.BLOCKED && !this.destroyed) {
      this.#needDrain = false;
      this.emit('drain');
    }
  };

  readonly #onLeftBlocked = (): void => {
    if (this.#needDrain) process.nextTick(this.#emitDrainIfOwed);
  };
  readonly #utilization = (): number => this.#held.utilization();
  readonly #deadLetterHost: DeadLetterHost<T> = {
    emit: (event, payload) => {
      this.emit(event, payload);
    },
    onProgress: () => this.#pressure.rearmBlockTimerOnProgress(),
    onSettled: (items) => {
      this.#settled(items, 'dead-lettered');
      this.#maybeFinish();
    },
    isDestroyed: () => this.destroyed,
    destroy: () => {
      this.destroy();
    },
  };
  readonly #flushHost: FlushHost<T> = {
    emit: (event, payload) => {
      this.emit(event, payload);
    },
    isClosed: () => this.#isClosed(),
    onRoom: () => this.#onRoom(),
    deadLetter: (items, error) => this.#deadLetter(items, error),
    maybeFinish: () => this.#maybeFinish(),
    settled: (items) => this.#settled(items, 'flushed'),
  };

  constructor(options: BackpressureWritableOptions<T>) {
    const resolved = resolveOptions(options);
    // highWaterMark 1: once anything waits in Node's queue, Node's own write()
    // says false too, so Node never buffers more than we account for.
    super({ objectMode: true, highWaterMark: 1 });
    this.#o = resolved;
    this.#ws = (this as unknown as { _writableState: NodeWritableState })._writableState;
    this.#held = new HeldBuffer<T>(resolved.maxBufferSize, resolved.maxBufferBytes, resolved.sizeOf !== undefined);
    this.#buffer = this.#held.ring;
    this.#pressure = new PressureTracker(resolved, this, this.#utilization, this.#onBlockTimeout, this.#onLeftBlocked);
    this.#plainItems = resolved.sizeOf === undefined;
    this.#deadLetters = new DeadLetters(resolved.onDeadLetter, this.#deadLetterHost);
    this.#scheduler = new FlushScheduler(resolved, this.#held, this.#pressure, this.#flushHost);
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
    return {
      state: this.#pressure.state,
      bufferSize: this.#held.size,
      bufferBytes: this.#held.bytes,
      bufferUtilization: this.#held.utilization(),
      maxBufferSize: this.#o.maxBufferSize,
      eventsAccepted: this.#eventsAccepted,
      eventsDropped: 0,
      droppedByReason: {},
      eventsFlushed: this.#scheduler.counters.eventsFlushed,
      eventsDeadLettered: this.#eventsDeadLettered,
      eventsRetried: this.#scheduler.counters.eventsRetried,
      inFlight: this.#scheduler.inFlight,
      inFlightBatches: this.#scheduler.inFlightBatches,
      lastFlushLatencyMs: this.#scheduler.counters.lastFlushLatencyMs,
      currentFlushIntervalMs: this.#scheduler.currentIntervalMs,
      batchSize: this.#scheduler.batchSize,
      concurrency: this.#scheduler.concurrency,
      flushes: this.#scheduler.counters.flushes,
      failedFlushes: this.#scheduler.counters.failedFlushes,
      circuitState: this.#scheduler.circuitState,
      circuitOpens: this.#scheduler.circuitOpens,
      adaptiveAdjustments: this.#scheduler.adaptiveAdjustments,
    };
  }

  // ---------------------------------------------------------------- writing

  // Node's two overloads, with `unknown` for its `any` chunk: every call that compiled against
  // Writable#write still does (__tests__/types/write-end-signatures.test.ts).
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
    if (this.#abandonError !== null) {
      // Past the drain deadline: nothing more will be flushed, so a late item is dead-lettered on arrival.
      this.#eventsAccepted++;
      if (typeof callback === 'function') process.nextTick(callback, null);
      this.#deadLetter([chunk as T], this.#abandonError);
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
        this.#deadLetter([chunk as T], err as Error);
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
    if (!this.#pressure.ending && !this.destroyed && !this.writableEnded) this.#beginDraining();
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
      if (this.#abandonError !== null) this.#deadLetter([chunk], this.#abandonError);
      else this.#take(chunk, this.#o.sizeOf === undefined ? 0 : measureItem(this.#o.sizeOf, chunk));
    }
    if (this.#held.isRingFull()) this.#heldCallback = callback;
    else callback();
  }

  override _final(callback: WriteCallback): void {
    this.#finalCallback = callback;
    this.#maybeFinish();
  }

  /**
   * Everything still held is dead-lettered (counted first, so every listener — 'state' → closed
   * included — sees the invariant hold). The stream's error comes once every onDeadLetter call
   * made so far has settled: if any of them failed, it is ERR_BACKPRESSURE_DEAD_LETTER_FAILED
   * carrying every item whose dead-lettering failed, each once.
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Closed from here on (#isClosed reads Node's destroyed flag); the state says so only once
    // everything held has been counted, so that the 'state' → closed event sees it empty.
    this.#clearTimers();
    this.#heldCallback = null;
    const held = this.#takeAllHeld([]);
    this.#pressure.transition(BackpressureState.CLOSED);
    let outcome = error ?? this.#failure;
    if (held.length > 0) {
      const withoutHandler = this.#o.onDeadLetter === undefined;
      const reason = new BackpressureError(ErrorCodes.DESTROYED, `destroyed with ${held.length} undelivered item(s)`, {
        cause: error ?? undefined,
        ...(withoutHandler ? { items: held } : {}),
      });
      if (withoutHandler) {
        this.emit('dead-letter', { items: held.slice(), error: reason } satisfies DeadLetterEvent<T>);
        outcome = reason;
      } else {
        this.#deadLetters.handOver(held, reason);
      }
    }
    this.#deadLetters.whenSettled(() => callback(this.#deadLetters.failure() ?? outcome));
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
  }

  /**
   * Gives up on everything accepted and not yet accounted: `first` (items the caller already took
   * out of the stream, not yet counted), then what is in flight, buffered and in Node's queue,
   * oldest first. All of it is counted as dead-lettered before anything observable happens —
   * aborting an attempt's signal runs user listeners — so the invariant holds inside them.
   * The caller hands the returned array (the stream's own) over without counting it again.
   */
  #takeAllHeld(first: readonly T[]): T[] {
    const held: T[] = first.slice();
    const running = this.#scheduler.takeAllInFlight(held);
    this.#held.takeAll(held);
    this.#eventsDeadLettered += held.length;
    for (const context of running) {
      context.abort(new BackpressureError(ErrorCodes.DESTROYED, 'the stream gave up on this batch'));
    }
    return held;
  }

  #holdsItems(): boolean {
    return this.#held.size > 0 || this.#scheduler.inFlightBatches > 0;
  }

  // ------------------------------------------------------------ state machine

  #updateState(): void {
    if (!this.#ws.destroyed) this.#pressure.update();
  }

  /** The buffer only grew: re-evaluate the state only if it reached the next threshold up. */
  #updateStateOnGrowth(): void {
    if (!this.#ws.destroyed) this.#pressure.updateOnGrowth(this.#held.size, this.#held.bytes);
  }

  // ------------------------------------------------------ dead letters, end

  /** Hands undeliverable items (the stream's own, not yet counted) to onDeadLetter, or fails the stream with them. */
  #deadLetter(items: T[], error: Error): void {
    if (items.length === 0) return;
    if (this.#o.onDeadLetter === undefined) {
      const code = error instanceof BackpressureError ? error.code : ErrorCodes.FLUSH_FAILED;
      this.#fail(code, error.message, items, error.cause ?? error);
      return;
    }
    this.#eventsDeadLettered += items.length;
    this.#deadLetters.handOver(items, error);
  }

  /**
   * Fails the stream with a coded error. `items` (taken out of the stream, not yet counted) and
   * everything still held go with it: to onDeadLetter when there is one, otherwise in the
   * error's `items`. All of it is counted before any listener runs.
   */
  #fail(code: ErrorCode, message: string, items: T[], cause: unknown): void {
    if (this.destroyed) {
      // Cannot happen through the public API (nothing reaches here after destroy); never lose items if it does.
      if (items.length === 0) return;
      this.#eventsDeadLettered += items.length;
      const late = new BackpressureError(code, message, { items, cause });
      this.emit('dead-letter', { items: items.slice(), error: late } satisfies DeadLetterEvent<T>);
      return;
    }
    const all = this.#takeAllHeld(items);
    if (this.#o.onDeadLetter !== undefined) {
      const error = new BackpressureError(code, message, { cause });
      this.#deadLetters.handOver(all, error);
      this.destroy(error);
      return;
    }
    const pending = this.#failure;
    if (pending !== null) {
      // Re-entered from a 'dead-letter' listener of the failure in progress (it wrote into the stream,
      // or destroyed a composition, which hands its held items over), before that failure destroyed the
      // stream: the stream ends with ONE error, so it must carry these items too. Not destroyed here:
      // the outer #fail does that once its listeners return, so a composition being destroyed can
      // still hand over everything its stage holds (dead-lettered here, rather than dropped).
      const carried = pending.items as T[];
      for (const item of all) carried.push(item);
      this.emit('dead-letter', { items: all.slice(), error: pending } satisfies DeadLetterEvent<T>);
      return;
    }
    const error = new BackpressureError(code, message, { items: all, cause });
    this.#failure = error;
    this.emit('dead-letter', { items: all.slice(), error } satisfies DeadLetterEvent<T>);
    this.destroy(error);
  }

  #beginDraining(): void {
    this.#pressure.transition(BackpressureState.DRAINING);
    this.#plainItems = false;
    this.beginDrainDeadline();
    this.#scheduler.pump();
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
    if (this.#drainDeadlineStarted || this.destroyed) return;
    this.#drainDeadlineStarted = true;
    if (this.#o.drainTimeoutMs !== Infinity)
      this.#drainTimer = setTimeout(this.#onDrainTimeout, this.#o.drainTimeoutMs);
  }

  /** Drain timeout: give up on what is left, hand it over, then let the stream finish. */
  #abandon(code: ErrorCode, message: string): void {
    if (this.destroyed) return;
    this.#clearTimers();
    const callback = this.#heldCallback;
    this.#heldCallback = null;
    const error = new BackpressureError(code, message);
    this.#abandonError = error;
    this.#plainItems = false;
    if (this.#o.onDeadLetter === undefined) {
      if (this.#holdsItems()) {
        // No handler: the stream fails with everything held in the error's items.
        this.#fail(code, message, [], error);
        return;
      }
    } else {
      this.#deadLetters.handOver(this.#takeAllHeld([]), error);
    }
    // The buffer is empty now: a paused writer (a composition's stage) may go on; what it writes is dead-lettered on arrival.
    this.#updateState();
    if (this.#needDrain) process.nextTick(this.#emitDrainIfOwed);
    callback?.(); // Node may now run _final
    this.#maybeFinish();
  }

  /**
   * Tells onSettled (when set) that `items` are settled for good; its throw fails the stream, never
   * the account. Failed like any internal failure (#fail), not by destroy(err): the stream's one
   * error is then ERR_BACKPRESSURE_SETTLED_HANDLER_FAILED itself, carrying what was still held when
   * there is no onDeadLetter — destroy(err) would report ERR_BACKPRESSURE_DESTROYED instead, and a
   * composition would report the bare cause without the items.
   */
  #settled(items: T[], how: Settlement): void {
    const onSettled = this.#o.onSettled;
    if (onSettled === undefined) return;
    try {
      onSettled(how === 'flushed' ? items : items.slice(), how);
    } catch (cause) {
      const message = `onSettled threw: ${cause instanceof Error ? cause.message : String(cause)}`;
      if (!this.destroyed) this.#fail(ErrorCodes.SETTLED_HANDLER_FAILED, message, [], cause);
    }
  }

  #maybeFinish(): void {
    const callback = this.#finalCallback;
    if (
      callback === null ||
      this.#held.size > 0 ||
      this.#scheduler.inFlightBatches > 0 ||
      this.#deadLetters.pending > 0 ||
      this.destroyed
    ) {
      return;
    }
    this.#finalCallback = null;
    this.#clearTimers();
    this.#pressure.transition(BackpressureState.CLOSED);
    callback();
  }

  #clearTimers(): void {
    this.#scheduler.clearTimers();
    if (this.#drainTimer !== null) clearTimeout(this.#drainTimer);
    this.#drainTimer = null;
    this.#pressure.clearBlockTimer();
  }
}
