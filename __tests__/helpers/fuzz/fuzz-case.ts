/**
 * One fuzz case, drawn entirely from its seed: the strategy and options (extremes included), how the
 * sink answers each call, how `onDeadLetter` behaves, how the producer writes, and when the test
 * corks, uncorks, ends or destroys the stream. The same seed always gives the same case.
 */
import { Rng } from './rng';

export const STRATEGIES = ['block', 'drop-oldest', 'drop-newest', 'sample', 'priority'] as const;
export type FuzzStrategy = (typeof STRATEGIES)[number];

/** Largest delay Node's timers honour; anything above is silently set to 1 ms by Node. */
export const TIMER_MAX = 2 ** 31 - 1;

/**
 * What the sink does with one call. Every kind has one meaning for the oracle: the items the stream
 * must count as delivered if it accepts the answer (see `deliveredBy` in run-case.ts).
 */
export const SINK_KINDS = [
  'ok', // resolves undefined
  'ok-result', // resolves a valid FlushResult with nothing failed
  'reject', // rejects with an Error
  'reject-nonretryable', // rejects with an Error whose retryable is false
  'reject-retry-after', // rejects with an Error carrying retryAfterMs
  'reject-non-error', // rejects with a string
  'throw-sync', // throws synchronously
  'hang', // never settles (or rejects on abort, if it honours the signal)
  'late', // resolves undefined only after flushTimeoutMs (its answer is stale)
  'partial', // resolves a valid FlushResult with failedItems a sub-multiset of the batch
  'partial-no-items', // resolves { failed > 0 } without failedItems
  'invalid', // resolves something that is not a FlushResult: {}, { ok: false }, an Error, a 500 Response, …
  'bad-failed-items', // resolves a FlushResult whose failedItems are not a sub-multiset of the batch
  'splice-ok', // consumes the batch with batch.splice(0, n) chunks, then resolves undefined
  'splice-throw', // consumes the batch in chunks and fails on one of them
  'mutate-ok', // reverses / empties / overwrites the batch array, then resolves undefined
] as const;
export type SinkKind = (typeof SINK_KINDS)[number];

export const SINK_PROFILES = ['healthy', 'flaky', 'hostile', 'down', 'mixed'] as const;
export type SinkProfile = (typeof SINK_PROFILES)[number];

const PROFILE_WEIGHTS: Record<SinkProfile, Partial<Record<SinkKind, number>>> = {
  healthy: { ok: 80, 'ok-result': 10, reject: 4, partial: 6 },
  flaky: {
    ok: 40,
    reject: 12,
    partial: 14,
    'partial-no-items': 5,
    'throw-sync': 5,
    hang: 5,
    late: 5,
    'reject-nonretryable': 5,
    'reject-retry-after': 5,
    'reject-non-error': 4,
  },
  hostile: {
    ok: 25,
    invalid: 18,
    'bad-failed-items': 10,
    'splice-ok': 10,
    'splice-throw': 8,
    'mutate-ok': 6,
    partial: 10,
    hang: 4,
    late: 4,
    'reject-non-error': 5,
  },
  down: { reject: 40, hang: 20, late: 10, 'throw-sync': 10, 'reject-nonretryable': 10, ok: 10 },
  mixed: Object.fromEntries(SINK_KINDS.map((k) => [k, 1])),
};

export const DEAD_LETTER_MODES = ['none', 'ok', 'slow', 'flaky', 'fail'] as const;
export type DeadLetterMode = (typeof DEAD_LETTER_MODES)[number];

export const PRODUCERS = ['loop', 'pipeline-async', 'pipeline-timed', 'pipeline-array'] as const;
export type ProducerKind = (typeof PRODUCERS)[number];

export type ControlAction = 'cork' | 'destroy' | 'destroy-error' | 'end';
/** A control step: at a virtual time, or (loop producers) right before the n-th write. */
export interface Control {
  action: ControlAction;
  atMs?: number | undefined;
  afterWrites?: number | undefined;
  /** cork: uncork this long after corking (as often as it corked). */
  uncorkAfterMs?: number | undefined;
  /** cork: never uncork; destroy this long after corking instead. */
  destroyAfterMs?: number | undefined;
  /** cork: cork twice (then uncork twice). */
  twice?: boolean | undefined;
}

export const LISTENER_EVENTS = ['state', 'flush', 'retry', 'dead-letter', 'drop', 'circuit', 'drain'] as const;
export type ListenerEvent = (typeof LISTENER_EVENTS)[number];

