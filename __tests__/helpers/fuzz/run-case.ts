/**
 * Runs one fuzz case under Jest's fake clock and checks it, item by item.
 *
 * Time: the case installs fake timers (nextTick and microtasks stay real, as in jest.config.js) and
 * fires ONE timer at a time through the fake clock, then waits for a real `setImmediate`, so every
 * nextTick and microtask the timer caused has run — exactly Node's order, without real waiting. A
 * 1 ms interval timer samples the invariant on every virtual millisecond, and every step (each timer
 * and its consequences) is sampled again with the stronger checks. Everything random (the case, the
 * sink's answers, the library's backoff jitter via Math.random) comes from the seed, so a seed
 * replays exactly.
 *
 * The oracle ("the stream's view"): a flush attempt is ACCEPTED when the sink answered it and its
 * signal was never aborted (an attempt the stream gave up on — timeout, destroy — is aborted before
 * the stream could read its answer, and its answer is then stale). An accepted answer delivers
 * exactly: the whole batch for `undefined` or a valid all-success FlushResult; the batch minus
 * `failedItems` for a valid partial result; nothing for a rejection, a throw or any invalid result.
 * Every item written must end exactly once as delivered by an accepted attempt, dropped (a 'drop'
 * event) or dead-lettered (a 'dead-letter' event, and also onDeadLetter when there is one, or the
 * emitted error's `items` when there is none or the handler failed).
 */
import { pipeline, Readable } from 'node:stream';
import {
  backpressure,
  BackpressureWritable,
  ErrorCodes,
  type BackpressureMetrics,
  type BackpressureOptions,
  type BackpressureWritableOptions,
  type CircuitChange,
  type DeadLetterEvent,
  type DropEvent,
  type FlushContext,
  type FlushResult,
  type StateChange,
  type StrategyWritable,
} from '../../../lib';
import {
  describeCase,
  generateCase,
  TIMER_MAX,
  type Control,
  type FuzzCase,
  type FuzzItem,
  type ListenerEvent,
  type SinkKind,
} from './fuzz-case';
import { Rng } from './rng';
import { SettledOracle } from './settled-oracle';

// Captured at load time, before any case installs fake timers.
const realSetImmediate = setImmediate;
const realNow = performance.now.bind(performance);

/** Virtual start time of every case (any fixed value: only differences matter). */
const T0 = 1_700_000_000_000;
/** Virtual ms a case may run at most (a bug that keeps a stream busy forever ends here). */
const VIRTUAL_CAP_MS = 60_000;
/** Real ms a case may run at most. */
const REAL_CAP_MS = 20_000;
/** After 'close', keep the clock running this long to see that late answers change nothing. */
const AFTER_CLOSE_MS = 300;

export type FailureKind =
  | 'invariant' // eventsAccepted !== flushed + dropped + deadLettered + bufferSize + inFlight
  | 'accepted' // eventsAccepted !== items the producer handed to write()
  | 'metric' // a counter disagrees with what the events and the sink saw
  | 'bound' // buffer / hold / in-flight / concurrency bound broken
  | 'identity' // an object that was never written, or twice in one batch
  | 'resend' // an item sent again after it was acknowledged, dropped, dead-lettered or failed for good
  | 'lost' // an item that ended as nothing
  | 'duplicate-outcome' // an item that ended as more than one thing
  | 'dead-letter-handler' // onDeadLetter did not get exactly the items of the 'dead-letter' events
  | 'error-items' // items the user can only get back through the error are not in it
  | 'drop-reason' // a reason the strategy does not document
  | 'drop-idle' // a hold-full drop while the writable sat empty and idle
  | 'sink-idle-blocked' // blocked, with nothing in flight: the sink sits idle while the producer waits
  | 'drain-owed' // left 'blocked' without 'drain' while a producer waits for it
  | 'write-return' // write() result disagrees with the documented rule
  | 'timer-overflow' // a timer over 2^31-1 ms was set (Node turns it into 1 ms)
  | 'timer-early' // a deadline (flush/drain/block timeout, circuit cooldown) fired before its time
  | 'circuit-events' // 'circuit' events the user sees disagree with circuitOpens
  | 'finish-with-items' // 'finish' while items are still held or in flight
  | 'stall' // items held or an end() pending, and nothing happens for longer than any timer allows
  | 'end-deadline' // end() did not finish within drainTimeoutMs (+ slow dead-letter handlers)
  | 'hang' // the case did not terminate
  | 'after-close' // a counter changed after 'close'
  | 'unexpected-error' // an error that is neither a BackpressureError nor the test's own
  | 'settled' // onSettled told something other than what settled, when it settled (see settled-oracle.ts)
  | 'crash'; // the library threw synchronously from a public method or a harness step failed

export interface Failure {
  kind: FailureKind;
  where: string;
  message: string;
  /** Virtual ms since the case started. */
  at: number;
  /** How many times this (kind, where) was seen. */
  count: number;
  /** The issue-10 defect this most likely reproduces, e.g. '#5' ('?' when none fits). */
  hint: string;
}

export interface CaseResult {
  seed: number;
  description: string;
  failures: Failure[];
  /** How the case ended: closed, options-rejected, gave-up (unbounded timers, destroyed by the harness), … */
  outcome: string;
  virtualMs: number;
  realMs: number;
  written: number;
  trace: string[];
}

export interface RunOptions {
  /** Keep the whole trace (otherwise only its last 60 lines). */
  verbose?: boolean;
  /** Builds the stream under test from the case's options (default: `backpressure(options)`); for testing the oracle itself. */
  create?: (options: BackpressureOptions<FuzzItem>) => BackpressureWritable<FuzzItem> | StrategyWritable<FuzzItem>;
}

type Composition = BackpressureWritable<FuzzItem> | StrategyWritable<FuzzItem>;

/** What the sink did with one call, and what the stream must count if it accepts the answer. */
interface Attempt {
  n: number;
  ids: number[];
  attempt: number;
  startedAt: number;
  startSeq: number;
  signal: AbortSignal;
  kind: SinkKind | 'pending';
  settled: boolean;
  settledSeq: number;
  /** Ids delivered if the stream accepts the answer. */
  delivered: number[];
  nonRetryable: boolean;
  /** The answer was not a FlushResult the stream may count as success. */
  invalid: boolean;
  badFailedItems: boolean;
  mutated: boolean;
  checked: boolean;
}

interface ItemLedger {
  written: boolean;
  writtenAt: number;
  /** The composition was corked when the item was written. */
  writtenCorked: boolean;
  drops: string[];
  dropSeq: number;
  dlEvents: number;
  dlSeq: number;
  dlHandler: number;
  dlHandlerFailed: number;
  errorItems: number;
  calls: number[];
  sizeRefused: boolean;
}

const HOLD_FULL_REASONS = new Set(['evicted-oldest', 'rejected-newest', 'overflow', 'evicted-priority']);
const ALLOWED_REASONS: Record<string, ReadonlySet<string>> = {
  block: new Set(),
  'drop-oldest': new Set(['evicted-oldest', 'destroyed']),
  'drop-newest': new Set(['rejected-newest', 'destroyed']),
  sample: new Set(['sampled-out', 'overflow', 'invalid-key', 'destroyed']),
  priority: new Set(['shed-priority', 'evicted-priority', 'overflow', 'invalid-priority', 'destroyed']),
};

class TestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FuzzTestError';
  }
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Codes of an error and its causes (a dead-letter error wraps the sink's). */
function codesOf(err: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e !== null && e !== undefined; depth++) {
    const code = codeOf(e);
    if (code !== undefined) codes.push(code);
    e = (e as { cause?: unknown }).cause;
  }
  return codes;
}

export async function runCase(seed: number, options: RunOptions = {}): Promise<CaseResult> {
  const c = generateCase(seed);
  const run = new CaseRun(c, options.verbose === true, options.create ?? ((o) => backpressure<FuzzItem>(o)));
  return run.run();
}

class CaseRun {
  readonly c: FuzzCase;
  readonly #verbose: boolean;
  readonly #trace: string[] = [];
  readonly #failures = new Map<string, Failure>();
  readonly #sinkRng: Rng;
  readonly #dlRng: Rng;
  readonly #producerRng: Rng;
  readonly #libraryRandom: Rng;
  readonly #sampleRandom: Rng;
  readonly #byId: FuzzItem[];
  readonly #ledger: ItemLedger[];
  readonly #attempts: Attempt[] = [];
  #w!: Composition;
  #bw!: BackpressureWritable<FuzzItem>;
  #seq = 0;
  #written = 0;
  #dropEvents = 0;
  #dlEventItems = 0;
  #outerCircuitOpens = 0;
  #innerOpenedAt = -1;
  #lastBlockedAt = -1;
  #endCalledAt = -1;
  #closedAt = -1;
  #finishedAt = -1;
  #errors: unknown[] = [];
  #userErrors = new Set<unknown>();
  #producerDone = false;
  #waitingForDrain = false;
  #drainWaiters: (() => void)[] = [];
  #drainOwedSteps = 0;
  /** A composition's write() said false at this virtual ms (the one-turn yield): 'drain' is owed before the clock moves on. */
  #yieldOwedSince = -1;
  #idleBlockedSince = -1;
  #listenerCounts = new Map<string, number>();
  #lastProgressKey = '';
  #lastProgressAt = 0;
  #gaveUp = false;
  #closedCounters: string | undefined;
  #start = 0;
  #clock: { next(): number; now: number } | undefined;
  #sampler: ReturnType<typeof setInterval> | undefined;
  #inListener = 0;
  #producerSleeps = 0;
  /** onDeadLetter calls that have returned or settled (progress, for the stall check). */
  #handlerSettled = 0;
  /** Invariant gaps seen inside listeners since the last step, and the listener checks whose gap was transient. */
  readonly #listenerGaps: { key: string; gap: number }[] = [];
  readonly #transientGaps = new Set<string>();
  /** Folding of repeated trace lines (see #log). */
  #runKey = '';
  #runFirst = '';
  #runCount = 0;

