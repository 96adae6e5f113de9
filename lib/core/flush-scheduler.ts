import { retryDelayMs } from '../resilience/backoff';
import { CircuitState, type CircuitBreaker, type CircuitChange } from '../resilience/circuit-breaker';
import type { PressureTracker } from '../pressure/pressure-tracker';
import type { FlushEvent, RetryEvent } from './backpressure-events';
import { AdaptiveLanes } from './adaptive-lanes';
import { CircuitGate } from './circuit-gate';
import { BackpressureError, ErrorCodes } from './errors';
import { FlushAttemptContext } from './flush-attempt-context';
import { FlushJob } from './flush-job';
import { interpretFlushResult, rejectionError } from './flush-outcome';
import type { HeldBuffer } from './held-buffer';
import { FlushCounters } from './metrics';
import type { ResolvedOptions } from './options';

/** What the scheduler asks of the stream it works for (bound once by the stream, never per item). */
export interface FlushHost<T> {
  emit(event: 'flush' | 'retry' | 'circuit', payload: FlushEvent | RetryEvent | CircuitChange): void;
  /** Finished or destroyed: start nothing more. */
  isClosed(): boolean;
  /** A batch left the buffer: let Node hand over what it holds, re-evaluate the state. */
  onRoom(): void;
  /** Items that could not be delivered (not yet counted): to the dead letters, or fail the stream. `seqs`: their records (durable mode). */
  deadLetter(items: T[], error: Error, seqs: number[] | null): void;
  /** Everything due was started: the stream may be able to finish. */
  maybeFinish(): void;
  /** Items delivered for good (already counted): tell `onSettled`, acknowledge their records (`seqs`, durable mode). */
  settled(items: T[], seqs: number[] | null): void;
}

/**
 * Turns the held buffer into batches and gets them to `flush`: when a batch is due (full batch,
 * end, full buffer, or the interval), how many run at once, each attempt with its timeout
 * (one watchdog), retries with backoff, the circuit breaker's waits (oldest batch first), and
 * the adaptive loop's batch size, concurrency and interval. Batches reach `flush` in FIFO order.
 */
export class FlushScheduler<T> {
  readonly #o: ResolvedOptions<T>;
  readonly #held: HeldBuffer<T>;
  readonly #pressure: PressureTracker;
  readonly #host: FlushHost<T>;
  readonly counters = new FlushCounters();

  // Batches on their way to the sink, oldest first (a Set keeps insertion order).
  readonly #jobs = new Set<FlushJob<T>>();
  #inFlightItems = 0;
  #tokenSeq = 0;
  /** The circuit breaker's waits (null without a breaker), and the breaker, told of every outcome. */
  readonly #circuit: CircuitGate<T> | null;
  readonly #breaker: CircuitBreaker | null;
  readonly #adaptive: AdaptiveLanes<T> | null;
  /** Current batch size and concurrency: the options' values, or the adaptive loop's. */
  #batchSize: number;
  #concurrency: number;
  #currentIntervalMs: number;

  #flushTimer: NodeJS.Timeout | null = null;
  /** One watchdog for every running attempt's flushTimeoutMs (see #onWatchdog). */
  #watchdog: NodeJS.Timeout | null = null;

