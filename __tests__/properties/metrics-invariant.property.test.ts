/**
 * Whatever a producer and a sink do to it, BackpressureWritable never loses
 * count of an item. fast-check drives random schedules — writes that respect
 * or ignore write()'s return, flushes that succeed, reject (retryable or not),
 * partially fail (with failedItems, or only `failed > 0`) or time out, timers
 * advancing, cork/uncork, end(), destroy(); with concurrency 1–3 and with or
 * without a circuit breaker — and after every step (and the nextTicks and
 * microtasks it caused) checks:
 *   - conservation: eventsAccepted === eventsFlushed + eventsDropped + eventsDeadLettered + bufferSize + inFlight,
 *     with every counter equal to what the sink and the 'dead-letter' listener actually saw;
 *   - the buffer bound, when the producer respects write() === false;
 *   - write() returns false exactly while the state is 'blocked', and 'drain' comes once it is left;
 *   - the state is one the documented hysteresis allows for the utilization, and every transition is
 *     the one the rules prescribe (entering at a threshold, leaving below threshold − hysteresis);
 *   - order: fresh batches are consecutive slices of the written order; a retry resends exactly the
 *     failed items of an earlier attempt of the same batch (never of a non-retryable failure or after
 *     the retries are spent); nothing is acknowledged twice; with concurrency 1 items that were never
 *     retried are acknowledged in written order;
 *   - liveness: with nothing in flight and nothing corked, a buffered item is handed to flush within
 *     maxFlushIntervalMs;
 * and once the stream is ended and all timers run: it closes, every written item was delivered or
 * dead-lettered exactly once (to onDeadLetter, or in the stream error's `items`), and no timer is left.
 */
import fc from 'fast-check';
import { expectConserved } from '../helpers/core-helpers';
import { fcParams, pendingCalls, pickPending, scheduleProperty, useScheduleTimers } from '../helpers/schedule-runner';
import { settle } from '../helpers/settle';
import { LEVELS, expectedLevel, wrongTransition } from '../helpers/watermark-oracle';
import {
  BackpressureWritable,
  ErrorCodes,
  isBackpressureError,
  type BackpressureWritableOptions,
  type FlushContext,
  type FlushResult,
  type StateChange,
} from '../../lib';

const MAX_FLUSH_INTERVAL_MS = 1000;

interface Config {
  maxBufferSize: number;
  batchSize: number;
  concurrency: number;
  lowWatermark: number;
  highWatermark: number;
  hysteresis: number;
  retries: number;
  minDelayMs: number;
  flushTimeoutMs: number;
  drainTimeoutMs: number;
  minFlushIntervalMs: number;
  maxBlockTimeMs: number | undefined;
  circuitBreaker: { failureThreshold: number; cooldownMs: number } | undefined;
  withDeadLetter: boolean;
  /** The producer never writes after write() === false until 'drain'. */
  respectful: boolean;
  /** After the schedule: keep acknowledging flushes, or let the sink hang (timeouts, retries, drain timeout). */
  finale: 'deliver' | 'stall';
}

type Command =
  | { kind: 'write'; count: number; respect: boolean }
  | { kind: 'resolve'; pick: number }
  | { kind: 'reject'; pick: number; retryable: boolean }
  | { kind: 'partial'; pick: number; mask: boolean[] }
  | { kind: 'failed-only'; pick: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'cork' }
  | { kind: 'uncork' }
  | { kind: 'end' }
  | { kind: 'destroy' };

interface FlushCall {
  batch: number[];
  attempt: number;
  signal: AbortSignal;
  resolve: (result: void | FlushResult<number>) => void;
  reject: (error: Error) => void;
  settled: boolean;
  /** Fake-clock time the attempt started. */
  startedAt: number;
  /** Failed (by the test or by a timeout): a later attempt may resend its failed items, once. */
  retryable: boolean;
  /** Exactly what a retry must resend (undefined: the whole batch). */
  failedItems: number[] | undefined;
}

