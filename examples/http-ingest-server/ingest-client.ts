import { setTimeout as delay } from 'node:timers/promises';

export interface SendOptions {
  /**
   * Milliseconds per second of `Retry-After`: 1000 honours it as the server
   * means it; tests scale it down to keep the run short.
   * @default 1000
   */
  retryAfterUnitMs?: number;
  /** Attempts before giving up on a request (429s only are retried). @default 50 */
  maxAttempts?: number;
}

export interface SendResult {
  /** The final (2xx) status. */
  status: number;
  attempts: number;
  /** The `Retry-After` values (seconds) of the 429s this request met. */
  retryAfters: number[];
}

/**
 * POSTs `events` as one NDJSON body, and on 429 waits `Retry-After` and sends
 * the *whole* request again. That is safe because of the server's rule: a 429
 * means none of the request's events were taken. Any other non-2xx is thrown:
 * a 4xx will not get better by retrying, and a network error mid-request is
 * ambiguous (the server may have accepted it), so the caller decides.
 */
export async function sendEvents(
  url: string,
  events: readonly unknown[],
  options: SendOptions = {},
): Promise<SendResult> {
  const unitMs = options.retryAfterUnitMs ?? 1000;
  const maxAttempts = options.maxAttempts ?? 50;
  const body = events.map((e) => JSON.stringify(e)).join('\n') + '\n';
  const retryAfters: number[] = [];
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body });
    const text = await response.text();
    if (response.ok) return { status: response.status, attempts: attempt, retryAfters };
    if (response.status !== 429 || attempt >= maxAttempts) {
      throw new Error(`POST ${url}: HTTP ${response.status} after ${attempt} attempt(s): ${text.slice(0, 200)}`);
    }
    const seconds = Number(response.headers.get('retry-after'));
    retryAfters.push(seconds);
    await delay((Number.isFinite(seconds) && seconds > 0 ? seconds : 1) * unitMs);
  }
}