  readonly #create: (options: BackpressureOptions<FuzzItem>) => Composition;
  /** Checks onSettled, when the case installs it. */
  readonly #settled: SettledOracle | undefined;

  constructor(c: FuzzCase, verbose: boolean, create: (options: BackpressureOptions<FuzzItem>) => Composition) {
    this.c = c;
    this.#verbose = verbose;
    this.#create = create;
    const rng = new Rng(c.seed ^ 0x5bd1e995);
    this.#sinkRng = rng.fork();
    this.#dlRng = rng.fork();
    this.#producerRng = rng.fork();
    this.#libraryRandom = rng.fork();
    this.#sampleRandom = rng.fork();
    this.#byId = c.items;
    this.#ledger = c.items.map(() => ({
      written: false,
      writtenAt: -1,
      writtenCorked: false,
      drops: [],
      dropSeq: -1,
      dlEvents: 0,
      dlSeq: -1,
      dlHandler: 0,
      dlHandlerFailed: 0,
      errorItems: 0,
      calls: [],
      sizeRefused: false,
    }));
    this.#settled =
      c.settled === undefined
        ? undefined
        : new SettledOracle(
            {
              fail: (where, message) => this.#fail('settled', where, message),
              log: (line) => this.#log(line),
              ids: (items, where) => this.#ids(items, where),
              seq: () => ++this.#seq,
              acked: () => this.#acked(),
              checkInvariant: (where) => this.#checkInvariant(where),
              isDestroyed: () => this.#w.destroyed || this.#bw.destroyed,
            },
            c.settled,
            c.items.length,
          );
  }

  // ------------------------------------------------------------------ plumbing

  #now(): number {
    return Date.now() - this.#start;
  }

  #log(line: string, runKey?: string, runId?: string): void {
    const t = this.#now();
    // Consecutive drops at the same moment for the same reason fold into one line.
    if (runKey !== undefined && runKey === this.#runKey && this.#trace.length > 0) {
      this.#runCount++;
      this.#trace[this.#trace.length - 1] =
        `t=${t} ${runKey.replace('#', `${this.#runFirst}..${runId ?? ''}`)} ×${this.#runCount}`;
      return;
    }
    this.#runKey = runKey ?? '';
    this.#runFirst = runId ?? '';
    this.#runCount = 1;
    this.#trace.push(`t=${t} ${line}`);
    if (!this.#verbose && this.#trace.length > 400) this.#trace.splice(0, 200);
  }

  #fail(kind: FailureKind, where: string, message: string): void {
    const key = `${kind}|${where}`;
    const seen = this.#failures.get(key);
    if (seen !== undefined) {
      seen.count++;
      return;
    }
    this.#failures.set(key, {
      kind,
      where,
      message,
      at: this.#now(),
      count: 1,
      hint: this.#hint(kind, where, message),
    });
    this.#log(`FAIL ${kind} @${where}: ${message}`);
  }

  #idOf(item: unknown, where: string): number | undefined {
    const id = (item as { id?: unknown } | null)?.id;
    if (typeof id !== 'number' || this.#byId[id] !== item) {
      // The sink's own objects: ids ≤ -1000 come from a batch it mutated (#6), other negative ids and
      // copies of written items from a failedItems that was not a sub-multiset of the batch (#8).
      this.#fail('identity', where, `an object that was never written reached ${where}: ${safeJson(item)}`);
      const f = this.#failures.get(`identity|${where}`);
      if (f !== undefined && f.hint === '?') f.hint = typeof id === 'number' && id <= -1000 ? '#6' : '#8';
      return undefined;
    }
    return id;
  }

  #ids(items: readonly unknown[], where: string): number[] {
    const ids: number[] = [];
    for (const item of items) {
      const id = this.#idOf(item, where);
      if (id !== undefined) ids.push(id);
    }
    return ids;
  }

  // ------------------------------------------------------------------ the stream

  #options(): BackpressureOptions<FuzzItem> {
    const c = this.c;
    const o: BackpressureWritableOptions<FuzzItem> = {
      flush: this.#flush,
      maxBufferSize: c.maxBufferSize,
      batchSize: c.batchSize,
      concurrency: c.concurrency,
      retry: { retries: c.retries, minDelayMs: c.minDelayMs, maxDelayMs: c.maxDelayMs },
      flushTimeoutMs: c.flushTimeoutMs,
      drainTimeoutMs: c.drainTimeoutMs,
      minFlushIntervalMs: c.minFlushIntervalMs,
    };
    if (c.maxFlushIntervalMs !== undefined) o.maxFlushIntervalMs = c.maxFlushIntervalMs;
    if (c.targetLatencyMs !== undefined) o.targetLatencyMs = c.targetLatencyMs;
    if (c.maxBlockTimeMs !== undefined) o.maxBlockTimeMs = c.maxBlockTimeMs;
    if (c.watermarks !== undefined) Object.assign(o, c.watermarks);
    if (c.circuitBreaker !== undefined) o.circuitBreaker = c.circuitBreaker;
    if (c.adaptive !== undefined) o.adaptive = c.adaptive;
    if (c.deadLetter.mode !== 'none') o.onDeadLetter = this.#onDeadLetter;
    if (this.#settled !== undefined) o.onSettled = this.#settled.onSettled;
    if (c.bytes !== undefined) {
      const { maxBufferBytes, badSizeIds, badSizeMode } = c.bytes;
      const bad = new Set(badSizeIds);
      o.maxBufferBytes = maxBufferBytes;
      o.sizeOf = (item: FuzzItem): number => {
        if (!bad.has(item.id)) return item.size;
        const ledger = this.#ledger[item.id];
        if (ledger !== undefined) ledger.sizeRefused = true;
        if (badSizeMode === 'throw') throw new Error(`fuzz: sizeOf refuses item ${item.id}`);
        return badSizeMode === 'nan' ? Number.NaN : -1;
      };
    }
    // Each strategy takes exactly its own options (BackpressureOptions is a union on `strategy`).
    const capacity = c.capacity;
    switch (c.strategy) {
      case 'block':
        return { ...o, strategy: c.strategy };
      case 'drop-oldest':
      case 'drop-newest':
        return { ...o, strategy: c.strategy, capacity };
      case 'sample': {
        const sampling = {
          ...o,
          strategy: c.strategy,
          capacity,
          sampleRate: c.sampleRate,
          sampleThreshold: c.sampleThreshold,
        };
        if (c.sampleMode === 'random') {
          return { ...sampling, sampleMode: c.sampleMode, random: () => this.#sampleRandom.float() };
        }
        if (c.sampleMode === 'key') {
          const bad = new Set(c.badKeyIds);
          const sampleKey = (item: FuzzItem): unknown => {
            if (bad.has(item.id)) throw new Error(`fuzz: no key for ${item.id}`);
            return item.id % 7;
          };
          return { ...sampling, sampleMode: c.sampleMode, sampleKey };
        }
        return { ...sampling, sampleMode: c.sampleMode };
      }
      case 'priority': {
        const bad = new Set(c.badPriorityIds);
        const priority = (item: FuzzItem): number => {
          if (bad.has(item.id)) {
            if (item.id % 2 === 0) throw new Error(`fuzz: no priority for ${item.id}`);
            return Number.NaN;
          }
          return item.p;
        };
        return { ...o, strategy: c.strategy, capacity, priority, keepAtLeast: c.keepAtLeast };
      }
    }
  }

  #metrics(where: string): BackpressureMetrics | undefined {
    try {
      return this.#w.getMetrics();
    } catch (err) {
      this.#fail('crash', where, `getMetrics() threw: ${String(err)}`);
      return undefined;
    }
  }

  /** The invariant, and the account against what the producer wrote (every context). */
  #checkInvariant(where: string): BackpressureMetrics | undefined {
    const m = this.#metrics(where);
    if (m === undefined) return undefined;
    const sum = m.eventsFlushed + m.eventsDropped + m.eventsDeadLettered + m.bufferSize + m.inFlight;
    const gap = m.eventsAccepted - sum;
    if (where.startsWith('listener:')) {
      if (gap !== 0) this.#listenerGaps.push({ key: `invariant|${where}`, gap });
    } else if (where === 'step' || where === 'start') {
      // A gap seen inside a listener that is not the gap once the step is over was transient: the
      // account is off only while the event is emitted (#2), not broken for good.
      for (const g of this.#listenerGaps) if (g.gap !== gap) this.#transientGaps.add(g.key);
      this.#listenerGaps.length = 0;
    }
    if (m.eventsAccepted !== sum) {
      this.#fail(
        'invariant',
        where,
        `eventsAccepted ${m.eventsAccepted} !== ${sum} (flushed ${m.eventsFlushed} + dropped ${m.eventsDropped} + deadLettered ${m.eventsDeadLettered} + bufferSize ${m.bufferSize} + inFlight ${m.inFlight})${this.#w.destroyed ? ' [destroyed]' : ''}`,
      );
    }
    if (m.eventsAccepted !== this.#written) {
      this.#fail(
        'accepted',
        where,
        `eventsAccepted ${m.eventsAccepted} but ${this.#written} item(s) were handed to write()/end(item)${this.#w.writableCorked > 0 ? ' [corked]' : ''}`,
      );
    }
    return m;
  }

  #acked(): Map<number, number> {
    const acks = new Map<number, number>();
    for (const a of this.#attempts) {
      if (!a.settled || a.signal.aborted) continue;
      for (const id of a.delivered) acks.set(id, (acks.get(id) ?? 0) + 1);
    }
    return acks;
  }

  /** The stronger checks, once every microtask and nextTick of a step has run. */
  #checkStep(where: string): void {
    const m = this.#checkInvariant(where);
    if (m === undefined) return;
    let ackCount = 0;
    for (const n of this.#acked().values()) ackCount += n;
    if (m.eventsFlushed !== ackCount) {
      this.#fail(
        'metric',
        'eventsFlushed',
        `eventsFlushed ${m.eventsFlushed} but the sink acknowledged ${ackCount} item(s) in answers the stream accepted`,
      );
    }
    if (m.eventsDropped !== this.#dropEvents) {
      this.#fail('metric', 'eventsDropped', `eventsDropped ${m.eventsDropped} but ${this.#dropEvents} 'drop' event(s)`);
    }
    if (m.eventsDeadLettered !== this.#dlEventItems) {
      this.#fail(
        'metric',
        'eventsDeadLettered',
        `eventsDeadLettered ${m.eventsDeadLettered} but 'dead-letter' events carried ${this.#dlEventItems} item(s)`,
      );
    }
    this.#checkNewCalls();
    this.#checkBounds(m);
    this.#checkLiveness(m);
    if (this.#closedAt >= 0) {
      const counters = `${m.eventsAccepted}/${m.eventsFlushed}/${m.eventsDropped}/${m.eventsDeadLettered}/${m.bufferSize}/${m.inFlight}`;
      if (this.#closedCounters === undefined) this.#closedCounters = counters;
      else if (counters !== this.#closedCounters) {
        this.#fail(
          'after-close',
          where,
          `counters accepted/flushed/dropped/deadLettered/buffer/inFlight went ${this.#closedCounters} -> ${counters} after 'close'`,
        );
      }
      if (m.bufferSize !== 0 || m.inFlight !== 0)
        this.#fail('bound', 'closed', `closed with bufferSize ${m.bufferSize}, inFlight ${m.inFlight}`);
    }
  }

  #maxConcurrency(): number {
    const a = this.c.adaptive;
    if (a === undefined) return this.c.concurrency;
    return a === true ? Math.max(16, this.c.concurrency) : a.maxConcurrency;
  }

  #maxBatch(): number {
    const a = this.c.adaptive;
    if (a === undefined) return this.c.batchSize;
    return a === true ? this.c.maxBufferSize : a.maxBatchSize;
  }

  #checkBounds(m: BackpressureMetrics): void {
    const c = this.c;
    const inner = c.strategy === 'block' ? m : this.#bw.getMetrics();
    const respects = c.strategy !== 'block' || c.producer.kind !== 'loop' || c.producer.respect;
    if (respects && inner.bufferSize > c.maxBufferSize) {
      this.#fail(
        'bound',
        'bufferSize',
        `writable bufferSize ${inner.bufferSize} > maxBufferSize ${c.maxBufferSize} with a producer that respects write() === false`,
      );
    }
    if (respects && c.bytes !== undefined && inner.bufferBytes > c.bytes.maxBufferBytes + 20) {
      this.#fail(
        'bound',
        'bufferBytes',
        `bufferBytes ${inner.bufferBytes} > maxBufferBytes ${c.bytes.maxBufferBytes} + one item (≤ 20)`,
      );
    }
    const maxInFlight = this.#maxConcurrency() * this.#maxBatch();
    if (m.inFlight > maxInFlight)
      this.#fail('bound', 'inFlight', `inFlight ${m.inFlight} > concurrency × batchSize = ${maxInFlight}`);
    if (m.inFlightBatches > this.#maxConcurrency()) {
      this.#fail(
        'bound',
        'inFlightBatches',
        `inFlightBatches ${m.inFlightBatches} > concurrency ${this.#maxConcurrency()}`,
      );
    }
    if (c.strategy !== 'block') {
      const stage = (this.#w as StrategyWritable<FuzzItem>).stage.getMetrics();
      const allowed = c.capacity + (c.strategy === 'drop-oldest' && c.capacity === 1 ? 1 : 0);
      if (stage.held > allowed) this.#fail('bound', 'stage.held', `stage holds ${stage.held} > capacity ${c.capacity}`);
      if (stage.written !== stage.passed + stage.dropped + stage.held) {
        this.#fail(
          'invariant',
          'stage',
          `stage written ${stage.written} !== passed ${stage.passed} + dropped ${stage.dropped} + held ${stage.held}`,
        );
      }
    }
  }

  #checkLiveness(m: BackpressureMetrics): void {
    const c = this.c;
    const now = this.#now();
    const w = this.#w;
    // A producer waiting for 'drain' must get it once the state leaves 'blocked'.
    if (
      c.strategy === 'block' &&
      this.#waitingForDrain &&
      m.state !== 'blocked' &&
      w.writableCorked === 0 &&
      !w.destroyed &&
      !w.writableEnded
    ) {
      if (++this.#drainOwedSteps >= 3)
        this.#fail(
          'drain-owed',
          'drain',
          `state is '${m.state}' but no 'drain' for a producer waiting since write() returned false`,
        );
    } else this.#drainOwedSteps = 0;
    this.#checkYield(now);
    // Full (by items or bytes) means flush now: full with nothing in flight leaves the sink idle while the producer waits.
    const inner = c.strategy === 'block' ? m : this.#bw.getMetrics();
    const corked = c.strategy === 'block' ? w.writableCorked > 0 : false;
    const full =
      inner.bufferSize >= c.maxBufferSize || (c.bytes !== undefined && inner.bufferBytes >= c.bytes.maxBufferBytes);
    if (
      full &&
      inner.state === 'blocked' &&
      inner.inFlightBatches === 0 &&
      !corked &&
      !this.#bw.destroyed &&
      inner.bufferSize > 0
    ) {
      if (this.#idleBlockedSince < 0) this.#idleBlockedSince = now;
      else if (now - this.#idleBlockedSince >= 2) {
        this.#fail(
          'sink-idle-blocked',
          'blocked',
          `blocked (bufferSize ${inner.bufferSize}, bufferBytes ${inner.bufferBytes}, batchSize ${inner.batchSize}) with no batch in flight for ${now - this.#idleBlockedSince} ms`,
        );
      }
    } else this.#idleBlockedSince = -1;
    // Something must happen while items are held or end() is pending.
    const key = `${m.eventsAccepted}/${m.eventsFlushed}/${m.eventsDropped}/${m.eventsDeadLettered}/${this.#attempts.length}/${this.#settledCount()}/${m.state}/${m.circuitState}/${this.#handlerSettled}`;
    if (key !== this.#lastProgressKey) {
      this.#lastProgressKey = key;
      this.#lastProgressAt = now;
      return;
    }
    const pending =
      m.bufferSize + m.inFlight > 0 || !this.#producerDone || (this.#endCalledAt >= 0 && this.#closedAt < 0);
    if (!pending || this.#closedAt >= 0 || w.writableCorked > 0 || this.#producerSleeps > 0) {
      this.#lastProgressAt = now;
      return;
    }
    const window = this.#stallWindow(m);
    // With a timer the case cannot wait for (honoured as asked), waiting is legitimate: give up after 3 s.
    const unbounded = window === Infinity;
    if (now - this.#lastProgressAt <= (unbounded ? 3000 : window)) return;
    if (unbounded) {
      this.#giveUp(
        `nothing happened for ${now - this.#lastProgressAt} ms with unbounded timers (${this.c.extremes.join(', ')})`,
      );
      return;
    }
    this.#fail(
      'stall',
      'progress',
      `nothing happened for ${now - this.#lastProgressAt} ms (bufferSize ${m.bufferSize}, inFlight ${m.inFlight}, state ${m.state}, waiting for drain ${this.#waitingForDrain}, end() pending ${this.#endCalledAt >= 0})`,
    );
    this.#giveUp('stalled');
  }

  /**
   * The one-turn yield ends on the next setImmediate. Under the fake clock an immediate runs before
   * any timer of a later virtual ms, so once the clock has moved past the moment write() said false,
   * 'drain' must have been emitted — unless the stream was ended (nothing more can be written: the
   * yield is cancelled) or destroyed since.
   */
  #checkYield(now: number): void {
    if (this.#yieldOwedSince < 0) return;
    const w = this.#w;
    if (w.destroyed || w.writableEnded) {
      this.#yieldOwedSince = -1;
      return;
    }
    if (now > this.#yieldOwedSince) {
      this.#fail(
        'write-return',
        'drain',
        `write() returned false at t=${this.#yieldOwedSince} (the one-turn yield) and no 'drain' followed by t=${now}`,
      );
      this.#yieldOwedSince = -1;
    }
  }

  #settledCount(): number {
    let n = 0;
    for (const a of this.#attempts) if (a.settled || a.signal.aborted) n++;
    return n;
  }

  /** Timers the case cannot wait for: the stream may legitimately wait on them (once honoured). */
  #unbounded(): boolean {
    return this.c.extremes.length > 0;
  }

  /** The longest a healthy stream holding items can go without anything observable happening. */
  #stallWindow(m: BackpressureMetrics): number {
    const c = this.c;
    const sinkWait = c.flushTimeoutMs + c.sink.maxDelayMs;
    const breaker = c.circuitBreaker === undefined ? 0 : c.circuitBreaker.cooldownMs;
    const interval = this.#endCalledAt >= 0 ? 0 : m.currentFlushIntervalMs;
    const drain = this.#endCalledAt >= 0 ? Math.min(c.drainTimeoutMs, 10_000) : 0;
    const window = sinkWait + c.maxDelayMs + breaker + interval + drain + c.deadLetter.maxDelayMs + 100;
    return window > 60_000 ? Infinity : window;
  }

  #giveUp(why: string): void {
    if (this.#gaveUp || this.#w.destroyed) return;
    this.#gaveUp = true;
    this.#log(`harness gives up and destroys: ${why}`);
    this.#destroy(false, 'harness');
  }

  #checkNewCalls(): void {
    for (const a of this.#attempts) {
      if (a.checked) continue;
      a.checked = true;
      this.#settled?.checkSent(a.ids, a.n, a.startSeq);
      const seen = new Set<number>();
      for (const id of a.ids) {
        if (seen.has(id)) this.#fail('identity', 'flush', `item ${id} twice in one batch (call ${a.n})`);
        seen.add(id);
        const l = this.#ledger[id] as ItemLedger;
        if (!l.written) this.#fail('identity', 'flush', `item ${id} reached flush but was never written`);
        if (l.drops.length > 0 && l.dropSeq < a.startSeq)
          this.#fail('resend', 'flush', `item ${id} reached flush after it was dropped (${l.drops.join(',')})`);
        if (l.dlEvents > 0 && l.dlSeq < a.startSeq)
          this.#fail('resend', 'flush', `item ${id} reached flush after it was dead-lettered`);
      }
      for (const b of this.#attempts) {
        if (b === a || !b.settled || b.signal.aborted || b.settledSeq > a.startSeq) continue;
        for (const id of b.delivered) {
          if (seen.has(id))
            this.#fail(
              'resend',
              'flush',
              `item ${id} reached flush (call ${a.n}) after call ${b.n} (${b.kind}) delivered it`,
            );
        }
        if (b.nonRetryable) {
          for (const id of b.ids) {
            if (seen.has(id))
              this.#fail(
                'resend',
                'flush',
                `item ${id} retried (call ${a.n}) after a non-retryable failure (call ${b.n})`,
              );
          }
        }
      }
    }
  }

  // ------------------------------------------------------------------ the sink

  readonly #flush = (batch: FuzzItem[], ctx: FlushContext): Promise<void | FlushResult<FuzzItem>> => {
    const c = this.c;
    const rng = this.#sinkRng;
    const signal = ctx.signal;
    const ids = this.#ids(batch, 'flush');
    if (batch.length === 0)
      this.#fail('identity', 'flush (empty batch)', `flush was called with an empty batch (attempt ${ctx.attempt})`);
    const a: Attempt = {
      n: this.#attempts.length,
      ids,
      attempt: ctx.attempt,
      startedAt: this.#now(),
      startSeq: ++this.#seq,
      signal,
      kind: 'pending',
      settled: false,
      settledSeq: -1,
      delivered: [],
      nonRetryable: false,
      invalid: false,
      badFailedItems: false,
      mutated: false,
      checked: false,
    };
    this.#attempts.push(a);
    for (const id of ids) (this.#ledger[id] as ItemLedger).calls.push(a.n);
    let open = 0;
    for (const b of this.#attempts) if (!b.settled && !b.signal.aborted) open++;
    if (open > this.#maxConcurrency())
      this.#fail('bound', 'concurrency', `${open} flush calls open at once > concurrency ${this.#maxConcurrency()}`);
    signal.addEventListener('abort', () => {
      const code = codeOf(signal.reason);
      this.#log(`abort call ${a.n} (${code ?? String(signal.reason)})`);
      if (code === ErrorCodes.FLUSH_TIMEOUT && this.#now() - a.startedAt < c.flushTimeoutMs) {
        this.#fail(
          'timer-early',
          'flushTimeoutMs',
          `attempt aborted as timed out after ${this.#now() - a.startedAt} ms, flushTimeoutMs is ${c.flushTimeoutMs}`,
        );
      }
    });
    const kind = rng.weighted(c.sink.weights) as SinkKind;
    a.kind = kind;
    const delay = c.sink.maxDelayMs === 0 || rng.chance(0.35) ? 0 : rng.int(1, c.sink.maxDelayMs);
    this.#log(
      `flush call ${a.n} attempt ${ctx.attempt} [${ids.join(',')}] -> ${kind}${delay > 0 ? ` in ${delay} ms` : ''}`,
    );

    const settle = (delivered: number[]): void => {
      a.settled = true;
      a.settledSeq = ++this.#seq;
      a.delivered = delivered;
    };
    const answer = <V>(value: V, delivered: number[], ms = delay): Promise<V> => {
      if (ms === 0) {
        settle(delivered);
        return Promise.resolve(value);
      }
      return new Promise<V>((resolve) =>
        setTimeout(() => {
          settle(delivered);
          resolve(value);
        }, ms),
      );
    };
    const refuse = (error: unknown, ms = delay): Promise<never> => {
      if (ms === 0) {
        settle([]);
        return Promise.reject(error);
      }
      return new Promise<never>((_resolve, reject) =>
        setTimeout(() => {
          settle([]);
          reject(error);
        }, ms),
      );
    };
    const all = ids.slice();
    const cast = <V>(p: Promise<V>): Promise<void | FlushResult<FuzzItem>> =>
      p as unknown as Promise<void | FlushResult<FuzzItem>>;

    switch (kind) {
      case 'ok':
        return answer(undefined, all);
      case 'ok-result':
        return answer({ success: batch.length, failed: 0, errors: [] }, all);
      case 'reject':
        return refuse(new Error('fuzz: sink failed'));
      case 'reject-nonretryable':
        a.nonRetryable = true;
        return refuse(Object.assign(new Error('fuzz: sink refused for good'), { retryable: false }));
      case 'reject-retry-after':
        return refuse(Object.assign(new Error('fuzz: sink busy'), { retryAfterMs: rng.int(0, 30) }));
      case 'reject-non-error':
        return refuse('fuzz: a string, not an Error');
      case 'throw-sync':
        settle([]);
        throw new Error('fuzz: flush threw synchronously');
      case 'hang': {
        const honours = rng.chance(c.sink.honoursAbort);
        return new Promise((_resolve, reject) => {
          if (!honours) return;
          signal.addEventListener('abort', () => {
            settle([]);
            reject(signal.reason);
          });
        });
      }
      case 'late': {
        const ms = Math.min(c.flushTimeoutMs, 500) + rng.int(0, 20);
        return answer(undefined, all, ms);
      }
      case 'partial': {
        const failedItems: FuzzItem[] = [];
        const delivered: number[] = [];
        for (const item of batch) {
          if (rng.chance(0.5)) failedItems.push(item);
          else delivered.push(item.id);
        }
        const errors = failedItems.length > 0 ? [new Error('fuzz: some items failed')] : [];
        return answer({ success: delivered.length, failed: failedItems.length, errors, failedItems }, delivered);
      }
      case 'partial-no-items': {
        const failed = rng.int(1, Math.max(1, batch.length));
        return answer(
          { success: batch.length - failed, failed, errors: [new Error('fuzz: failed without failedItems')] },
          [],
        );
      }
      case 'invalid': {
        a.invalid = true;
        const variant = rng.int(0, 8);
        const values: unknown[] = [
          {},
          { ok: false },
          new Error('fuzz: down (resolved, not thrown)'),
          typeof Response === 'function'
            ? new Response('fuzz: internal error', { status: 500 })
            : { ok: false, status: 500 },
          { ok: false, status: 500, statusText: 'Internal Server Error' },
          'ok',
          42,
          { success: batch.length, failed: -1, errors: [] },
          { success: 0, failed: 'all', errors: [] },
        ];
        return cast(answer(values[variant], []));
      }
      case 'bad-failed-items': {
        a.badFailedItems = true;
        const first = batch[0];
        const foreign = { id: -1 - a.n, p: 0, size: 1 };
        const variant = first === undefined ? 0 : rng.int(0, 3);
        const failedItems =
          variant === 0
            ? [foreign]
            : variant === 1
              ? [first as FuzzItem, first as FuzzItem]
              : variant === 2
                ? batch.map((item) => ({ ...item }))
                : [...batch, foreign];
        return cast(
          answer(
            { success: 0, failed: failedItems.length, errors: [new Error('fuzz: bad failedItems')], failedItems },
            [],
          ),
        );
      }
      case 'splice-ok': {
        a.mutated = true;
        const chunk = rng.int(1, 3);
        while (batch.length > 0) batch.splice(0, chunk);
        return answer(undefined, all);
      }
      case 'splice-throw': {
        a.mutated = true;
        const chunk = rng.int(1, 3);
        const failAt = rng.int(0, Math.ceil(ids.length / chunk));
        for (let i = 0; batch.length > 0; i++) {
          batch.splice(0, chunk);
          if (i === failAt) break;
        }
        return refuse(new Error('fuzz: a chunk failed'));
      }
      case 'mutate-ok': {
        a.mutated = true;
        const foreign = { id: -1000 - a.n, p: 0, size: 1 };
        switch (rng.int(0, 3)) {
          case 0:
            batch.reverse();
            break;
          case 1:
            batch.length = 0;
            break;
          case 2:
            batch.fill(foreign);
            break;
          default:
            batch.push(foreign);
        }
        return answer(undefined, all);
      }
    }
  };

  // ------------------------------------------------------------------ dead letters

  readonly #onDeadLetter = (items: FuzzItem[], error: Error): void | Promise<void> => {
    const c = this.c;
    const rng = this.#dlRng;
    const ids = this.#ids(items, 'onDeadLetter');
    for (const id of ids) (this.#ledger[id] as ItemLedger).dlHandler++;
    const mode = c.deadLetter.mode;
    const fails = mode === 'fail' || (mode === 'flaky' && rng.chance(0.3));
    const delay = mode === 'slow' || rng.chance(0.3) ? rng.int(0, c.deadLetter.maxDelayMs) : 0;
    this.#log(
      `onDeadLetter [${ids.join(',')}] (${codeOf(error) ?? error.message}) -> ${fails ? 'fails' : 'ok'}${delay > 0 ? ` in ${delay} ms` : ''}`,
    );
    if (c.deadLetter.mutates) items.length = 0;
    const markFailed = (): void => {
      for (const id of ids) (this.#ledger[id] as ItemLedger).dlHandlerFailed++;
    };
    if (delay === 0) {
      if (fails) {
        markFailed();
        this.#handlerSettled++;
        throw new Error('fuzz: onDeadLetter failed (sync)');
      }
      this.#handlerSettled++;
      this.#settled?.deadLetterResolved(ids);
      return undefined;
    }
    return new Promise<void>((resolve, reject) =>
      setTimeout(() => {
        this.#handlerSettled++;
        if (fails) {
          markFailed();
          reject(new Error('fuzz: onDeadLetter failed (async)'));
        } else {
          this.#settled?.deadLetterResolved(ids);
          resolve();
        }
      }, delay),
    );
  };

  // ------------------------------------------------------------------ listeners

  #listen(): void {
    const w = this.#w;
    const c = this.c;
    const on = (event: string, fn: (payload: unknown) => void): void => {
      w.on(event, (payload: unknown) => {
        this.#inListener++;
        try {
          fn(payload);
          this.#checkInvariant(`listener:${event}`);
        } finally {
          this.#inListener--;
        }
        this.#maybeDestroyIn(event);
      });
    };
    on('drop', (payload) => {
      const { item, reason } = payload as DropEvent<FuzzItem>;
      this.#dropEvents++;
      const id = this.#idOf(item, "'drop'");
      this.#log(`drop ${id} (${reason})`, `drop # (${reason})`, String(id));
      if (!(ALLOWED_REASONS[c.strategy] as ReadonlySet<string>).has(reason)) {
        this.#fail('drop-reason', reason, `strategy '${c.strategy}' dropped with reason '${reason}'`);
      }
      if (id !== undefined) {
        const l = this.#ledger[id] as ItemLedger;
        l.drops.push(reason);
        l.dropSeq = ++this.#seq;
      }
      if (HOLD_FULL_REASONS.has(reason)) {
        const inner = this.#bw.getMetrics();
        if (
          inner.bufferSize === 0 &&
          inner.inFlight === 0 &&
          inner.state === 'normal' &&
          !this.#bw.destroyed &&
          !this.#bw.writableEnded
        ) {
          this.#fail(
            'drop-idle',
            reason,
            `dropped item ${id} as '${reason}' while the writable was empty, idle and 'normal'`,
          );
        }
      }
    });
    on('dead-letter', (payload) => {
      const { items, error } = payload as DeadLetterEvent<FuzzItem>;
      const ids = this.#ids(items, "'dead-letter'");
      this.#dlEventItems += items.length;
      this.#log(`dead-letter [${ids.join(',')}] ${codesOf(error).join('<') || error.message}`);
      for (const id of ids) {
        const l = this.#ledger[id] as ItemLedger;
        l.dlEvents++;
        l.dlSeq = ++this.#seq;
      }
      this.#checkDeadlineCodes(error, "'dead-letter'");
    });
    on('state', (payload) => {
      const change = payload as StateChange;
      this.#log(`state ${change.from} -> ${change.to} (${change.utilization.toFixed(2)})`);
      if (change.to === 'blocked') this.#lastBlockedAt = this.#now();
    });
    on('flush', () => undefined);
    on('retry', () => undefined);
    on('circuit', (payload) => {
      const change = payload as CircuitChange;
      if (change.to === 'open') this.#outerCircuitOpens++;
    });
    on('drain', () => {
      this.#yieldOwedSince = -1;
      this.#waitingForDrain = false;
      for (const wake of this.#drainWaiters.splice(0)) wake();
    });
    on('error', (err) => {
      this.#errors.push(err);
      this.#log(`error ${codesOf(err).join('<') || String(err)} items=${safeIds(err)}`);
      this.#collectErrorItems(err);
      this.#checkDeadlineCodes(err, "'error'");
      const code = codeOf(err) ?? '';
      if (!this.#userErrors.has(err) && !code.startsWith('ERR_BACKPRESSURE_')) {
        this.#fail('unexpected-error', code === '' ? String(err) : code, `the stream emitted ${String(err)}`);
      }
      for (const wake of this.#drainWaiters.splice(0)) wake();
    });
    on('finish', () => {
      this.#finishedAt = this.#now();
      this.#log('finish');
      const m = this.#metrics('finish');
      if (m !== undefined && (m.bufferSize !== 0 || m.inFlight !== 0)) {
        this.#fail('finish-with-items', 'finish', `'finish' with bufferSize ${m.bufferSize}, inFlight ${m.inFlight}`);
      }
    });
    on('close', () => {
      this.#closedAt = this.#now();
      this.#log('close');
      for (const wake of this.#drainWaiters.splice(0)) wake();
    });
    if (this.c.rogueListeners) {
      // Registered after the harness's own: a user listener that empties the array it was given.
      w.on('dead-letter', (event: DeadLetterEvent<FuzzItem>) => {
        event.items.length = 0;
      });
    }
    // Timer honesty of the circuit breaker, on the writable itself (a composition may not forward it).
    this.#bw.on('circuit', (change: CircuitChange) => {
      this.#log(`circuit ${change.from} -> ${change.to}`);
      if (change.to === 'open') this.#innerOpenedAt = this.#now();
      if (change.from === 'open' && change.to === 'half-open' && c.circuitBreaker !== undefined) {
        if (this.#now() - this.#innerOpenedAt < c.circuitBreaker.cooldownMs) {
          this.#fail(
            'timer-early',
            'circuitBreaker.cooldownMs',
            `half-open ${this.#now() - this.#innerOpenedAt} ms after opening, cooldownMs is ${c.circuitBreaker.cooldownMs}`,
          );
        }
      }
    });
  }

  #checkDeadlineCodes(err: unknown, where: string): void {
    const codes = codesOf(err);
    const now = this.#now();
    if (
      codes.includes(ErrorCodes.DRAIN_TIMEOUT) &&
      this.#endCalledAt >= 0 &&
      now - this.#endCalledAt < this.c.drainTimeoutMs
    ) {
      this.#fail(
        'timer-early',
        'drainTimeoutMs',
        `${where} with ERR_BACKPRESSURE_DRAIN_TIMEOUT ${now - this.#endCalledAt} ms after end(), drainTimeoutMs is ${this.c.drainTimeoutMs}`,
      );
    }
    const maxBlock = this.c.maxBlockTimeMs;
    if (
      codes.includes(ErrorCodes.BLOCK_TIMEOUT) &&
      maxBlock !== undefined &&
      this.#lastBlockedAt >= 0 &&
      now - this.#lastBlockedAt < maxBlock
    ) {
      this.#fail(
        'timer-early',
        'maxBlockTimeMs',
        `${where} with ERR_BACKPRESSURE_BLOCK_TIMEOUT ${now - this.#lastBlockedAt} ms after blocking, maxBlockTimeMs is ${maxBlock}`,
      );
    }
  }

  #collectErrorItems(err: unknown): void {
    const found = new Set<unknown>();
    const visit = (e: unknown, depth: number): void => {
      if (e === null || e === undefined || depth > 3) return;
      const items = (e as { items?: unknown }).items;
      if (Array.isArray(items)) for (const item of items) found.add(item);
      const errors = (e as { errors?: unknown }).errors;
      if (Array.isArray(errors)) for (const inner of errors) visit(inner, depth + 1);
      visit((e as { cause?: unknown }).cause, depth + 1);
    };
    visit(err, 0);
    for (const item of found) {
      const id = this.#idOf(item, "an error's items");
      if (id !== undefined) (this.#ledger[id] as ItemLedger).errorItems++;
    }
  }

  #maybeDestroyIn(event: string): void {
    const d = this.c.destroyInListener;
    if (d === undefined || d.event !== (event as ListenerEvent)) return;
    const count = (this.#listenerCounts.get(event) ?? 0) + 1;
    this.#listenerCounts.set(event, count);
    if (count === d.nth) this.#destroy(d.withError, `inside '${event}'`);
  }

  #destroy(withError: boolean, why: string): void {
    if (this.#w.destroyed) return;
    this.#log(`destroy(${withError ? 'error' : ''}) ${why}`);
    try {
      if (withError) {
        const err = new TestError(`fuzz: destroyed by the test (${why})`);
        this.#userErrors.add(err);
        this.#w.destroy(err);
      } else this.#w.destroy();
    } catch (err) {
      this.#fail('crash', 'destroy', `destroy() threw: ${String(err)}`);
    }
  }

  // ------------------------------------------------------------------ the producer

  #instrumentWrite(): void {
    const w = this.#w;
    const original = w.write;
    const strategy = this.c.strategy;
    // Every write, the producer's own and pipe()'s, is counted here, before the stream sees it.
    const wrapped = (chunk: unknown, encoding?: unknown, callback?: unknown): boolean => {
      if (!w.destroyed && !w.writableEnded) this.#record(chunk);
      let result: boolean;
      try {
        result = (original as (...args: unknown[]) => boolean).call(w, chunk, encoding, callback);
      } catch (err) {
        this.#fail('crash', 'write', `write() threw: ${String(err)}`);
        return false;
      }
      if (!w.destroyed && !w.writableEnded) {
        if (strategy === 'block') {
          if (result !== (w.state !== 'blocked')) {
            this.#fail('write-return', 'write', `write() returned ${result} in state '${w.state}'`);
          }
        } else if (!result) {
          // The one-turn yield (docs/strategies.md, "How each stage decides"): a composition may say
          // false, corked or not, but it took the item all the same, and 'drain' is owed on the next
          // setImmediate whatever the sink does (checked in #checkYield).
          if (this.#yieldOwedSince < 0) this.#yieldOwedSince = this.#now();
          const m = this.#metrics('write');
          if (m !== undefined && m.eventsAccepted !== this.#written) {
            this.#fail(
              'write-return',
              w.writableCorked > 0 ? 'write (corked)' : 'write',
              `write() returned false and refused the item: eventsAccepted ${m.eventsAccepted}, ${this.#written} written${w.writableCorked > 0 ? ' [corked]' : ''}`,
            );
          }
        }
      }
      return result;
    };
    (w as unknown as { write: typeof wrapped }).write = wrapped;
  }

  #record(chunk: unknown): void {
    const id = (chunk as { id?: unknown } | null)?.id;
    if (typeof id !== 'number') return;
    const l = this.#ledger[id];
    if (l === undefined || l.written) return;
    l.written = true;
    l.writtenAt = this.#now();
    l.writtenCorked = this.#w.writableCorked > 0;
    this.#written++;
  }

  #stopped(): boolean {
    return this.#w.destroyed || this.#w.writableEnded;
  }

  #end(item?: FuzzItem): void {
    if (this.#stopped()) return;
    if (this.#endCalledAt < 0) this.#endCalledAt = this.#now();
    this.#log(item === undefined ? 'end()' : `end(${item.id})`);
    try {
      if (item === undefined) this.#w.end();
      else {
        this.#record(item);
        this.#w.end(item);
      }
    } catch (err) {
      this.#fail('crash', 'end', `end() threw: ${String(err)}`);
    }
  }

  #control(k: Control): void {
    const w = this.#w;
    switch (k.action) {
      case 'cork': {
        if (this.#stopped()) break;
        const times = k.twice === true ? 2 : 1;
        this.#log(`cork() x${times}`);
        for (let i = 0; i < times; i++) w.cork();
        if (k.uncorkAfterMs !== undefined) {
          setTimeout(() => {
            for (let i = 0; i < times && !w.destroyed && w.writableCorked > 0; i++) {
              this.#log('uncork()');
              w.uncork();
            }
          }, k.uncorkAfterMs);
        }
        if (k.destroyAfterMs !== undefined)
          setTimeout(() => this.#destroy(false, 'corked, never uncorked'), k.destroyAfterMs);
        break;
      }
      case 'destroy':
        this.#destroy(false, 'control');
        break;
      case 'destroy-error':
        this.#destroy(true, 'control');
        break;
      case 'end':
        this.#end();
        break;
    }
  }

  #runWriteControls(writes: number): void {
    for (const k of this.c.controls) if (k.afterWrites === writes) this.#control(k);
  }

  #pause(): Promise<void> {
    const p = this.c.producer;
    switch (p.pause) {
      case 'none':
        return Promise.resolve();
      case 'microtask':
        return Promise.resolve().then(() => undefined);
      case 'tick':
        return new Promise((resolve) => process.nextTick(resolve));
      case 'sleep':
        return this.#producerSleep(this.#producerRng.int(0, p.pauseMaxMs));
    }
  }

  /** The producer pausing on purpose: not a stall of the stream. */
  #producerSleep(ms: number): Promise<void> {
    this.#producerSleeps++;
    return new Promise<void>((resolve) => setTimeout(resolve, ms)).then(() => {
      this.#producerSleeps--;
    });
  }

  #waitForDrain(): Promise<void> {
    if (this.#w.destroyed || this.#closedAt >= 0) return Promise.resolve();
    this.#waitingForDrain = true;
    return new Promise<void>((resolve) => this.#drainWaiters.push(resolve)).then(() => {
      this.#waitingForDrain = false;
    });
  }

  async #produce(): Promise<void> {
    const c = this.c;
    const items = c.items;
    if (c.producer.kind !== 'loop') {
      await this.#producePipeline();
      return;
    }
    let endedWithItem = false;
    for (let i = 0; i < items.length; i++) {
      this.#runWriteControls(i);
      if (this.#stopped()) break;
      const item = items[i] as FuzzItem;
      if (c.endMode === 'end-item' && i === items.length - 1) {
        this.#end(item);
        endedWithItem = true;
        break;
      }
      const ok = this.#w.write(item);
      if (!ok && c.producer.respect && !this.#stopped()) await this.#waitForDrain();
      if ((i + 1) % c.producer.burst === 0) await this.#pause();
    }
    this.#runWriteControls(items.length);
    if (endedWithItem || this.#stopped()) return;
    if (c.endMode === 'none') {
      // The user never calls end(): the stream is destroyed later, with whatever it still holds.
      const wait = this.#producerRng.int(0, 200);
      await this.#producerSleep(wait);
      this.#destroy(false, 'producer never ends');
      return;
    }
    this.#end();
  }

  #producePipeline(): Promise<void> {
    const c = this.c;
    const items = c.items;
    const rng = this.#producerRng;
    const sleep = (ms: number): Promise<void> => this.#producerSleep(ms);
    const burst = c.producer.burst;
    const pauseMaxMs = c.producer.pauseMaxMs;
    let source: Readable | (() => AsyncGenerator<FuzzItem>);
    switch (c.producer.kind) {
      case 'pipeline-array':
        source = Readable.from(items);
        break;
      case 'pipeline-timed':
        source = async function* timed(): AsyncGenerator<FuzzItem> {
          for (let i = 0; i < items.length; i++) {
            yield items[i] as FuzzItem;
            if ((i + 1) % burst === 0) await sleep(rng.int(0, pauseMaxMs));
          }
        };
        break;
      default:
        // A chain of microtasks only, like an async generator over an in-memory source.
        source = async function* fast(): AsyncGenerator<FuzzItem> {
          for (const item of items) yield item;
        };
    }
    return new Promise<void>((resolve) => {
      // pipeline() calls end() on the stream: note the moment for the end() deadline.
      const w = this.#w;
      const originalEnd = w.end;
      (w as unknown as { end: (...args: unknown[]) => unknown }).end = (...args: unknown[]): unknown => {
        if (this.#endCalledAt < 0 && !w.destroyed) {
          this.#endCalledAt = this.#now();
          this.#log('end() by pipeline');
        }
        return (originalEnd as (...a: unknown[]) => unknown).apply(w, args);
      };
      pipeline(source as Readable, w, (err) => {
        this.#log(`pipeline done${err ? `: ${codeOf(err) ?? String(err)}` : ''}`);
        resolve();
      });
    });
  }

  // ------------------------------------------------------------------ driving the clock

  #settle(): Promise<void> {
    return new Promise((resolve) => realSetImmediate(resolve));
  }

  #step(): void {
    if (this.#clock !== undefined) this.#clock.next();
    else jest.advanceTimersToNextTimer();
  }

  async run(): Promise<CaseResult> {
    const realStart = realNow();
    jest.useFakeTimers({ now: T0, doNotFake: ['nextTick', 'queueMicrotask'] });
    const randomSpy = jest.spyOn(Math, 'random').mockImplementation(() => this.#libraryRandom.float());
    this.#start = T0;
    let outcome = 'closed';
    try {
      this.#clock = (globalThis.setTimeout as unknown as { clock?: { next(): number; now: number } }).clock;
      this.#watchTimers();
      try {
        this.#w = this.#create(this.#options());
      } catch (err) {
        outcome = 'options-rejected';
        this.#checkOptionError(err);
        return this.#result(outcome, realStart);
      }
      this.#bw =
        this.#w instanceof BackpressureWritable
          ? this.#w
          : (this.#w as StrategyWritable<FuzzItem>).backpressureWritable;
      this.#listen();
      this.#instrumentWrite();
      for (const k of this.c.controls) if (k.atMs !== undefined) setTimeout(() => this.#control(k), k.atMs);
      this.#sampler = setInterval(() => {
        if (this.#inListener === 0) this.#checkInvariant('every 1 ms');
      }, 1);
      const producing = this.#produce().then(
        () => {
          this.#producerDone = true;
        },
        (err: unknown) => {
          this.#producerDone = true;
          this.#fail('crash', 'producer', `the producer failed: ${String(err)}`);
        },
      );
      void producing;
      await this.#settle();
      this.#checkStep('start');
      for (;;) {
        const now = this.#now();
        if (this.#closedAt >= 0 && this.#producerDone && now - this.#closedAt >= AFTER_CLOSE_MS) break;
        if (now > VIRTUAL_CAP_MS) {
          this.#fail('hang', 'virtual', `still running after ${VIRTUAL_CAP_MS} virtual ms`);
          outcome = 'hang';
          break;
        }
        if (realNow() - realStart > REAL_CAP_MS) {
          this.#fail('hang', 'real', `still running after ${REAL_CAP_MS} real ms (virtual t=${now})`);
          outcome = 'hang';
          break;
        }
        this.#checkEndDeadline();
        this.#step();
        await this.#settle();
        this.#checkStep('step');
      }
      if (this.#sampler !== undefined) clearInterval(this.#sampler);
      if (outcome !== 'hang') this.#finalChecks();
      if (this.#gaveUp) outcome = 'gave-up';
      else if (outcome === 'closed')
        outcome =
          this.#errors.length > 0
            ? `errored(${codeOf(this.#errors[0]) ?? 'test'})`
            : this.#finishedAt >= 0
              ? 'finished'
              : 'destroyed';
      return this.#result(outcome, realStart);
    } catch (err) {
      this.#fail(
        'crash',
        'harness',
        `the harness failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
      );
      return this.#result('crash', realStart);
    } finally {
      for (const undo of this.#unwatch) undo();
      randomSpy.mockRestore();
      jest.useRealTimers();
    }
  }

  readonly #unwatch: (() => void)[] = [];

  /** Node turns any delay over 2^31-1 ms into 1 ms: such a timer is never what the option meant. */
  #watchTimers(): void {
    const g = globalThis as unknown as Record<string, unknown>;
    for (const name of ['setTimeout', 'setInterval'] as const) {
      const fake = g[name] as (fn: unknown, ms?: unknown, ...args: unknown[]) => unknown;
      this.#unwatch.push(() => {
        g[name] = fake;
      });
      const watched = (fn: unknown, ms?: unknown, ...args: unknown[]): unknown => {
        if (typeof ms === 'number' && ms > TIMER_MAX) {
          this.#fail(
            'timer-overflow',
            name,
            `${name}(…, ${ms}) — Node runs it after 1 ms (TimeoutOverflowWarning); options: ${this.c.extremes.join(', ')}`,
          );
        }
        return fake(fn, ms, ...args);
      };
      Object.assign(watched, fake);
      g[name] = watched;
    }
  }

  #checkOptionError(err: unknown): void {
    const code = codeOf(err);
    const message = err instanceof Error ? err.message : String(err);
    // Only a value Node cannot represent may be refused (2^31-1 itself must be honoured), and the message must name it.
    const named = this.c.extremes.some((name) => !name.includes('=') && message.includes(name));
    if (
      (err instanceof RangeError || err instanceof TypeError) &&
      (code === 'ERR_OUT_OF_RANGE' || code === 'ERR_INVALID_ARG_TYPE') &&
      named
    ) {
      this.#log(`options rejected as expected: ${message}`);
      return;
    }
    this.#fail('crash', 'constructor', `the options were refused: ${String(err)} (code ${code ?? 'none'})`);
  }

  #checkEndDeadline(): void {
    const c = this.c;
    if (this.#endCalledAt < 0 || this.#closedAt >= 0 || this.#unbounded()) return;
    const limit = c.drainTimeoutMs + 2 * c.deadLetter.maxDelayMs + 20;
    if (this.#now() - this.#endCalledAt > limit) {
      this.#fail(
        'end-deadline',
        'end',
        `end() at t=${this.#endCalledAt} has not finished after ${this.#now() - this.#endCalledAt} ms (drainTimeoutMs ${c.drainTimeoutMs})`,
      );
    }
  }

  // ------------------------------------------------------------------ the verdict

  #finalChecks(): void {
    const c = this.c;
    const m = this.#metrics('final');
    const acks = this.#acked();
    const userErrorWon = this.#errors.some((e) => this.#userErrors.has(e));
    const hasHandler = c.deadLetter.mode !== 'none';
    for (let id = 0; id < this.#ledger.length; id++) {
      const l = this.#ledger[id] as ItemLedger;
      const ack = acks.get(id) ?? 0;
      if (!l.written) {
        if (ack + l.drops.length + l.dlEvents + l.errorItems > 0)
          this.#fail('identity', 'final', `item ${id} was never written but has an outcome`);
        continue;
      }
      const dead = l.dlEvents > 0 || l.errorItems > 0 ? 1 : 0;
      const outcomes = ack + l.drops.length + Math.max(l.dlEvents, dead);
      const story = this.#story(id, l, ack);
      // One failure entry per (kind, cause): items lost for different reasons are reported separately.
      const fail = (kind: FailureKind, where: string, message: string): void => {
        const cause = this.#itemCause(id, where);
        this.#fail(kind, `${where} ${cause}`, message);
        const f = this.#failures.get(`${kind}|${where} ${cause}`);
        if (f !== undefined) f.hint = cause;
      };
      if (outcomes === 0)
        fail('lost', 'final', `item ${id} was never acknowledged, dropped or dead-lettered: ${story}`);
      if (outcomes > 1) fail('duplicate-outcome', 'final', `item ${id} ended ${outcomes} times: ${story}`);
      if (l.errorItems > 0 && l.dlEvents === 0)
        fail(
          'error-items',
          'no-event',
          `item ${id} came back in an error's items without a 'dead-letter' event: ${story}`,
        );
      if (hasHandler && l.dlHandler !== l.dlEvents) {
        fail(
          'dead-letter-handler',
          'final',
          `item ${id}: onDeadLetter got it ${l.dlHandler} time(s), 'dead-letter' events ${l.dlEvents}: ${story}`,
        );
      }
      if (l.dlHandlerFailed > 0 && l.errorItems === 0) {
        fail(
          'error-items',
          'handler-failed',
          `item ${id}: onDeadLetter failed on it and no emitted error carries it: ${story}`,
        );
      }
      if (!hasHandler && l.dlEvents > 0 && l.errorItems === 0 && !userErrorWon) {
        fail(
          'error-items',
          'no-handler',
          `item ${id} was dead-lettered without onDeadLetter and no emitted error carries it: ${story}`,
        );
      }
    }
    // If onDeadLetter failed, its ERR_BACKPRESSURE_DEAD_LETTER_FAILED is the stream's one error, whatever
    // else it was failing with (docs/writable.md, "Ending and destroying").
    if (this.#ledger.some((l) => l.dlHandlerFailed > 0)) {
      const codes = this.#errors.map((e) => codeOf(e) ?? String(e));
      if (codes.length !== 1 || codes[0] !== ErrorCodes.DEAD_LETTER_FAILED) {
        const userErrorWon = this.#errors.some((e) => this.#userErrors.has(e));
        this.#fail(
          'error-items',
          'handler-failed-code',
          `onDeadLetter failed but the stream emitted [${codes.join(', ')}], not one ERR_BACKPRESSURE_DEAD_LETTER_FAILED`,
        );
        const f = this.#failures.get('error-items|handler-failed-code');
        if (f !== undefined) f.hint = c.strategy !== 'block' && userErrorWon ? 'N1' : '#7';
      }
    }
    this.#settled?.finalCheck(this.#ledger, this.#errors, {
      deadLetterHandlerFailed: this.#ledger.some((l) => l.dlHandlerFailed > 0),
      userErrorWon,
    });
    if (m !== undefined) {
      if (m.eventsAccepted !== this.#written)
        this.#fail('accepted', 'final', `eventsAccepted ${m.eventsAccepted} but ${this.#written} written`);
      if (m.bufferSize !== 0 || m.inFlight !== 0)
        this.#fail('bound', 'final', `ended with bufferSize ${m.bufferSize}, inFlight ${m.inFlight}`);
      if (c.circuitBreaker !== undefined && m.circuitOpens !== this.#outerCircuitOpens) {
        this.#fail(
          'circuit-events',
          'circuit',
          `circuitOpens ${m.circuitOpens} but the stream emitted ${this.#outerCircuitOpens} 'circuit' event(s) to 'open'`,
        );
      }
    }
  }

  #anyAccepted(test: (a: Attempt) => boolean): boolean {
    return this.#attempts.some((a) => a.settled && !a.signal.aborted && test(a));
  }

  #story(id: number, l: ItemLedger, ack: number): string {
    const calls = l.calls.map((n) => {
      const a = this.#attempts[n] as Attempt;
      return `#${n}:${a.kind}${a.signal.aborted ? '(aborted)' : a.settled ? '' : '(open)'}`;
    });
    const parts = [`written t=${l.writtenAt}${l.writtenCorked ? ' while corked' : ''}`];
    if (l.sizeRefused) parts.push('sizeOf refused it');
    if (calls.length > 0) parts.push(`calls ${calls.join(' ')}`);
    parts.push(`acks ${ack}`);
    if (l.drops.length > 0) parts.push(`drops ${l.drops.join(',')}`);
    parts.push(
      `dead-letter events ${l.dlEvents}, onDeadLetter ${l.dlHandler} (failed ${l.dlHandlerFailed}), in errors ${l.errorItems}`,
    );
    return parts.join('; ');
  }

  /** Best guess at the issue-10 defect a failure reproduces, from what the case did (refined in #result). */
  #hint(kind: FailureKind, where: string, message: string): string {
    switch (kind) {
      case 'timer-overflow':
      case 'timer-early':
        return '#1';
      case 'sink-idle-blocked':
        return '#10';
      case 'drop-idle':
        return '#11';
      case 'circuit-events':
        return '#12';
      case 'invariant':
        // Inside a listener while the stream is being destroyed: #2, unless the account is also off between events.
        return where.startsWith('listener:') && (this.#w?.destroyed || this.#bw?.destroyed) ? '#2?' : '?';
      case 'stall':
        return this.c.bytes !== undefined ? '#10' : '?';
      case 'accepted':
      case 'write-return':
        return this.c.strategy !== 'block' &&
          (message.includes('[corked]') || this.#ledger.some((l) => l.writtenCorked))
          ? '#4'
          : '?';
      default:
        return '?';
    }
  }

  /** Why one item went missing (or came back wrong), from its own history; `where` names the check. */
  #itemCause(id: number, where: string): string {
    const c = this.c;
    const l = this.#ledger[id] as ItemLedger;
    const composition = c.strategy !== 'block';
    const userErrorWon = this.#errors.some((e) => this.#userErrors.has(e));
    if (where === 'handler-failed') {
      // onDeadLetter failed on it: the error must carry it. A composition reports the caller's own
      // destroy(err) instead (N1); otherwise the failure came after the stream had already failed (#7).
      return composition && userErrorWon ? 'N1' : '#7';
    }
    if (composition && l.writtenCorked) return '#4';
    const attempts = l.calls.map((n) => this.#attempts[n] as Attempt);
    // Taken in by the stage, never reached flush, never dropped nor dead-lettered: the stage handed it
    // to a writable that had already destroyed itself.
    if (composition && l.calls.length === 0 && l.dlEvents === 0 && l.drops.length === 0 && !l.sizeRefused) return '#3';
    if (attempts.some((a) => a.mutated)) return '#6';
    const accepted = attempts.filter((a) => a.settled && !a.signal.aborted);
    if (accepted.some((a) => a.invalid)) return '#5';
    if (accepted.some((a) => a.badFailedItems)) return '#8';
    // Sent to flush again after it was dead-lettered: the stream went on after a destroy() made from a listener.
    if (l.dlEvents > 0 && attempts.some((a) => a.startSeq > l.dlSeq))
      return c.destroyInListener !== undefined ? 'N3' : '?';
    // No handler; the harness destroyed the stream from inside the 'dead-letter' listener of the failure.
    if (c.deadLetter.mode === 'none' && l.dlEvents > 0 && c.destroyInListener?.event === 'dead-letter') return 'N2';
    if (c.deadLetter.mutates || c.rogueListeners) return '#6';
    return '?';
  }

  #result(outcome: string, realStart: number): CaseResult {
    const failures = [...this.#failures.values()];
    // Account-level failures (invariant, counters, bounds) are symptoms: attribute them to the causes
    // found item by item, or to #2 when the account is off only inside listeners during a destroy.
    const itemCauses = new Set<string>();
    for (const f of failures) {
      if (/^(final|no-event|handler-failed|no-handler) /.test(f.where) && f.hint !== '?') itemCauses.add(f.hint);
    }
    for (const f of failures)
      if (f.kind === 'identity' && f.hint === '?') f.hint = this.#anyAccepted((a) => a.badFailedItems) ? '#8' : '?';
    for (const f of failures) if (f.kind === 'identity' && f.hint !== '?') itemCauses.add(f.hint);
    // Causes seen at the sink even when no single item went missing (a counter off, a bound broken).
    if (this.#anyAccepted((a) => a.invalid)) itemCauses.add('#5');
    // A mutated batch is read back even when the attempt was abandoned (timeout, destroy).
    if (this.#attempts.some((a) => a.mutated)) itemCauses.add('#6');
    if (this.#anyAccepted((a) => a.badFailedItems)) itemCauses.add('#8');
    const offBetweenEvents = failures.some((f) => f.kind === 'invariant' && !f.where.startsWith('listener:'));
    const symptoms: FailureKind[] = [
      'invariant',
      'accepted',
      'metric',
      'bound',
      'finish-with-items',
      'after-close',
      'resend',
      'identity',
      'stall',
      'end-deadline',
      'hang',
    ];
    if (failures.some((f) => f.kind === 'timer-overflow')) {
      for (const f of failures) if ((f.kind === 'hang' || f.kind === 'stall') && f.hint === '?') f.hint = '#1';
    }
    for (const f of failures) {
      if (f.kind === 'invariant' && f.hint === '#2?') {
        const transient = this.#transientGaps.has(`invariant|${f.where}`) || !offBetweenEvents;
        f.hint = transient ? '#2' : [...itemCauses].sort().join('+') || '?';
        continue;
      }
      if (symptoms.includes(f.kind) && f.hint === '?' && itemCauses.size > 0) f.hint = [...itemCauses].sort().join('+');
    }
    const trace = this.#verbose ? this.#trace : this.#trace.slice(-60);
    return {
      seed: this.c.seed,
      description: describeCase(this.c),
      failures,
      outcome,
      virtualMs: this.#now(),
      realMs: Math.round(realNow() - realStart),
      written: this.#written,
      trace,
    };
  }
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function safeIds(err: unknown): string {
  const items = (err as { items?: unknown } | null)?.items;
  if (!Array.isArray(items)) return '-';
  return `[${items.map((item) => String((item as { id?: unknown } | null)?.id)).join(',')}]`;
}

/** One line per failure, and the command that replays the case. */
export function formatResult(result: CaseResult, withTrace = false): string {
  const lines = [
    `seed ${result.seed}: ${result.outcome}, ${result.written} written, ${result.virtualMs} virtual ms, ${result.realMs} real ms`,
    `  case: ${result.description}`,
  ];
  for (const f of result.failures)
    lines.push(`  ${f.hint} ${f.kind} @${f.where} (t=${f.at}${f.count > 1 ? `, ×${f.count}` : ''}): ${f.message}`);
  lines.push(`  reproduce: npm run fuzz -- --seed ${result.seed} --cases 1 --verbose`);
  if (withTrace) lines.push('  trace:', ...result.trace.map((line) => `    ${line}`));
  return lines.join('\n');
}