const configArb: fc.Arbitrary<Config> = fc.integer({ min: 2, max: 20 }).chain((maxBufferSize) =>
  fc.record({
    maxBufferSize: fc.constant(maxBufferSize),
    batchSize: fc.integer({ min: 1, max: maxBufferSize }),
    concurrency: fc.constantFrom(1, 1, 2, 3),
    lowWatermark: fc.constantFrom(0.3, 0.5, 0.6),
    highWatermark: fc.constantFrom(0.7, 0.8, 0.95, 1),
    hysteresis: fc.constantFrom(0, 0.05, 0.1, 0.25),
    retries: fc.integer({ min: 0, max: 2 }),
    minDelayMs: fc.integer({ min: 1, max: 50 }),
    flushTimeoutMs: fc.integer({ min: 200, max: 3000 }),
    drainTimeoutMs: fc.integer({ min: 0, max: 5000 }),
    minFlushIntervalMs: fc.integer({ min: 0, max: 100 }),
    maxBlockTimeMs: fc.option(fc.integer({ min: 100, max: 3000 }), { nil: undefined, freq: 4 }),
    circuitBreaker: fc.option(
      fc.record({ failureThreshold: fc.integer({ min: 1, max: 3 }), cooldownMs: fc.integer({ min: 50, max: 2000 }) }),
      { nil: undefined, freq: 3 },
    ),
    withDeadLetter: fc.boolean(),
    respectful: fc.boolean(),
    finale: fc.constantFrom<'deliver' | 'stall'>('deliver', 'stall'),
  }),
);

const pick = fc.nat({ max: 5 });
const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      count: fc.integer({ min: 1, max: 12 }),
      respect: fc.boolean(),
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('resolve' as const), pick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reject' as const), pick, retryable: fc.boolean() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('partial' as const),
      pick,
      mask: fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('failed-only' as const), pick }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 1500 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'cork' as const }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'uncork' as const }) },
  // Rare: either one ends the interesting part of the schedule.
  { weight: 1, arbitrary: fc.constant({ kind: 'end' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'destroy' as const }) },
);

/** Everything the test knows about one run, next to the stream under test. */
class Harness {
  readonly w: BackpressureWritable<number>;
  readonly written: number[] = [];
  readonly acked: number[] = [];
  readonly deadLettered: number[] = [];
  readonly handed: number[] = []; // what onDeadLetter received
  readonly retried = new Set<number>();
  readonly calls: FlushCall[] = [];
  readonly stateEvents: StateChange[] = [];
  readonly errors: unknown[] = [];
  readonly violations: string[] = [];
  waitingForDrain = false;
  ignoredBackpressure = false;
  closed = false;
  ended = false;
  #next = 0;
  /** The oldest written item no fresh batch has carried yet, and every item a fresh batch carried. */
  #freshCursor = 0;
  readonly #carried = new Set<number>();

  constructor(readonly config: Config) {
    const options: BackpressureWritableOptions<number> = {
      flush: (batch, ctx) => this.#onFlush(batch, ctx),
      maxBufferSize: config.maxBufferSize,
      batchSize: config.batchSize,
      concurrency: config.concurrency,
      lowWatermark: config.lowWatermark,
      highWatermark: config.highWatermark,
      hysteresis: config.hysteresis,
      minFlushIntervalMs: config.minFlushIntervalMs,
      maxFlushIntervalMs: MAX_FLUSH_INTERVAL_MS,
      targetLatencyMs: 200,
      retry: { retries: config.retries, minDelayMs: config.minDelayMs, maxDelayMs: 400 },
      flushTimeoutMs: config.flushTimeoutMs,
      drainTimeoutMs: config.drainTimeoutMs,
    };
    if (config.maxBlockTimeMs !== undefined) options.maxBlockTimeMs = config.maxBlockTimeMs;
    if (config.circuitBreaker !== undefined) options.circuitBreaker = config.circuitBreaker;
    if (config.withDeadLetter) options.onDeadLetter = (items) => void this.handed.push(...items);
    this.w = new BackpressureWritable<number>(options);
    this.w.on('state', (change: StateChange) => this.stateEvents.push(change));
    this.w.on('dead-letter', (event: { items: number[] }) => this.deadLettered.push(...event.items));
    this.w.on('drain', () => (this.waitingForDrain = false));
    this.w.on('error', (err: unknown) => this.errors.push(err));
    this.w.on('close', () => (this.closed = true));
  }

