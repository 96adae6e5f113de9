import type { ResolvedRetryOptions, RetryOptions } from '../resilience/backoff';
import type { AdaptiveOptions, ResolvedAdaptiveOptions } from '../resilience/adaptive-controller';
import { CIRCUIT_DEFAULTS, type CircuitBreakerOptions } from '../resilience/circuit-breaker';
import { resolveDurableOptions, type DurableOptions, type ResolvedDurableOptions } from './durable-options';
import { defaultSizeOf as defaultSizeOfAny } from './size-of';
import { DEFAULT_WATERMARKS } from '../pressure/levels';
import { invalidOption } from '../util/validate';

/** What `flush` receives besides the batch. */
export interface FlushContext {
  /** Aborted when the attempt times out (`flushTimeoutMs`) or the stream is destroyed. Pass it to `fetch`, database drivers, etc. */
  signal: AbortSignal;
  /** 1 for the first attempt at this batch, 2 for the first retry, … */
  attempt: number;
}

/**
 * What `flush` may resolve with to report a partial failure. Resolving with
 * `undefined` means the whole batch was delivered.
 *
 * Success is exactly `undefined` or a valid FlushResult: a plain object whose
 * `success` and `failed` are integers ≥ 0 adding up to the batch's length,
 * whose `errors` is absent or an array, and whose `failedItems`, when given,
 * holds exactly `failed` items of the batch. Anything else — `null`, an
 * `Error`, `{}`, a `fetch` `Response`, a number — fails the whole attempt with
 * `ERR_BACKPRESSURE_INVALID_FLUSH_RESULT` and is retried like a rejection: a
 * result that does not describe the batch is not clearly a success.
 */
export interface FlushResult<T> {
  /** Items delivered. With `failed`, must add up to the batch's length. */
  success: number;
  /** Items not delivered. `failed > 0` without `failedItems` retries the whole batch. */
  failed: number;
  /** The errors behind the failures; the first becomes the retry / dead-letter cause. */
  errors?: Error[];
  /**
   * Exactly the items to retry: `failed` items taken from the batch (matched by identity, as
   * `Map` keys are, each batch item at most once). They are retried in batch order. A list
   * naming anything else, or of another length, makes the result invalid (whole batch retried).
   */
  failedItems?: T[];
}

export type FlushFunction<T> = (batch: T[], ctx: FlushContext) => Promise<void | FlushResult<T>>;

export type DeadLetterHandler<T> = (items: T[], error: Error) => void | Promise<void>;

/** How items left the stream for good: delivered by `flush`, or handed to `onDeadLetter` and accepted there. */
export type Settlement = 'flushed' | 'dead-lettered';

/** Told which items are settled, so that the source they came from can acknowledge them (see `onSettled`). */
export type SettledHandler<T> = (items: T[], how: Settlement) => void;