export interface FuzzItem {
  readonly id: number;
  /** Priority class, for 'priority'. */
  readonly p: number;
  /** Bytes, when the case measures sizes. */
  readonly size: number;
}

export interface FuzzCase {
  seed: number;
  strategy: FuzzStrategy;
  maxBufferSize: number;
  batchSize: number;
  concurrency: number;
  retries: number;
  minDelayMs: number;
  maxDelayMs: number;
  flushTimeoutMs: number;
  drainTimeoutMs: number;
  minFlushIntervalMs: number;
  maxFlushIntervalMs: number | undefined;
  targetLatencyMs: number | undefined;
  maxBlockTimeMs: number | undefined;
  watermarks: { lowWatermark: number; highWatermark: number; hysteresis: number } | undefined;
  circuitBreaker: { failureThreshold: number; cooldownMs: number } | undefined;
  adaptive: true | { minBatchSize: number; maxBatchSize: number; maxConcurrency: number } | undefined;
  bytes: { maxBufferBytes: number; badSizeIds: number[]; badSizeMode: 'throw' | 'nan' | 'negative' } | undefined;
  capacity: number;
  sampleRate: number;
  sampleMode: 'counter' | 'random' | 'key';
  sampleThreshold: 'elevated' | 'critical' | 'blocked';
  badKeyIds: number[];
  badPriorityIds: number[];
  keepAtLeast: { elevated: number; critical: number } | undefined;
  items: FuzzItem[];
  sink: { profile: SinkProfile; weights: Partial<Record<SinkKind, number>>; maxDelayMs: number; honoursAbort: number };
  deadLetter: { mode: DeadLetterMode; maxDelayMs: number; mutates: boolean };
  producer: {
    kind: ProducerKind;
    /** loop: wait for 'drain' after write() === false. */
    respect: boolean;
    burst: number;
    pause: 'none' | 'microtask' | 'tick' | 'sleep';
    pauseMaxMs: number;
  };
  endMode: 'end' | 'end-item' | 'none';
  controls: Control[];
  destroyInListener: { event: ListenerEvent; nth: number; withError: boolean } | undefined;
  /** Extra listeners that mutate the arrays in 'dead-letter' payloads (the library must not read them back). */
  rogueListeners: boolean;
  /**
   * `onSettled` installed (checked by settled-oracle.ts); from call `throwFrom` on (1-based) it throws,
   * as an acknowledgement store that went down would. Drawn last, so that adding it changed no earlier case.
   */
  settled: { throwFrom: number | undefined } | undefined;
  /** Options set beyond what Node's timers can represent. */
  extremes: string[];
}

const HUGE = [2 ** 31, 3e9] as const;