  /** Attempts the stream is waiting on, oldest first (an aborted one has been given up on). */
  get pending(): FlushCall[] {
    return pendingCalls(this.calls);
  }

  #onFlush(batch: number[], ctx: FlushContext): Promise<void | FlushResult<number>> {
    // Violations are recorded, not thrown: a throw here would only look like a failed flush.
    const running = this.pending.length;
    if (running >= this.config.concurrency)
      this.violations.push(`flush called with ${running} attempts already running`);
    if (batch.length === 0 || batch.length > this.config.batchSize) this.violations.push(`batch of ${batch.length}`);
    if (ctx.attempt === 1) {
      // Items are written as 0, 1, 2, …: a fresh batch is a run of consecutive items no batch carried before,
      // and (FIFO into flush) the run starting at the oldest item not yet carried.
      const first = batch[0] ?? -1;
      const consecutive = batch.every(
        (item, i) => item === first + i && !this.#carried.has(item) && item < this.written.length,
      );
      if (!consecutive) this.violations.push(`fresh batch [${batch}] is not a run of written, not yet flushed items`);
      if (first !== this.#freshCursor) {
        this.violations.push(
          `fresh batch [${batch}] overtook the batch starting at ${this.#freshCursor} (FIFO into flush)`,
        );
      }
      for (const item of batch) this.#carried.add(item);
      while (this.#carried.has(this.#freshCursor)) this.#freshCursor++;
    } else {
      // The earlier attempt of this batch: items are unique, so its failed set identifies it.
      const origin = this.calls.find(
        (call) => call.attempt === ctx.attempt - 1 && sameItems(call.failedItems ?? call.batch, batch),
      );
      if (origin === undefined) this.violations.push(`attempt ${ctx.attempt} [${batch}] retries nothing that failed`);
      else if (!origin.retryable)
        this.violations.push(`attempt ${ctx.attempt} [${batch}] retries a failure that must not be retried`);
      else origin.retryable = false; // consumed: a failure is retried at most once
      if (ctx.attempt > this.config.retries + 1)
        this.violations.push(`attempt ${ctx.attempt} exceeds retries ${this.config.retries}`);
      for (const item of batch) this.retried.add(item);
    }
    const signal = ctx.signal;
    return new Promise((resolve, reject) => {
      const call: FlushCall = {
        batch: [...batch],
        attempt: ctx.attempt,
        signal,
        resolve,
        reject,
        settled: false,
        startedAt: Date.now(),
        retryable: false,
        failedItems: undefined,
      };
      // A timed-out attempt is retried whole (a destroyed stream retries nothing, so marking it too is harmless).
      signal.addEventListener('abort', () => {
        if (!call.settled) call.retryable = true;
        if (isBackpressureError(signal.reason, ErrorCodes.FLUSH_TIMEOUT))
          this.#checkTimeout(call, Date.now() - call.startedAt);
      });
      this.calls.push(call);
    });
  }