  // Bound once: no closures per item or per timer arm.
  readonly #onFlushTimer = (): void => {
    this.#flushTimer = null;
    this.pump();
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
      const error = new BackpressureError(
        ErrorCodes.FLUSH_TIMEOUT,
        `flush did not settle within ${this.#o.flushTimeoutMs} ms`,
      );
      job.context?.abort(error);
      this.#settleAttempt(job, job.token, undefined, error);
    }
    // Settling the expired attempts may have started new ones (and armed a
    // watchdog for their later deadline) or closed the stream: re-arm for the
    // earliest deadline still running, and never on a closed stream.
    if (this.#watchdog !== null) clearTimeout(this.#watchdog);
    this.#watchdog = null;
    if (this.#host.isClosed()) return;
    let earliest = Infinity;
    for (const job of this.#jobs) {
      if (job.context !== null && job.startedAt + this.#o.flushTimeoutMs < earliest)
        earliest = job.startedAt + this.#o.flushTimeoutMs;
    }
    if (earliest !== Infinity) this.#watchdog = setTimeout(this.#onWatchdog, Math.max(0, earliest - Date.now()));
  };
  readonly #onCircuitChange = (change: CircuitChange): void => {
    this.#host.emit('circuit', change);
  };
  readonly #runAttemptOf = (job: FlushJob<T>): void => this.#runAttempt(job);
  /** The adaptive loop changed its settings while attempts ran (see AdaptiveLanes). */
  readonly #onAdaptiveChange = (): void => {
    if (this.#host.isClosed()) return;
    this.#followAdaptive();
    this.pump(); // an undone probe may have given a lane back
  };

  constructor(o: ResolvedOptions<T>, held: HeldBuffer<T>, pressure: PressureTracker, host: FlushHost<T>) {
    this.#o = o;
    this.#held = held;
    this.#pressure = pressure;
    this.#host = host;
    this.#currentIntervalMs = o.minFlushIntervalMs;
    this.#batchSize = o.batchSize;
    this.#concurrency = o.concurrency;
    this.#circuit =
      o.circuitBreaker === undefined
        ? null
        : new CircuitGate(o.circuitBreaker, this.#jobs, this.#onCircuitChange, this.#runAttemptOf);
    this.#breaker = this.#circuit === null ? null : this.#circuit.breaker;
    this.#adaptive =
      o.adaptive === undefined
        ? null
        : new AdaptiveLanes(o.adaptive, o.batchSize, o.concurrency, this.#jobs, this.#onAdaptiveChange);
    if (this.#adaptive !== null) {
      this.#batchSize = this.#adaptive.batchSize;
      this.#concurrency = this.#adaptive.concurrency;
    }
  }

  /** Items per flush now. */
  get batchSize(): number {
    return this.#batchSize;
  }

  /** Most batches in flight now. */
  get concurrency(): number {
    return this.#concurrency;
  }

  /** Batches in flight, waiting for a retry or for the circuit included. */
  get inFlightBatches(): number {
    return this.#jobs.size;
  }

  /** Items in those batches. */
  get inFlight(): number {
    return this.#inFlightItems;
  }

  get currentIntervalMs(): number {
    return this.#currentIntervalMs;
  }

  get circuitState(): CircuitState {
    return this.#breaker === null ? CircuitState.CLOSED : this.#breaker.state;
  }

  get circuitOpens(): number {
    return this.#breaker === null ? 0 : this.#breaker.opens;
  }

  get adaptiveAdjustments(): number {
    return this.#adaptive === null ? 0 : this.#adaptive.adjustments;
  }

  /** The buffer was empty and got an item: it keeps the process alive until flushed. */
  refFlushTimer(): void {
    this.#flushTimer?.ref();
  }

  /** An item was buffered: start a batch if one is due and allowed, otherwise make sure the time trigger is armed. */
  onItemBuffered(): void {
    if (this.#jobs.size < this.#concurrency) {
      if (this.#isDue()) this.#startFlush();
      else if (this.#flushTimer === null) this.#armFlushTimer();
    }
  }

  /** Starts every flush that is due and allowed; otherwise arms the time trigger. */
  pump(): void {
    if (this.#host.isClosed()) return;
    while (this.#jobs.size < this.#concurrency && this.#held.ring.size > 0) {
      const due = this.#isDue() || Date.now() - this.#held.oldestAt >= this.#currentIntervalMs;
      if (!due) {
        if (this.#flushTimer === null) this.#armFlushTimer();
        break;
      }
      this.#startFlush();
    }
    this.#host.maybeFinish();
  }

  /**
   * Gives up on every batch in flight: appends their items to `into`, oldest first, and returns
   * the contexts of the attempts still running, for the caller to abort once everything is counted.
   */
  takeAllInFlight(into: T[]): FlushAttemptContext[] {
    const running: FlushAttemptContext[] = [];
    for (const job of this.#jobs) {
      for (const item of job.batch) into.push(item);
      if (job.context !== null) running.push(job.context);
      job.context = null;
      if (job.timer !== null) clearTimeout(job.timer);
      job.timer = null;
    }
    this.#jobs.clear();
    this.#inFlightItems = 0;
    return running;
  }

  clearTimers(): void {
    for (const timer of [this.#flushTimer, this.#watchdog]) {
      if (timer !== null) clearTimeout(timer);
    }
    this.#flushTimer = this.#watchdog = null;
    this.#circuit?.clearTimer();
    this.#adaptive?.clearTimer();
  }

  /**
   * A batch is due without waiting for the interval: a full batch, the end, or a full
   * stream. Full — by items or by bytes, Node's queue included — means flush now, whatever
   * the batch count: a buffer full by bytes short of `batchSize` would otherwise keep the
   * writer blocked and the sink idle until the interval timer (up to maxFlushIntervalMs).
   */
  #isDue(): boolean {
    return this.#held.ring.size >= this.#batchSize || this.#pressure.ending || this.#held.isFull();
  }

  #armFlushTimer(): void {
    if (this.#held.ring.size === 0 || this.#host.isClosed()) return;
    const wait = this.#held.oldestAt + this.#currentIntervalMs - Date.now();
    this.#flushTimer = setTimeout(this.#onFlushTimer, wait > 0 ? wait : 0);
  }

  #startFlush(): void {
    // An armed time-trigger timer is left alone: when it fires, pump() re-checks
    // what is due. Clearing and re-creating it per batch costs more than a
    // spurious wake-up per interval.
    const batch = this.#held.take(this.#batchSize);
    const seqs = this.#held.takeSeqs(batch.length);
    if (this.#held.ring.size === 0) this.#flushTimer?.unref();
    const job = new FlushJob(batch, seqs);
    this.#jobs.add(job);
    this.#inFlightItems += batch.length;
    // The attempt starts before room is made: making room hands Node's queued
    // items to _write, which may start a later batch, and that one must not
    // reach flush first (FIFO into flush).
    this.#runAttempt(job);
    this.#host.onRoom();
  }

  #runAttempt(job: FlushJob<T>): void {
    if (!this.#jobs.has(job) || this.#host.isClosed()) return;
    if (this.#circuit !== null) {
      // Told to wait (behind an older batch, or for the breaker): not an attempt, no retry spent.
      if (!this.#circuit.admit(job)) return;
      // admit() may have announced half-open: a 'circuit' listener that destroyed the stream
      // has dead-lettered this batch, which must then never reach flush.
      if (!this.#jobs.has(job) || this.#host.isClosed()) return;
    }
    job.attempt++;
    const token = ++this.#tokenSeq;
    job.token = token;
    const context = new FlushAttemptContext(job.attempt);
    job.context = context;
    job.startedAt = Date.now();
    // An attempt in flight keeps the process alive until it settles or times out.
    if (this.#watchdog !== null) this.#watchdog.ref();
    else if (this.#o.flushTimeoutMs !== Infinity) this.#watchdog = setTimeout(this.#onWatchdog, this.#o.flushTimeoutMs);
    this.#adaptive?.armStallCheck();
    const flush = this.#o.flush;
    // flush gets its own copy: whatever it does to the array (splice it into chunks, sort it, empty
    // it) never reaches the job's batch, which alone is retried, dead-lettered and counted.
    const batch = job.batch.slice();
    // Every outcome is settled asynchronously, a synchronous throw or value included. Promise.resolve
    // returns a native promise as it is: one promise and one reaction per attempt, not three.
    let settled: Promise<unknown>;
    try {
      settled = Promise.resolve(flush(batch, context));
    } catch (error) {
      settled = Promise.reject(error);
    }
    settled.then(
      (result) => this.#settleAttempt(job, token, result, undefined),
      (error: unknown) => this.#settleAttempt(job, token, undefined, rejectionError(error)),
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
    const outcome =
      error === undefined ? interpretFlushResult(result, job.batch) : { delivered: 0, retry: job.batch, error };
    this.counters.eventsFlushed += outcome.delivered;
    this.#inFlightItems -= outcome.delivered;
    const attempted = job.batch;
    const settledSeqs = job.keepOnly(outcome.retry, outcome.delivered);
    // Settled before any listener runs, like the count: the source may acknowledge at once.
    if (outcome.delivered > 0 && (this.#o.onSettled !== undefined || settledSeqs !== null))
      this.#host.settled(outcome.partlyDelivered ?? attempted.slice(), settledSeqs);
    if (outcome.delivered > 0) this.#pressure.rearmBlockTimerOnProgress();
    if (outcome.error === undefined) {
      this.#jobs.delete(job);
      this.counters.flushes++;
      this.counters.lastFlushLatencyMs = latencyMs;
      this.#adaptInterval(latencyMs);
      if (this.#adaptive !== null) {
        const backlogged = this.#held.ring.size >= this.#batchSize || this.#held.queuedSize > 0 || this.#held.isFull();
        this.#adaptive.onSuccess(now, outcome.delivered, latencyMs, backlogged);
        this.#followAdaptive();
      }
      this.#breaker?.success();
      this.#host.emit('flush', { items: outcome.delivered, latencyMs, attempt: job.attempt } satisfies FlushEvent);
      this.pump();
      return;
    }
    this.counters.failedFlushes++;
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
    this.#host.deadLetter(job.batch, failure, job.seqs);
    this.pump();
  }

  #followAdaptive(): void {
    const adaptive = this.#adaptive;
    if (adaptive === null) return;
    this.#batchSize = adaptive.batchSize;
    this.#concurrency = adaptive.concurrency;
  }

  #anyAttemptRunning(): boolean {
    for (const job of this.#jobs) if (job.context !== null) return true;
    return false;
  }

  #scheduleRetry(job: FlushJob<T>, error: Error): void {
    const delayMs = retryDelayMs(job.attempt, this.#o.retry, error);
    this.counters.eventsRetried += job.batch.length;
    // Armed before the event: a listener that destroys the stream clears it with the job.
    job.timer = setTimeout(this.#runAttemptOf, delayMs, job);
    this.#host.emit('retry', { items: job.batch.length, attempt: job.attempt, delayMs, error } satisfies RetryEvent);
  }

  #adaptInterval(latencyMs: number): void {
    const { targetLatencyMs, minFlushIntervalMs, maxFlushIntervalMs } = this.#o;
    if (latencyMs > targetLatencyMs * 1.5) {
      this.#currentIntervalMs = Math.min(this.#currentIntervalMs * 1.5, maxFlushIntervalMs);
    } else if (latencyMs < targetLatencyMs * 0.5) {
      this.#currentIntervalMs = Math.max(this.#currentIntervalMs * 0.8, minFlushIntervalMs);
    }
  }
}