/** Options of `BackpressureWritable`. */
export interface BackpressureWritableOptions<T> {
  /** Delivers one batch to the sink. Reject (or resolve a `FlushResult` with failures) to have it retried. Required. */
  flush: FlushFunction<T>;
  /**
   * Most items held and not in flight. `write()` returns false once this many are held.
   * Items in flight (at most `batchSize`) are on top of this.
   * @default 10000
   */
  maxBufferSize?: number;
  /**
   * Most bytes held and not in flight, as measured by `sizeOf`. Unset: no byte bound
   * and `sizeOf` is never called (bufferBytes stays 0). The buffer may exceed it by
   * at most one item (the one that crossed it). A buffer full by bytes is flushed at once,
   * however few items it holds.
   * @default undefined
   */
  maxBufferBytes?: number;
  /** Measures an item in bytes for `maxBufferBytes`. @default defaultSizeOf (strings/Buffers: byte length; objects: UTF-8 length of their JSON) */
  sizeOf?: (item: T) => number;
  /** Utilization at which the state becomes `critical`. In (0, 1], above `lowWatermark`. @default 0.8 */
  highWatermark?: number;
  /** Utilization at which the state becomes `elevated`. In (0, 1), below `highWatermark`. @default 0.5 */
  lowWatermark?: number;
  /**
   * On the way down a state is left only when utilization falls this far below its threshold,
   * so a buffer hovering at a threshold does not flap. In [0, lowWatermark).
   * @default 0.05
   */
  hysteresis?: number;
  /**
   * Most items per flush; a flush starts as soon as this many are buffered, or at once, with
   * fewer, when the buffer is full (by `maxBufferBytes`). Integer in [1, maxBufferSize].
   * @default 100
   */
  batchSize?: number;
  /** Lower bound (and start value) of the adaptive flush interval, in ms. In [0, MAX_TIMER_MS]. @default 100 */
  minFlushIntervalMs?: number;
  /** Upper bound of the adaptive flush interval, in ms. In [minFlushIntervalMs, MAX_TIMER_MS]. @default 30000 */
  maxFlushIntervalMs?: number;
  /** Flush latency the interval adapts towards: ×1.5 above 1.5× this, ×0.8 below 0.5× this. @default 500 */
  targetLatencyMs?: number;
  /**
   * When set: if a writer stays blocked this long while no flush makes progress, the stream
   * fails with ERR_BACKPRESSURE_BLOCK_TIMEOUT (held items go to `onDeadLetter` or `err.items`).
   * In (0, MAX_TIMER_MS], or `Infinity` (the same as unset: no timer is armed).
   * @default undefined (wait as long as it takes)
   */
  maxBlockTimeMs?: number;
  /** Retry policy for failed flushes. @default { retries: 5, minDelayMs: 100, maxDelayMs: 30000 } */
  retry?: RetryOptions;
  /**
   * A flush attempt still pending after this long is aborted through `ctx.signal` and counts as failed.
   * In (0, MAX_TIMER_MS], or `Infinity`: no deadline, an attempt may take as long as it takes.
   * @default 30000
   */
  flushTimeoutMs?: number;
  /**
   * After `end()`, how long to keep delivering before the rest is dead-lettered.
   * In [0, MAX_TIMER_MS], or `Infinity`: no deadline, `end()` waits for every item to be
   * delivered or dead-lettered.
   * @default 30000
   */
  drainTimeoutMs?: number;
  /**
   * Receives items that could not be delivered (retries exhausted, drain timeout, destroy).
   * Without it, such items make the stream fail with an error whose `items` holds them.
   * It gets its own copy of the items. If it throws or rejects, the stream fails with
   * ERR_BACKPRESSURE_DEAD_LETTER_FAILED, whose `items` holds every item a failed call was
   * given, each once, however many calls failed; that error waits for every pending call, and
   * it is the stream's one `'error'` even when the stream was destroyed with another error (your
   * own `destroy(err)` stays in `errored`).
   * @default undefined
   */
  onDeadLetter?: DeadLetterHandler<T>;
  /**
   * Told, synchronously, which items are settled for good, so that the source they came from can
   * acknowledge them (a Redis Streams `XACK`, a queue's commit): `'flushed'` once the `flush` that
   * carried them succeeded (only the delivered part of a partial success), `'dead-lettered'` once
   * the `onDeadLetter` call that took them resolved. Nothing else settles an item: a failed attempt
   * that will be retried, a failed `onDeadLetter` call, or items handed back in a stream error are
   * not settled, so an acknowledging source leaves them pending for redelivery. Batches settle in
   * the order they complete (with `concurrency` > 1, not necessarily write order). Each call gets
   * its own array. If it throws, the stream fails with ERR_BACKPRESSURE_SETTLED_HANDLER_FAILED;
   * the items stay counted as delivered.
   * @default undefined
   */
  onSettled?: SettledHandler<T>;
  /**
   * Most batches in flight at once. Batches enter `flush` in FIFO order but may complete out of
   * order, and a retried batch may land after later ones; with 1, delivery order is write order.
   * Integer ≥ 1.
   * @default 1
   */
  concurrency?: number;
  /**
   * Circuit breaker around the sink: after `failureThreshold` consecutive failed attempts, stop
   * calling `flush` for `cooldownMs`, then let one probe batch through. No retries are spent while
   * it is open; the buffer fills and BLOCK (or the strategy in front) applies.
   * @default undefined (no breaker)
   */
  circuitBreaker?: CircuitBreakerOptions;
  /**
   * Let a control loop choose batch size and concurrency from measured sink throughput, latency
   * (against `targetLatencyMs`, a hard ceiling) and failures. `batchSize` and `concurrency` are
   * then the starting point. `true` uses the defaults of `AdaptiveOptions`.
   * @default false
   */
  adaptive?: boolean | AdaptiveOptions;
  /**
   * Durable mode: every accepted item is first written to a crash-safe log of segment files in
   * `durable.dir`, and read back from it, in order, into the buffer (`maxBufferSize` items read ahead),
   * so a backlog larger than memory waits on disk. A record is deleted (a whole segment at a time) once
   * its item is settled (see `onSettled`). After a crash, a stream opened on the same `dir` delivers
   * again, first, every item whose write had completed and that was not settled. With `sync` 'batch'
   * (the default) or 'always', a write's callback completes only once its record is on disk. A full
   * log (`maxBytes`, or a real ENOSPC) blocks the writer. Records found damaged go to `onDeadLetter` as
   * raw `Buffer`s (error: a DurableError). See docs/durable.md.
   * @default undefined (memory only)
   */
  durable?: DurableOptions<T>;
}