  /**
   * A timeout aborts an attempt exactly flushTimeoutMs after it started (the clock is fake, so this is exact).
   */
  #checkTimeout(call: FlushCall, elapsed: number): void {
    const limit = this.config.flushTimeoutMs;
    const late = elapsed !== limit;
    if (late) this.violations.push(`attempt [${call.batch}] timed out after ${elapsed} ms (flushTimeoutMs ${limit})`);
  }

  async run(command: Command): Promise<void> {
    const { w } = this;
    const open = (): boolean => !w.destroyed && !this.ended;
    switch (command.kind) {
      case 'write': {
        for (let i = 0; i < command.count && open(); i++) {
          const respect = this.config.respectful || command.respect;
          if (this.waitingForDrain) {
            if (respect) break;
            this.ignoredBackpressure = true;
          }
          const item = this.#next++;
          this.written.push(item);
          const ok = w.write(item);
          if (ok !== (w.state !== 'blocked')) this.violations.push(`write() returned ${ok} in state ${w.state}`);
          if (!ok) this.waitingForDrain = true;
        }
        break;
      }
      case 'resolve': {
        const call = await pickPending(this.calls, command.pick);
        if (call !== undefined) this.#settle(call, undefined);
        break;
      }
      case 'reject': {
        const call = await pickPending(this.calls, command.pick);
        if (call !== undefined) {
          call.settled = true;
          call.retryable = command.retryable;
          call.reject(Object.assign(new Error('sink rejected'), command.retryable ? {} : { retryable: false }));
        }
        break;
      }
      case 'partial': {
        const call = await pickPending(this.calls, command.pick);
        if (call !== undefined) {
          // A real partial failure: at least one item fails and, in a batch of two or more, at least one is delivered.
          const mask = call.batch.map((_, i) => command.mask[i % command.mask.length] === true);
          if (mask.every(Boolean)) mask[0] = false;
          if (!mask.some(Boolean)) mask[mask.length - 1] = true;
          const failedItems = call.batch.filter((_, i) => mask[i]);
          this.#settle(call, {
            success: call.batch.length - failedItems.length,
            failed: failedItems.length,
            errors: [new Error('some failed')],
            failedItems,
          });
        }
        break;
      }
      case 'failed-only': {
        const call = await pickPending(this.calls, command.pick);
        if (call !== undefined) this.#settle(call, { success: 0, failed: call.batch.length, errors: [] });
        break;
      }
      case 'advance':
        await jest.advanceTimersByTimeAsync(command.ms);
        await settle(8);
        await this.#checkLiveness();
        break;
      case 'cork':
        if (open()) w.cork();
        break;
      case 'uncork':
        if (w.writableCorked > 0) w.uncork();
        break;
      case 'end':
        if (open()) {
          this.ended = true;
          w.end();
        }
        break;
      case 'destroy':
        w.destroy();
        break;
    }
    await settle(8);
  }

  /** Settles an attempt the way a sink would; records what the stream must count as delivered. */
  #settle(call: FlushCall, result: FlushResult<number> | undefined): void {
    call.settled = true;
    if (result === undefined) {
      this.acked.push(...call.batch);
    } else if (result.failedItems !== undefined) {
      const failed = new Set(result.failedItems);
      this.acked.push(...call.batch.filter((item) => !failed.has(item)));
      call.failedItems = result.failedItems;
      call.retryable = result.failedItems.length > 0;
    } else {
      call.retryable = true; // failed > 0 without failedItems: nothing counts as delivered, the whole batch is retried
    }
    call.resolve(result);
  }

  /** With nothing in flight and nothing corked, buffered items must reach flush within maxFlushIntervalMs. */
  async #checkLiveness(): Promise<void> {
    const { w } = this;
    const stuck = (): boolean => {
      const m = w.getMetrics();
      return !w.destroyed && w.writableCorked === 0 && m.inFlight === 0 && m.bufferSize > 0;
    };
    if (!stuck()) return;
    await jest.advanceTimersByTimeAsync(MAX_FLUSH_INTERVAL_MS);
    await settle(8);
    if (stuck())
      this.violations.push(`${w.getMetrics().bufferSize} buffered item(s) not flushed within maxFlushIntervalMs`);
  }

  /** Everything that must hold between any two steps. */
  check(): void {
    const { w, config } = this;
    expect(this.violations).toEqual([]);
    const m = w.getMetrics();
    expectConserved(m);
    expect(m.eventsAccepted).toBe(this.written.length);
    expect(m.eventsFlushed).toBe(this.acked.length);
    expect(m.eventsDeadLettered).toBe(this.deadLettered.length);
    expect(m.eventsDropped).toBe(0);
    expect(m.bufferUtilization).toBeCloseTo(m.bufferSize / config.maxBufferSize, 10);
    if (!this.ignoredBackpressure) expect(m.bufferSize).toBeLessThanOrEqual(config.maxBufferSize);
    const pending = this.pending;
    expect(m.inFlightBatches).toBeLessThanOrEqual(config.concurrency);
    expect(m.inFlightBatches).toBeGreaterThanOrEqual(pending.length);
    expect(m.inFlight).toBeGreaterThanOrEqual(pending.reduce((n, call) => n + call.batch.length, 0));
    expect(m.inFlight).toBeLessThanOrEqual(config.batchSize * config.concurrency);
    const overdue = config.concurrency === 1 ? config.flushTimeoutMs : 2 * config.flushTimeoutMs; // see #checkTimeout
    for (const call of pending) expect(Date.now() - call.startedAt).toBeLessThan(overdue);

    // The state machine: while open, a state the hysteresis rules allow at this utilization; draining/closed after.
    if (w.destroyed) {
      expect(w.state).toBe('closed');
    } else if (this.ended) {
      expect(['draining', 'closed']).toContain(w.state);
    } else {
      const level = LEVELS.indexOf(w.state);
      expect(level).toBeGreaterThanOrEqual(0);
      expect({
        state: w.state,
        utilization: m.bufferUtilization,
        expected: LEVELS[expectedLevel(level, m.bufferUtilization, config)],
      }).toEqual({
        state: w.state,
        utilization: m.bufferUtilization,
        expected: w.state,
      });
      // 'drain' is owed as soon as the state leaves 'blocked'.
      if (w.state !== 'blocked') expect(this.waitingForDrain).toBe(false);
    }
    for (const change of this.stateEvents) {
      expect({ change, expected: wrongTransition(change, config) }).toEqual({ change, expected: undefined });
    }
    const closedAt = this.stateEvents.findIndex((change) => change.to === 'closed');
    if (closedAt !== -1) expect(this.stateEvents.length).toBe(closedAt + 1);

    // Nothing acknowledged twice, nor dead-lettered after delivery.
    expect(new Set(this.acked).size).toBe(this.acked.length);
    expect(new Set(this.deadLettered).size).toBe(this.deadLettered.length);
    const acked = new Set(this.acked);
    expect(this.deadLettered.filter((item) => acked.has(item))).toEqual([]);
    if (config.concurrency === 1) {
      const inOrder = this.acked.filter((item) => !this.retried.has(item));
      expect(inOrder).toEqual([...inOrder].sort((a, b) => a - b));
    }
  }

  /** End the stream and let every timer run until it closes; then everything written is accounted for. */
  async finish(): Promise<void> {
    const { w } = this;
    if (!w.destroyed) {
      while (w.writableCorked > 0) w.uncork();
      if (!this.ended) {
        this.ended = true;
        w.end();
      }
    }
    await settle(8);
    for (let round = 0; round < 100 && !this.closed; round++) {
      if (this.config.finale === 'deliver') for (const call of this.pending) this.#settle(call, undefined);
      await settle(8);
      this.check();
      await jest.advanceTimersByTimeAsync(500);
      await settle(8);
      this.check();
    }
    expect(this.closed).toBe(true);
    expect(w.state).toBe('closed');
    const m = w.getMetrics();
    expect(m.bufferSize).toBe(0);
    expect(m.inFlight).toBe(0);
    // Every written item was delivered or dead-lettered, exactly once.
    expect([...this.acked, ...this.deadLettered].sort((a, b) => a - b)).toEqual(this.written);
    if (this.config.withDeadLetter) {
      expect(this.handed).toEqual(this.deadLettered);
    } else {
      const handedBack = this.errors.flatMap((err) => (isBackpressureError(err) ? (err.items ?? []) : []));
      expect(handedBack).toEqual(this.deadLettered);
    }
    // A closed stream leaves no timer behind.
    expect(jest.getTimerCount()).toBe(0);
  }
}

function sameItems(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((item, i) => item === b[i]);
}

useScheduleTimers();

test('metrics stay conserved, bounded and consistent with the state machine under any schedule', async () => {
  await fc.assert(
    scheduleProperty(
      configArb,
      commandArb,
      50,
      (config) => new Harness(config),
      (h) => h.finish(),
    ),
    fcParams(Number(process.env['FC_RUNS'] ?? 100)),
  );
});
