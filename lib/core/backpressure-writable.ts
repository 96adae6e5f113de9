import { AdaptiveController } from '../resilience/adaptive-controller';
import { backoffDelayMs } from '../resilience/backoff';
import { BackpressureError, ErrorCodes, type ErrorCode } from './errors';
import { CircuitBreaker, CircuitState, type CircuitChange } from '../resilience/circuit-breaker';
import { FlushAttemptContext } from './flush-attempt-context';
import { FlushJob } from './flush-job';
import { interpretFlushResult } from './flush-outcome';
import { resolveOptions, type BackpressureWritableOptions, type DeadLetterHandler, type ResolvedOptions } from './options';
import { RingBuffer } from '../util/ring-buffer';
import { measureItem } from './size-of';
import { BackpressureState, type PressureSource } from '../pressure/state';
import { Writable } from '../util/stream-classes';
import { PressureTracker } from '../pressure/pressure-tracker';
import { HeldBuffer } from './held-buffer';

/** `getMetrics()` of a `BackpressureWritable` (and of `backpressure()` compositions). */
export interface BackpressureMetrics {
  state: BackpressureState;
  /** Accepted items held and not in flight: the ring buffer plus Node's write queue. */
  bufferSize: number;
  /** Bytes of those items (0 unless `maxBufferBytes` or `sizeOf` is set). */
  bufferBytes: number;
  /** max(bufferSize / maxBufferSize, bufferBytes / maxBufferBytes). */
  bufferUtilization: number;
  maxBufferSize: number;
  /** Every item handed to `write()` (or `end(item)`) and taken in. */
  eventsAccepted: number;
  /** Items dropped by a strategy stage (always 0 for the writable alone). */
  eventsDropped: number;
  droppedByReason: Record<string, number>;
  /** Items the sink acknowledged. */
  eventsFlushed: number;
  /** Items handed to `onDeadLetter`, or back to you in an error's `items`. */
  eventsDeadLettered: number;
  /** Item-attempts retried (a batch of 10 retried twice adds 20). */
  eventsRetried: number;
  /** Items in batches being flushed or waiting to be retried (items, not batches). */
  inFlight: number;
  /** Batches in flight (≤ concurrency). */
  inFlightBatches: number;
  lastFlushLatencyMs: number;
  currentFlushIntervalMs: number;
  /** Items per flush now. */
  batchSize: number;
  /** Most batches in flight now. */
  concurrency: number;
  /** The circuit breaker's state (`closed` when there is no breaker). */
  circuitState: CircuitState;
  /** How many times the circuit opened. */
  circuitOpens: number;
  /** How many times the adaptive loop changed batch size or concurrency (0 when off). */
  adaptiveAdjustments: number;
  /** Flush attempts that resolved successfully / failed (including timeouts). */
  flushes: number;
  failedFlushes: number;
}

/** Payload of the `'flush'` event. */
export interface FlushEvent {
  items: number;
  latencyMs: number;
  attempt: number;
}

/** Payload of the `'retry'` event. */
export interface RetryEvent {
  items: number;
  /** The attempt that failed (1-based). */
  attempt: number;
  delayMs: number;
  error: Error;
}