export interface ResolvedOptions<T> {
  flush: FlushFunction<T>;
  maxBufferSize: number;
  maxBufferBytes: number; // Infinity when unset
  sizeOf: ((item: T) => number) | undefined; // undefined when bytes are not tracked
  highWatermark: number;
  lowWatermark: number;
  hysteresis: number;
  batchSize: number;
  minFlushIntervalMs: number;
  maxFlushIntervalMs: number;
  targetLatencyMs: number;
  maxBlockTimeMs: number; // Infinity when unset: no timer
  retry: ResolvedRetryOptions;
  flushTimeoutMs: number; // Infinity: no watchdog
  drainTimeoutMs: number; // Infinity: no drain timer
  onDeadLetter: DeadLetterHandler<T> | undefined;
  onSettled: SettledHandler<T> | undefined;
  concurrency: number;
  circuitBreaker: Required<CircuitBreakerOptions> | undefined;
  adaptive: ResolvedAdaptiveOptions | undefined;
  durable: ResolvedDurableOptions<T> | undefined;
}

/**
 * The longest delay a Node timer can wait: 2^31 − 1 ms (about 24.8 days). Node
 * runs a longer `setTimeout` after 1 ms instead (with a TimeoutOverflowWarning),
 * so every option that ends up in a timer is refused above this, never silently
 * shortened. The deadline-like options (`flushTimeoutMs`, `drainTimeoutMs`,
 * `maxBlockTimeMs`) take `Infinity` for "no deadline" instead.
 */
export const MAX_TIMER_MS = 2_147_483_647;

export const DEFAULTS = {
  maxBufferSize: 10000,
  highWatermark: DEFAULT_WATERMARKS.highWatermark,
  lowWatermark: DEFAULT_WATERMARKS.lowWatermark,
  hysteresis: DEFAULT_WATERMARKS.hysteresis,
  batchSize: 100,
  concurrency: 1,
  minFlushIntervalMs: 100,
  maxFlushIntervalMs: 30000,
  targetLatencyMs: 500,
  retries: 5,
  minDelayMs: 100,
  maxDelayMs: 30000,
  flushTimeoutMs: 30000,
  drainTimeoutMs: 30000,
} as const;

/** Every option error of the writable names it as its owner (its options are also `backpressure()`'s). */
function invalid(kind: 'type' | 'range', name: string, expected: string, value: unknown): Error {
  return invalidOption(kind, 'BackpressureWritable', name, expected, value);
}

function number(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalid('type', name, 'a number', value);
  return value;
}

function positiveInteger(name: string, value: unknown, fallback: number): number {
  const n = number(name, value, fallback);
  if (!Number.isInteger(n) || n <= 0) throw invalid('range', name, 'an integer > 0', value);
  return n;
}

function positive(name: string, value: unknown, fallback: number): number {
  const n = number(name, value, fallback);
  if (!Number.isFinite(n) || n <= 0) throw invalid('range', name, 'a finite number > 0', value);
  return n;
}

/**
 * A delay that ends up in `setTimeout`: finite and at most MAX_TIMER_MS, or — for a
 * deadline — `Infinity`, meaning no timer at all.
 */
