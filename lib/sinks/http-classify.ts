/**
 * How an HTTP sink reads a response status. Retryable: 408 (the server timed
 * the request out), 429 (rate limited) and every 5xx — the same batch may
 * succeed later. Everything else non-2xx (400, 401, 403, 404, 413, 422, 3xx
 * that we do not follow, …) is permanent: the same bytes to the same URL will
 * be refused again, so retrying only delays the dead letter.
 */
export const HttpOutcome = {
  SUCCESS: 'success',
  RETRYABLE: 'retryable',
  PERMANENT: 'permanent',
} as const;

export type HttpOutcome = (typeof HttpOutcome)[keyof typeof HttpOutcome];

export function classifyHttpStatus(status: number): HttpOutcome {
  if (status >= 200 && status < 300) return HttpOutcome.SUCCESS;
  if (status === 408 || status === 429 || (status >= 500 && status < 600)) return HttpOutcome.RETRYABLE;
  return HttpOutcome.PERMANENT;
}

const DELAY_SECONDS = /^\d+$/;
const HAS_LETTERS = /[a-z]/i;

/**
 * Parses a `Retry-After` header (RFC 9110 §10.2.3): either delay-seconds or an
 * HTTP date. Returns ms from `now` (never negative), or undefined when absent
 * or unparseable (then the core's own backoff applies).
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const text = raw.trim();
  if (text === '') return undefined;
  if (DELAY_SECONDS.test(text)) {
    const ms = Number(text) * 1000;
    return Number.isSafeInteger(ms) ? ms : undefined;
  }
  // An HTTP date always names its weekday and month; without letters, Date.parse would read "-5" as a year.
  if (!HAS_LETTERS.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}
