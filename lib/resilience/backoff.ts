/** Retry policy for failed flushes. */
export interface RetryOptions {
  /**
   * How many times a failed batch is retried after its first attempt
   * (so a batch gets at most `retries + 1` attempts). 0 disables retries.
   * @default 5
   */
  retries?: number;
  /** Base delay before the first retry, in ms. @default 100 */
  minDelayMs?: number;
  /** Cap on any single retry delay, in ms (also caps a sink's `retryAfterMs`). @default 30000 */
  maxDelayMs?: number;
}

export type ResolvedRetryOptions = Required<RetryOptions>;

/**
 * Exponential backoff with "equal jitter": the delay for retry `n` (1-based)
 * is uniformly drawn from [base/2, base] where base = min(maxDelayMs,
 * minDelayMs × 2^(n-1)). Half the delay is guaranteed (so retries really back
 * off), half is random (so many streams failing together do not retry in
 * lock-step). See AWS Architecture Blog, "Exponential Backoff And Jitter".
 */
export function backoffDelayMs(
  retry: number,
  options: ResolvedRetryOptions,
  random: () => number = Math.random,
): number {
  const base = Math.min(options.maxDelayMs, options.minDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(base / 2 + random() * (base / 2));
}

/**
 * The wait before retry `retry` (1-based) of a batch that failed with `error`: the backoff, or
 * longer when the sink says when to come back (`retryAfterMs`, from an HTTP Retry-After) — within
 * `maxDelayMs`, which is at most MAX_TIMER_MS, so a huge (or infinite) Retry-After waits
 * `maxDelayMs`, never Node's 1 ms.
 */
export function retryDelayMs(retry: number, options: ResolvedRetryOptions, error: Error): number {
  const delayMs = backoffDelayMs(retry, options);
  const retryAfterMs = (error as { retryAfterMs?: unknown }).retryAfterMs;
  if (typeof retryAfterMs === 'number' && retryAfterMs > delayMs) return Math.min(retryAfterMs, options.maxDelayMs);
  return delayMs;
}