/** Payload of the `'dead-letter'` event. */
export interface DeadLetterEvent<T> {
  items: T[];
  error: Error;
}

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
  readonly #buffer: RingBuffer<T>;
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
  /** onDeadLetter calls not settled yet: 'finish' and the end of destroy() wait for them. */
  #pendingDeadLetters = 0;
  /** Every item whose onDeadLetter call failed, in order, each once: the stream's final error carries them all. */
  #deadLetterFailed: T[] | null = null;
  #deadLetterFailedCause: unknown = undefined;
  /** _destroy's callback, called once every pending onDeadLetter call has settled. */
  #destroyCallback: (() => void) | null = null;

  // Batches on their way to the sink, oldest first (a Set keeps insertion order).
  readonly #jobs = new Set<FlushJob<T>>();
  #inFlightItems = 0;
  #tokenSeq = 0;
  readonly #breaker: CircuitBreaker | null;
  readonly #adaptive: AdaptiveController | null;
  /** Current batch size and concurrency: the options' values, or the adaptive loop's. */
  #batchSize: number;
  #concurrency: number;
  #currentIntervalMs: number;

  #flushTimer: NodeJS.Timeout | null = null;
  /** One timer for every batch waiting for the circuit breaker, so they are let through oldest first. */
  #circuitTimer: NodeJS.Timeout | null = null;
  /** One watchdog for every running attempt's flushTimeoutMs (see #onWatchdog). */
  #watchdog: NodeJS.Timeout | null = null;
  #drainTimer: NodeJS.Timeout | null = null;

  #eventsAccepted = 0;
  #eventsFlushed = 0;
  #eventsDeadLettered = 0;
  #eventsRetried = 0;
  #lastFlushLatencyMs = 0;
  #flushes = 0;
  #failedFlushes = 0;

  // Bound once: no closures per item or per timer arm.
  readonly #onFlushTimer = (): void => {
    this.#flushTimer = null;
    this.#pump();
  };
  // A watchdog rather than one timer per attempt: armed once, it times out
  // every attempt past its deadline and re-arms for the earliest one left
  // (creating and clearing a timer per batch cost several percent of
  // throughput with a fast sink).
  readonly #onWatchdog = (): void => {
    this.#watchdog = null;
    const now = Date.now();
    const expired: FlushJob<T>[] = [];
    for (const job of this.#jobs) {
      if (job.context !== null && job.startedAt + this.#o.flushTimeoutMs <= now) expired.push(job);
    }
    for (const job of expired) {
      const error = new BackpressureError(ErrorCodes.FLUSH_TIMEOUT, `flush did not settle within ${this.#o.flushTimeoutMs} ms`);
      job.context?.abort(error);
      this.#settleAttempt(job, job.token, undefined, error);
    }
    // Settling the expired attempts may have started new ones (and armed a
    // watchdog for their later deadline) or closed the stream: re-arm for the
    // earliest deadline still running, and never on a closed stream.
    if (this.#watchdog !== null) clearTimeout(this.#watchdog);
    this.#watchdog = null;
    if (this.#isClosed()) return;
    let earliest = Infinity;
    for (const job of this.#jobs) {
      if (job.context !== null && job.startedAt + this.#o.flushTimeoutMs < earliest) earliest = job.startedAt + this.#o.flushTimeoutMs;
    }
    if (earliest !== Infinity) this.#watchdog = setTimeout(this.#onWatchdog, Math.max(0, earliest - Date.now()));
  };
  readonly #onDrainTimeout = (): void => {
    this.#drainTimer = null;
    this.#abandon(ErrorCodes.DRAIN_TIMEOUT, `end() could not deliver everything within ${this.#o.drainTimeoutMs} ms`);
  };
  readonly #onBlockTimeout = (): void => {
    this.#fail(ErrorCodes.BLOCK_TIMEOUT, `writer blocked for ${this.#o.maxBlockTimeMs} ms without the sink making progress`, [], undefined);
  };
  readonly #onCircuitChange = (change: CircuitChange): void => {
    this.emit('circuit', change);
    // The probe got through: wake every batch that was told to wait for the
    // circuit, now, before #pump forms new batches from the buffer.
    if (change.to === CircuitState.CLOSED) this.#wakeCircuitWaiters();
  };
  readonly #onCircuitTimer = (): void => {
    this.#circuitTimer = null;
    this.#wakeCircuitWaiters();
  };
  readonly #runAttemptOf = (job: FlushJob<T>): void => this.#runAttempt(job);
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
    this.#currentIntervalMs = resolved.minFlushIntervalMs;
    this.#batchSize = resolved.batchSize;
    this.#concurrency = resolved.concurrency;
    this.#breaker =
      resolved.circuitBreaker === undefined ? null : new CircuitBreaker(resolved.circuitBreaker, this.#onCircuitChange);
    this.#adaptive =
      resolved.adaptive === undefined
        ? null
        : new AdaptiveController(resolved.adaptive, resolved.batchSize, resolved.concurrency, Date.now());
    if (this.#adaptive !== null) {
      this.#batchSize = this.#adaptive.batchSize;
      this.#concurrency = this.#adaptive.concurrency;
    }
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
      eventsFlushed: this.#eventsFlushed,
      eventsDeadLettered: this.#eventsDeadLettered,
      eventsRetried: this.#eventsRetried,
      inFlight: this.#inFlightItems,
      inFlightBatches: this.#jobs.size,
      lastFlushLatencyMs: this.#lastFlushLatencyMs,
      currentFlushIntervalMs: this.#currentIntervalMs,
      batchSize: this.#batchSize,
      concurrency: this.#concurrency,
      flushes: this.#flushes,
      failedFlushes: this.#failedFlushes,
      circuitState: this.#breaker === null ? CircuitState.CLOSED : this.#breaker.state,
      circuitOpens: this.#breaker === null ? 0 : this.#breaker.opens,
      adaptiveAdjustments: this.#adaptive === null ? 0 : this.#adaptive.adjustments,
    };
  }

  // ---------------------------------------------------------------- writing

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override write(chunk: any, encoding?: any, callback?: any): boolean {
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
        (next < this.#batchSize || this.#jobs.size >= this.#concurrency) &&
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
    // Node's own errors (null item, write after end, write after destroy) stay Node's.
    if (chunk === null || this.#pressure.ending || ws.ending || ws.destroyed) {
      return super.write(chunk, encoding, callback);
    }
    if (typeof encoding === 'function') callback = encoding;
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
      super.write(chunk, encoding, callback);
    }
    if (this.#pressure.state === BackpressureState.BLOCKED) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override end(chunk?: any, encoding?: any, callback?: any): this {
    if (typeof chunk === 'function') {
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
    let outcome = error;
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
        this.#handOver(held, reason);
      }
    }
    this.#destroyCallback = () => callback(this.#deadLetterFailure() ?? outcome);
    this.#finishDestroyIfSettled();
  }

  // --------------------------------------------------------------- buffering

  /** Puts an accepted item into our buffer and starts a flush if one is due. */
  #take(item: T, size: number): void {
    if (this.#held.push(item, size)) this.#flushTimer?.ref(); // buffered items keep the process alive until flushed
    this.#updateStateOnGrowth();
    if (this.#isClosed()) return; // a 'state' listener destroyed the stream (which dead-lettered the item)
    if (this.#jobs.size < this.#concurrency) {
      if (this.#isDue()) this.#startFlush();
      else if (this.#flushTimer === null) this.#armFlushTimer();
    }
  }

  /**
   * A batch is due without waiting for the interval: a full batch, the end, or a full
   * stream. Full — by items or by bytes, Node's queue included — means flush now, whatever
   * the batch count: a buffer full by bytes short of `batchSize` would otherwise keep the
   * writer blocked and the sink idle until the interval timer (up to maxFlushIntervalMs).
   */
  #isDue(): boolean {
    return this.#buffer.size >= this.#batchSize || this.#pressure.ending || this.#held.isFull();
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
    const running: FlushAttemptContext[] = [];
    for (const job of this.#jobs) {
      for (const item of job.batch) held.push(item);
      if (job.context !== null) running.push(job.context);
      job.context = null;
      if (job.timer !== null) clearTimeout(job.timer);
      job.timer = null;
    }
    this.#jobs.clear();
    this.#inFlightItems = 0;
    this.#held.takeAll(held);
    this.#eventsDeadLettered += held.length;
    for (const context of running) {
      context.abort(new BackpressureError(ErrorCodes.DESTROYED, 'the stream gave up on this batch'));
    }
    return held;
  }

  #holdsItems(): boolean {
    return this.#held.size > 0 || this.#jobs.size > 0;
  }

  // ------------------------------------------------------------ state machine

  #updateState(): void {
    if (!this.#ws.destroyed) this.#pressure.update();
  }

  /** The buffer only grew: re-evaluate the state only if it reached the next threshold up. */
  #updateStateOnGrowth(): void {
    if (!this.#ws.destroyed) this.#pressure.updateOnGrowth(this.#held.size, this.#held.bytes);
  }

  // ---------------------------------------------------------------- flushing

  #armFlushTimer(): void {
    if (this.#buffer.size === 0 || this.#isClosed()) return;
    const wait = this.#held.oldestAt + this.#currentIntervalMs - Date.now();
    this.#flushTimer = setTimeout(this.#onFlushTimer, wait > 0 ? wait : 0);
  }

  /** Starts every flush that is due and allowed; otherwise arms the time trigger. */
  #pump(): void {
    if (this.#isClosed()) return;
    while (this.#jobs.size < this.#concurrency && this.#buffer.size > 0) {
      const due = this.#isDue() || Date.now() - this.#held.oldestAt >= this.#currentIntervalMs;
      if (!due) {
        if (this.#flushTimer === null) this.#armFlushTimer();
        break;
      }
      this.#startFlush();
    }
    this.#maybeFinish();
  }

  #startFlush(): void {
    // An armed time-trigger timer is left alone: when it fires, #pump re-checks
    // what is due. Clearing and re-creating it per batch costs more than a
    // spurious wake-up per interval.
    const batch = this.#held.take(this.#batchSize);
    if (this.#buffer.size === 0) this.#flushTimer?.unref();
    const job = new FlushJob(batch);
    this.#jobs.add(job);
    this.#inFlightItems += batch.length;
    // The attempt starts before room is made: making room hands Node's queued
    // items to _write, which may start a later batch, and that one must not
    // reach flush first (FIFO into flush).
    this.#runAttempt(job);
    this.#onRoom();
  }

  #runAttempt(job: FlushJob<T>): void {
    if (!this.#jobs.has(job) || this.#isClosed()) return;
    if (this.#breaker !== null) {
      // FIFO into flush: a batch never overtakes an older one waiting for the circuit.
      const behindOlder = this.#olderJobWaitsForCircuit(job);
      const wait = behindOlder ? 0 : this.#breaker.admit(Date.now());
      if (behindOlder || wait > 0) {
        // Not an attempt: no retry is spent against an open circuit.
        job.waitingForCircuit = true;
        if (wait > 0 && this.#circuitTimer === null) this.#circuitTimer = setTimeout(this.#onCircuitTimer, wait);
        return;
      }
      job.waitingForCircuit = false;
      // admit() may have announced half-open: a 'circuit' listener that destroyed the stream
      // has dead-lettered this batch, which must then never reach flush.
      if (!this.#jobs.has(job) || this.#isClosed()) return;
    }
    job.attempt++;
    const token = ++this.#tokenSeq;
    job.token = token;
    const context = new FlushAttemptContext(job.attempt);
    job.context = context;
    job.startedAt = Date.now();
    if (this.#watchdog !== null) this.#watchdog.ref(); // an attempt in flight keeps the process alive until it settles or times out
    else if (this.#o.flushTimeoutMs !== Infinity) this.#watchdog = setTimeout(this.#onWatchdog, this.#o.flushTimeoutMs);
    const flush = this.#o.flush;
    // flush gets its own copy: whatever it does to the array (splice it into chunks, sort it, empty
    // it) never reaches the job's batch, which alone is retried, dead-lettered and counted.
    const batch = job.batch.slice();
    // new Promise(...) turns a synchronous throw into a rejection, so every outcome is settled asynchronously.
    new Promise<unknown>((resolve) => resolve(flush(batch, context))).then(
      (result) => this.#settleAttempt(job, token, result, undefined),
      (error: unknown) => this.#settleAttempt(job, token, undefined, toError(error)),
    );
  }

  #settleAttempt(job: FlushJob<T>, token: number, result: unknown, error: Error | undefined): void {
    if (token !== job.token || job.context === null || !this.#jobs.has(job)) return; // late result of an abandoned attempt
    job.context = null;
    if (!this.#anyAttemptRunning()) this.#watchdog?.unref(); // idle watchdog: never the reason a process stays up
    const now = Date.now();
    const latencyMs = now - job.startedAt;
    // Read against the job's own batch (flush got a copy), and account before anything
    // observable happens: a 'circuit' or 'flush' listener may read the metrics, or even
    // destroy the stream, which then dead-letters exactly what is still in job.batch.
    const outcome = error === undefined ? interpretFlushResult(result, job.batch) : { delivered: 0, retry: job.batch, error };
    this.#eventsFlushed += outcome.delivered;
    this.#inFlightItems -= outcome.delivered;
    job.batch = outcome.retry;
    if (outcome.delivered > 0) this.#rearmBlockTimerOnProgress();
    if (outcome.error === undefined) {
      this.#jobs.delete(job);
      this.#flushes++;
      this.#lastFlushLatencyMs = latencyMs;
      this.#adaptInterval(latencyMs);
      if (this.#adaptive !== null) {
        const backlogged = this.#buffer.size >= this.#batchSize || this.#held.queuedSize > 0 || this.#held.isFull();
        this.#adaptive.onSuccess(now, outcome.delivered, latencyMs, backlogged);
        this.#followAdaptive();
      }
      this.#breaker?.success();
      this.emit('flush', { items: outcome.delivered, latencyMs, attempt: job.attempt } satisfies FlushEvent);
      this.#pump();
      return;
    }
    this.#failedFlushes++;
    if (this.#adaptive !== null) {
      this.#adaptive.onFailure(now);
      this.#followAdaptive();
    }
    // A partial failure means the sink is reachable: only a total failure counts against the circuit.
    if (outcome.delivered > 0) this.#breaker?.success();
    else this.#breaker?.failure(now);
    if (!this.#jobs.has(job)) return; // a 'circuit' listener destroyed the stream, which dead-lettered job.batch
    const retryable = (outcome.error as { retryable?: unknown }).retryable !== false;
    if (retryable && job.attempt <= this.#o.retry.retries) {
      this.#scheduleRetry(job, outcome.error);
      return;
    }
    this.#jobs.delete(job);
    this.#inFlightItems -= job.batch.length;
    const failure = new BackpressureError(
      ErrorCodes.FLUSH_FAILED,
      `flush failed after ${job.attempt} attempt(s): ${outcome.error.message}`,
      { cause: outcome.error },
    );
    this.#deadLetter(job.batch, failure);
    this.#pump();
  }

  #followAdaptive(): void {
    const adaptive = this.#adaptive;
    if (adaptive === null) return;
    this.#batchSize = adaptive.batchSize;
    this.#concurrency = adaptive.concurrency;
  }

  #olderJobWaitsForCircuit(job: FlushJob<T>): boolean {
    for (const other of this.#jobs) {
      if (other === job) return false;
      if (other.waitingForCircuit) return true;
    }
    return false;
  }

  /** Lets waiting batches try the circuit again, oldest first (each admitted one may take the probe slot). */
  #wakeCircuitWaiters(): void {
    if (this.#circuitTimer !== null) {
      clearTimeout(this.#circuitTimer);
      this.#circuitTimer = null;
    }
    for (const job of [...this.#jobs]) {
      if (!job.waitingForCircuit) continue;
      job.waitingForCircuit = false;
      this.#runAttempt(job);
      if (job.waitingForCircuit) break; // not admitted: the rest keep waiting behind it
    }
  }

  #anyAttemptRunning(): boolean {
    for (const job of this.#jobs) if (job.context !== null) return true;
    return false;
  }

  #scheduleRetry(job: FlushJob<T>, error: Error): void {
    let delayMs = backoffDelayMs(job.attempt, this.#o.retry);
    // Sinks may say when to come back (HTTP Retry-After): honour it, within maxDelayMs. maxDelayMs is
    // at most MAX_TIMER_MS, so a huge (or infinite) Retry-After waits maxDelayMs, never Node's 1 ms.
    const retryAfterMs = (error as { retryAfterMs?: unknown }).retryAfterMs;
    if (typeof retryAfterMs === 'number' && retryAfterMs > delayMs) delayMs = Math.min(retryAfterMs, this.#o.retry.maxDelayMs);
    this.#eventsRetried += job.batch.length;
    // Armed before the event: a listener that destroys the stream clears it with the job.
    job.timer = setTimeout(this.#runAttemptOf, delayMs, job);
    this.emit('retry', { items: job.batch.length, attempt: job.attempt, delayMs, error } satisfies RetryEvent);
  }

  #adaptInterval(latencyMs: number): void {
    const { targetLatencyMs, minFlushIntervalMs, maxFlushIntervalMs } = this.#o;
    if (latencyMs > targetLatencyMs * 1.5) {
      this.#currentIntervalMs = Math.min(this.#currentIntervalMs * 1.5, maxFlushIntervalMs);
    } else if (latencyMs < targetLatencyMs * 0.5) {
      this.#currentIntervalMs = Math.max(this.#currentIntervalMs * 0.8, minFlushIntervalMs);
    }
  }

  #rearmBlockTimerOnProgress(): void {
    this.#pressure.rearmBlockTimerOnProgress();
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
    this.#handOver(items, error);
  }

  /**
   * Items already counted as dead-lettered go to the 'dead-letter' listeners and to
   * onDeadLetter, each with its own copy: the stream keeps `items` to report them if
   * onDeadLetter fails, and never reads back an array it handed out.
   */
  #handOver(items: T[], error: Error): void {
    if (items.length === 0) return;
    const handler = this.#o.onDeadLetter as DeadLetterHandler<T>;
    this.#rearmBlockTimerOnProgress();
    // Pending before the event: a listener that destroys the stream must find this call to wait for.
    this.#pendingDeadLetters++;
    const given = items.slice();
    Promise.resolve()
      .then(() => handler(given, error))
      .then(
        () => {
          this.#pendingDeadLetters--;
          this.#maybeFinish();
          this.#finishDestroyIfSettled();
        },
        (cause: unknown) => {
          this.#pendingDeadLetters--;
          this.#onDeadLetterFailed(items, cause);
        },
      );
    this.emit('dead-letter', { items: items.slice(), error } satisfies DeadLetterEvent<T>);
  }

  /**
   * onDeadLetter failed: the items stay counted as dead-lettered and go back to the user in the
   * stream's error instead. Every failure adds its items, so the one final error carries every
   * item whose dead-lettering failed, each once, however many calls failed.
   */
  #onDeadLetterFailed(items: T[], cause: unknown): void {
    if (this.#deadLetterFailed === null) {
      this.#deadLetterFailed = [];
      this.#deadLetterFailedCause = cause;
    }
    for (const item of items) this.#deadLetterFailed.push(item);
    if (this.destroyed) this.#finishDestroyIfSettled();
    else this.destroy(); // _destroy reports the failed items once every pending call has settled
  }

  #deadLetterFailure(): BackpressureError<T> | null {
    const items = this.#deadLetterFailed;
    if (items === null) return null;
    return new BackpressureError(ErrorCodes.DEAD_LETTER_FAILED, `onDeadLetter failed for ${items.length} item(s)`, {
      items: items.slice(),
      cause: this.#deadLetterFailedCause,
    });
  }

  #finishDestroyIfSettled(): void {
    const callback = this.#destroyCallback;
    if (callback === null || this.#pendingDeadLetters > 0) return;
    this.#destroyCallback = null;
    callback();
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
      this.#handOver(all, error);
      this.destroy(error);
      return;
    }
    const error = new BackpressureError(code, message, { items: all, cause });
    this.emit('dead-letter', { items: all.slice(), error } satisfies DeadLetterEvent<T>);
    this.destroy(error);
  }

  #beginDraining(): void {
    this.#pressure.transition(BackpressureState.DRAINING);
    this.#plainItems = false;
    this.beginDrainDeadline();
    this.#pump();
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
    if (this.#o.drainTimeoutMs !== Infinity) this.#drainTimer = setTimeout(this.#onDrainTimeout, this.#o.drainTimeoutMs);
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
      this.#handOver(this.#takeAllHeld([]), error);
    }
    // The buffer is empty now: a paused writer (a composition's stage) may go on; what it writes is dead-lettered on arrival.
    this.#updateState();
    if (this.#needDrain) process.nextTick(this.#emitDrainIfOwed);
    callback?.(); // Node may now run _final
    this.#maybeFinish();
  }

  #maybeFinish(): void {
    const callback = this.#finalCallback;
    if (
      callback === null ||
      this.#held.size > 0 ||
      this.#jobs.size > 0 ||
      this.#pendingDeadLetters > 0 ||
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
    for (const timer of [this.#flushTimer, this.#watchdog, this.#drainTimer, this.#circuitTimer]) {
      if (timer !== null) clearTimeout(timer);
    }
    this.#flushTimer = this.#watchdog = this.#drainTimer = this.#circuitTimer = null;
    this.#pressure.clearBlockTimer();
  }
}

function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(`flush rejected with a non-Error: ${String(value)}`);
}