export function generateCase(seed: number): FuzzCase {
  const rng = new Rng(seed);
  const extremes: string[] = [];
  // About one case in eight probes the timer limits; the others keep every timer small.
  const extreme = rng.chance(0.12);
  const huge = (name: string): number => {
    extremes.push(name);
    return rng.pick(HUGE);
  };

  const strategy = rng.pick(STRATEGIES);
  const maxBufferSize = rng.pick([1, 2, 3, 4, 5, 8, 10, 16, 32, 64]);
  const batchSize = rng.chance(0.3) ? 1 : rng.chance(0.35) ? maxBufferSize : rng.int(1, maxBufferSize);
  const concurrency = rng.chance(0.5) ? 1 : rng.int(2, 8);
  const retries = rng.int(0, 3);
  const minDelayMs = rng.int(0, 20);
  const maxDelayMs = minDelayMs + rng.int(0, 40);
  let flushTimeoutMs = rng.chance(0.15) ? rng.int(1, 3) : rng.int(4, 80);
  let drainTimeoutMs = rng.chance(0.1) ? 0 : rng.int(1, 300);
  let minFlushIntervalMs = rng.int(0, 40);
  let maxFlushIntervalMs: number | undefined = rng.chance(0.5) ? minFlushIntervalMs + rng.int(0, 200) : undefined;
  const targetLatencyMs = rng.chance(0.5) ? undefined : rng.int(1, 50);
  let maxBlockTimeMs: number | undefined = rng.chance(0.7) ? undefined : rng.int(5, 300);
  let circuitBreaker: FuzzCase['circuitBreaker'] = rng.chance(0.25)
    ? { failureThreshold: rng.int(1, 4), cooldownMs: rng.int(2, 100) }
    : undefined;
  if (extreme) {
    switch (rng.int(0, 5)) {
      case 0:
        flushTimeoutMs = huge('flushTimeoutMs');
        break;
      case 1:
        drainTimeoutMs = huge('drainTimeoutMs');
        break;
      case 2:
        maxBlockTimeMs = huge('maxBlockTimeMs');
        break;
      case 3:
        circuitBreaker = { failureThreshold: rng.int(1, 3), cooldownMs: huge('circuitBreaker.cooldownMs') };
        break;
      case 4:
        maxFlushIntervalMs = huge('maxFlushIntervalMs');
        minFlushIntervalMs = rng.chance(0.5) ? 1e9 : minFlushIntervalMs;
        break;
      default:
        // Large but representable: must be honoured as is.
        drainTimeoutMs = TIMER_MAX;
        extremes.push('drainTimeoutMs=TIMER_MAX');
    }
  }
  let watermarks: FuzzCase['watermarks'];
  if (rng.chance(0.4)) {
    const lowWatermark = rng.pick([0.1, 0.3, 0.5, 0.6, 0.9]);
    const highWatermark = Math.min(1, lowWatermark + rng.pick([0.05, 0.2, 0.4, 1]));
    const hysteresis = rng.pick([0, 0.05, lowWatermark / 2]);
    watermarks = { lowWatermark, highWatermark, hysteresis };
  }
  let adaptive: FuzzCase['adaptive'];
  if (rng.chance(0.15)) {
    if (rng.chance(0.4)) adaptive = true;
    else {
      const maxBatchSize = rng.int(1, maxBufferSize);
      adaptive = { minBatchSize: rng.int(1, maxBatchSize), maxBatchSize, maxConcurrency: rng.int(1, 8) };
    }
  }

  const count = rng.chance(0.1) ? rng.int(0, 3) : rng.int(5, 160);
  const measure = rng.chance(0.3);
  const items: FuzzItem[] = [];
  for (let id = 0; id < count; id++) items.push({ id, p: rng.int(0, 3), size: measure ? rng.int(1, 20) : 1 });
  const someIds = (p: number): number[] => (p === 0 ? [] : items.filter(() => rng.chance(p)).map((item) => item.id));
  const bytes: FuzzCase['bytes'] = measure
    ? {
        maxBufferBytes: rng.int(1, 80),
        badSizeIds: someIds(rng.pick([0, 0, 0.03, 0.15])),
        badSizeMode: rng.pick(['throw', 'throw', 'nan', 'negative'] as const),
      }
    : undefined;

  const profile = rng.pick(SINK_PROFILES);
  const deadLetterMode = rng.weighted({ none: 30, ok: 30, slow: 15, flaky: 15, fail: 10 });
  const producerKind = rng.weighted({ loop: 50, 'pipeline-async': 20, 'pipeline-timed': 20, 'pipeline-array': 10 });
  const controls: Control[] = [];
  const span = Math.max(1, count);
  if (rng.chance(0.15)) {
    const at =
      rng.chance(0.5) && producerKind === 'loop' ? { afterWrites: rng.int(0, span) } : { atMs: rng.int(0, 100) };
    // Usually uncorked a while after the cork; otherwise destroyed a while after it (a corked stream
    // whose producer waits for 'drain' would wait forever: the user's deadlock, not the library's).
    const uncork = rng.chance(0.8);
    const then = rng.int(0, 100);
    const twice = rng.chance(0.3);
    controls.push({ action: 'cork', ...at, ...(uncork ? { uncorkAfterMs: then } : { destroyAfterMs: then }), twice });
  }
  if (rng.chance(0.25)) {
    const action = rng.chance(0.5) ? 'destroy-error' : 'destroy';
    controls.push(
      rng.chance(0.5) && producerKind === 'loop'
        ? { action, afterWrites: rng.int(0, span) }
        : { action, atMs: rng.int(0, 400) },
    );
  }
  if (producerKind === 'loop' && rng.chance(0.08)) controls.push({ action: 'end', atMs: rng.int(0, 200) });

  return {
    seed,
    strategy,
    maxBufferSize,
    batchSize,
    concurrency,
    retries,
    minDelayMs,
    maxDelayMs,
    flushTimeoutMs,
    drainTimeoutMs,
    minFlushIntervalMs,
    maxFlushIntervalMs,
    targetLatencyMs,
    maxBlockTimeMs,
    watermarks,
    circuitBreaker,
    adaptive,
    bytes,
    capacity: rng.pick([1, 2, 3, 5, 8, 20, 100]),
    sampleRate: rng.int(1, 5),
    sampleMode: rng.pick(['counter', 'random', 'key'] as const),
    sampleThreshold: rng.pick(['elevated', 'critical', 'blocked'] as const),
    badKeyIds: someIds(rng.pick([0, 0.05])),
    badPriorityIds: someIds(rng.pick([0, 0, 0.05])),
    keepAtLeast: rng.chance(0.2) ? { elevated: 1, critical: rng.int(1, 3) } : undefined,
    items,
    sink: {
      profile,
      weights: PROFILE_WEIGHTS[profile],
      maxDelayMs: rng.pick([0, 1, 3, 10, 40]),
      honoursAbort: rng.pick([0, 0.5, 1]),
    },
    deadLetter: {
      mode: deadLetterMode,
      maxDelayMs: rng.int(1, 30),
      mutates: deadLetterMode !== 'none' && rng.chance(0.1),
    },
    producer: {
      kind: producerKind,
      respect: rng.chance(0.6),
      burst: rng.pick([1, 3, 10, 50, 1000]),
      pause: rng.pick(['none', 'microtask', 'tick', 'sleep'] as const),
      pauseMaxMs: rng.int(0, 20),
    },
    endMode: rng.weighted({ end: 70, 'end-item': 20, none: 10 }),
    controls,
    destroyInListener: rng.chance(0.07)
      ? {
          event: rng.pick(['state', 'flush', 'retry', 'dead-letter', 'drop', 'circuit', 'drain'] as const),
          nth: rng.int(1, 3),
          withError: rng.chance(0.5),
        }
      : undefined,
    rogueListeners: rng.chance(0.05),
    settled: rng.chance(0.5) ? { throwFrom: rng.chance(0.2) ? rng.int(1, 6) : undefined } : undefined,
    extremes,
  };
}