function timerMs(
  name: string,
  value: unknown,
  fallback: number,
  bounds: { zeroAllowed: boolean; infinityAllowed: boolean },
): number {
  const n = number(name, value, fallback);
  if (bounds.infinityAllowed && n === Infinity) return n;
  if (!((bounds.zeroAllowed ? n >= 0 : n > 0) && n <= MAX_TIMER_MS)) {
    const range = `${bounds.zeroAllowed ? '[0' : '(0'}, ${MAX_TIMER_MS}] ms`;
    throw invalid(
      'range',
      name,
      bounds.infinityAllowed ? `in ${range}, or Infinity for no deadline` : `in ${range}`,
      value,
    );
  }
  return n;
}

const DELAY = { zeroAllowed: true, infinityAllowed: false } as const;
const PERIOD = { zeroAllowed: false, infinityAllowed: false } as const;
const DEADLINE = { zeroAllowed: false, infinityAllowed: true } as const;

function optionalFunction<F>(name: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw invalid('type', name, 'a function', value);
  return value as F;
}

/** Validates user options and fills in defaults. Throws TypeError/RangeError naming the option. */
export function resolveOptions<T>(options: BackpressureWritableOptions<T>): ResolvedOptions<T> {
  if (options === null || typeof options !== 'object')
    throw invalid('type', 'options', 'an object with a flush function', options);
  const flush = optionalFunction<FlushFunction<T>>('flush', options.flush);
  if (flush === undefined) throw invalid('type', 'flush', 'a function', undefined);

  const maxBufferSize = positiveInteger('maxBufferSize', options.maxBufferSize, DEFAULTS.maxBufferSize);
  const maxBufferBytes =
    options.maxBufferBytes === undefined ? Infinity : positiveInteger('maxBufferBytes', options.maxBufferBytes, 0);
  const sizeOf = optionalFunction<(item: T) => number>('sizeOf', options.sizeOf);
  const highWatermark = number('highWatermark', options.highWatermark, DEFAULTS.highWatermark);
  const lowWatermark = number('lowWatermark', options.lowWatermark, DEFAULTS.lowWatermark);
  if (!(highWatermark > 0 && highWatermark <= 1)) throw invalid('range', 'highWatermark', 'in (0, 1]', highWatermark);
  if (!(lowWatermark > 0 && lowWatermark <= 1)) throw invalid('range', 'lowWatermark', 'in (0, 1]', lowWatermark);
  if (lowWatermark >= highWatermark) {
    throw invalid('range', 'lowWatermark', `below highWatermark (${highWatermark})`, lowWatermark);
  }
  const hysteresis = number('hysteresis', options.hysteresis, DEFAULTS.hysteresis);
  if (!(hysteresis >= 0 && hysteresis < lowWatermark)) {
    throw invalid('range', 'hysteresis', `in [0, lowWatermark) = [0, ${lowWatermark})`, hysteresis);
  }
  const batchSize = positiveInteger('batchSize', options.batchSize, DEFAULTS.batchSize);
  if (batchSize > maxBufferSize) throw invalid('range', 'batchSize', `<= maxBufferSize (${maxBufferSize})`, batchSize);
  const minFlushIntervalMs = timerMs(
    'minFlushIntervalMs',
    options.minFlushIntervalMs,
    DEFAULTS.minFlushIntervalMs,
    DELAY,
  );
  const maxFlushIntervalMs = timerMs(
    'maxFlushIntervalMs',
    options.maxFlushIntervalMs,
    Math.max(DEFAULTS.maxFlushIntervalMs, minFlushIntervalMs),
    DELAY,
  );
  if (maxFlushIntervalMs < minFlushIntervalMs) {
    throw invalid('range', 'maxFlushIntervalMs', `>= minFlushIntervalMs (${minFlushIntervalMs})`, maxFlushIntervalMs);
  }
  const targetLatencyMs = positive('targetLatencyMs', options.targetLatencyMs, DEFAULTS.targetLatencyMs);
  const maxBlockTimeMs = timerMs('maxBlockTimeMs', options.maxBlockTimeMs, Infinity, DEADLINE);

  const retryIn = options.retry ?? {};
  if (typeof retryIn !== 'object' || retryIn === null) throw invalid('type', 'retry', 'an object', retryIn);
  const retries = number('retry.retries', retryIn.retries, DEFAULTS.retries);
  if (!Number.isInteger(retries) || retries < 0) throw invalid('range', 'retry.retries', 'an integer >= 0', retries);
  const minDelayMs = timerMs('retry.minDelayMs', retryIn.minDelayMs, DEFAULTS.minDelayMs, DELAY);
  const maxDelayMs = timerMs('retry.maxDelayMs', retryIn.maxDelayMs, Math.max(DEFAULTS.maxDelayMs, minDelayMs), DELAY);
  if (maxDelayMs < minDelayMs)
    throw invalid('range', 'retry.maxDelayMs', `>= retry.minDelayMs (${minDelayMs})`, maxDelayMs);

  const flushTimeoutMs = timerMs('flushTimeoutMs', options.flushTimeoutMs, DEFAULTS.flushTimeoutMs, DEADLINE);
  const drainTimeoutMs = timerMs('drainTimeoutMs', options.drainTimeoutMs, DEFAULTS.drainTimeoutMs, {
    zeroAllowed: true,
    infinityAllowed: true,
  });
  const onDeadLetter = optionalFunction<DeadLetterHandler<T>>('onDeadLetter', options.onDeadLetter);
  const onSettled = optionalFunction<SettledHandler<T>>('onSettled', options.onSettled);
  const concurrency = positiveInteger('concurrency', options.concurrency, DEFAULTS.concurrency);
  let circuitBreaker: Required<CircuitBreakerOptions> | undefined;
  if (options.circuitBreaker !== undefined) {
    const cb = options.circuitBreaker;
    if (typeof cb !== 'object' || cb === null) throw invalid('type', 'circuitBreaker', 'an object', cb);
    circuitBreaker = {
      failureThreshold: positiveInteger(
        'circuitBreaker.failureThreshold',
        cb.failureThreshold,
        CIRCUIT_DEFAULTS.failureThreshold,
      ),
      cooldownMs: timerMs('circuitBreaker.cooldownMs', cb.cooldownMs, CIRCUIT_DEFAULTS.cooldownMs, PERIOD),
    };
  }

  let adaptive: ResolvedAdaptiveOptions | undefined;
  if (options.adaptive !== undefined && options.adaptive !== false) {
    const a = options.adaptive === true ? {} : options.adaptive;
    if (typeof a !== 'object' || a === null) throw invalid('type', 'adaptive', 'a boolean or an object', a);
    const minBatchSize = positiveInteger('adaptive.minBatchSize', a.minBatchSize, 1);
    const maxBatchSize = positiveInteger('adaptive.maxBatchSize', a.maxBatchSize, maxBufferSize);
    if (maxBatchSize > maxBufferSize)
      throw invalid('range', 'adaptive.maxBatchSize', `<= maxBufferSize (${maxBufferSize})`, maxBatchSize);
    if (minBatchSize > maxBatchSize)
      throw invalid('range', 'adaptive.minBatchSize', `<= adaptive.maxBatchSize (${maxBatchSize})`, minBatchSize);
    const maxConcurrency = positiveInteger('adaptive.maxConcurrency', a.maxConcurrency, Math.max(16, concurrency));
    adaptive = { minBatchSize, maxBatchSize, maxConcurrency, targetLatencyMs };
  }

  const durable = resolveDurableOptions<T>(options.durable);

  const tracksBytes = maxBufferBytes !== Infinity || sizeOf !== undefined;
  return {
    flush,
    maxBufferSize,
    maxBufferBytes,
    sizeOf: tracksBytes ? (sizeOf ?? (defaultSizeOfAny as (item: T) => number)) : undefined,
    highWatermark,
    lowWatermark,
    hysteresis,
    batchSize,
    minFlushIntervalMs,
    maxFlushIntervalMs,
    targetLatencyMs,
    maxBlockTimeMs,
    retry: { retries, minDelayMs, maxDelayMs },
    flushTimeoutMs,
    drainTimeoutMs,
    onDeadLetter,
    onSettled,
    concurrency,
    circuitBreaker,
    adaptive,
    durable,
  };
}