/** One line that says what the case does (printed with every failure). */
export function describeCase(c: FuzzCase): string {
  const parts = [
    `${c.strategy}`,
    `items=${c.items.length}`,
    `maxBufferSize=${c.maxBufferSize}`,
    `batchSize=${c.batchSize}`,
    `concurrency=${c.concurrency}`,
    `retries=${c.retries}`,
    `flushTimeoutMs=${c.flushTimeoutMs}`,
    `drainTimeoutMs=${c.drainTimeoutMs}`,
  ];
  if (c.strategy !== 'block') parts.push(`capacity=${c.capacity}`);
  if (c.strategy === 'sample') parts.push(`sample=${c.sampleMode}/${c.sampleRate}/${c.sampleThreshold}`);
  if (c.bytes !== undefined)
    parts.push(
      `maxBufferBytes=${c.bytes.maxBufferBytes}${c.bytes.badSizeIds.length > 0 ? ` badSize(${c.bytes.badSizeMode})=${c.bytes.badSizeIds.length}` : ''}`,
    );
  if (c.maxBlockTimeMs !== undefined) parts.push(`maxBlockTimeMs=${c.maxBlockTimeMs}`);
  if (c.maxFlushIntervalMs !== undefined) parts.push(`flushInterval=${c.minFlushIntervalMs}..${c.maxFlushIntervalMs}`);
  if (c.circuitBreaker !== undefined)
    parts.push(`circuit=${c.circuitBreaker.failureThreshold}/${c.circuitBreaker.cooldownMs}`);
  if (c.adaptive !== undefined) parts.push('adaptive');
  parts.push(`sink=${c.sink.profile}`, `deadLetter=${c.deadLetter.mode}${c.deadLetter.mutates ? '+mutates' : ''}`);
  parts.push(
    `producer=${c.producer.kind}${c.producer.kind === 'loop' ? (c.producer.respect ? '/respects' : '/ignores') : ''}`,
    `end=${c.endMode}`,
  );
  if (c.controls.length > 0) {
    parts.push(
      `controls=[${c.controls
        .map((k) => {
          const when = k.atMs !== undefined ? `${k.atMs}ms` : `w${k.afterWrites}`;
          const then =
            k.uncorkAfterMs !== undefined
              ? `+uncork${k.uncorkAfterMs}ms`
              : k.destroyAfterMs !== undefined
                ? `+destroy${k.destroyAfterMs}ms`
                : '';
          return `${k.action}${k.twice ? 'x2' : ''}@${when}${then}`;
        })
        .join(',')}]`,
    );
  }
  if (c.destroyInListener !== undefined)
    parts.push(`destroyIn=${c.destroyInListener.event}#${c.destroyInListener.nth}`);
  if (c.rogueListeners) parts.push('rogue-listeners');
  if (c.settled !== undefined)
    parts.push(c.settled.throwFrom === undefined ? 'onSettled' : `onSettled(throws from #${c.settled.throwFrom})`);
  if (c.extremes.length > 0) parts.push(`extremes=${c.extremes.join(',')}`);
  return parts.join(' ');
}
