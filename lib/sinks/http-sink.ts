import http from 'node:http';
import https from 'node:https';
import { joinLines, type LineSink, type SinkWriteContext } from './line-sink';
import { classifyHttpStatus, HttpOutcome, parseRetryAfter } from './http-classify';
import { MIN_SCRUB_LENGTH, queryValues, redactUrl, safeDecode, scrubQueryParams } from './redact';
import { abortedError, SinkError, SinkErrorCodes } from './sink-errors';

export interface HttpSinkOptions {
  /**
   * Extra request headers (an API key, a tenant id). Never shown in
   * `description` or error messages. `content-type`, `content-length` and
   * (with URL credentials) `authorization` are set by the sink.
   * @default {}
   */
  headers?: Record<string, string>;
  /**
   * The agent to send with. When unset the sink owns a keep-alive agent (one
   * TCP/TLS connection reused across batches) and destroys it in `close()`.
   * @default a new `http.Agent` / `https.Agent` with `keepAlive: true`
   */
  agent?: http.Agent;
}

/** Most bytes of an error response quoted in the error message: enough to read "invalid api key", not enough to flood a log. */
const ERROR_BODY_BYTES = 512;
const ERROR_BODY_CHARS = 200;
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]+/gu;

/**
 * POSTs each batch as one `application/x-ndjson` body. TLS verification stays
 * on (the sink never sets `rejectUnauthorized: false`). Credentials in the URL
 * (`https://user:pass@host/…`) are sent as Basic auth and stripped from the URL
 * the request goes to; `description` and every error message are redacted.
 *
 * Outcome of one write:
 * - 2xx: resolves (as soon as the status arrives; the body is drained).
 * - 408, 429, 5xx: rejects ERR_SINK_HTTP_STATUS, `retryable: true`, with `retryAfterMs` from `Retry-After`.
 * - other statuses: rejects ERR_SINK_HTTP_STATUS, `retryable: false` (the core dead-letters at once).
 * - connection refused/reset, socket hang up, DNS: rejects ERR_SINK_HTTP_NETWORK, `retryable: true`.
 * - `ctx.signal` aborted (the core's flush timeout): the request is destroyed, rejects ERR_SINK_ABORTED, `retryable: true`.
 * A request that timed out may still have been processed by the server: delivery is at-least-once.
 */
export class HttpSink implements LineSink {
  readonly description: string;
  readonly #target: URL;
  readonly #transport: typeof http | typeof https;
  readonly #agent: http.Agent;
  readonly #ownsAgent: boolean;
  readonly #headers: Record<string, string>;
  readonly #secrets: string[];
  #inFlight = 0;
  #closed = false;
  #idle: (() => void) | undefined = undefined;

  constructor(url: string | URL, options: HttpSinkOptions = {}) {
    const parsed = new URL(url.toString());
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new SinkError(
        SinkErrorCodes.INVALID_SPEC,
        `http sink needs an http: or https: URL, got ${parsed.protocol}`,
      );
    }
    this.description = redactUrl(parsed);
    const headers: Record<string, string> = { ...options.headers, 'content-type': 'application/x-ndjson' };
    const username = safeDecode(parsed.username);
    const password = safeDecode(parsed.password);
    this.#secrets = [username, password, parsed.username, parsed.password].filter((s) => s.length >= MIN_SCRUB_LENGTH);
    // Query-string values (`?api_key=…`) are secrets as often as userinfo is.
    this.#secrets.push(...queryValues(parsed));
    for (const value of Object.values(options.headers ?? {}))
      if (value.length >= MIN_SCRUB_LENGTH) this.#secrets.push(value);
    if (parsed.username !== '' || parsed.password !== '') {
      const token = Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
      headers['authorization'] = `Basic ${token}`;
      this.#secrets.push(token);
      parsed.username = '';
      parsed.password = '';
    }
    this.#target = parsed;
    // Longest first: a secret that contains another is replaced whole.
    this.#secrets.sort((a, b) => b.length - a.length);
    this.#headers = headers;
    this.#transport = parsed.protocol === 'https:' ? https : http;
    this.#ownsAgent = options.agent === undefined;
    this.#agent = options.agent ?? new this.#transport.Agent({ keepAlive: true });
  }

  write(lines: Buffer[], ctx: SinkWriteContext, joined?: Buffer): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new SinkError(SinkErrorCodes.CLOSED, `${this.description}: write after close()`, { retryable: false }),
      );
    }
    if (ctx.signal.aborted) return Promise.reject(abortedError(this.description, ctx.signal.reason));
    if (lines.length === 0) return Promise.resolve();
    const body = joined ?? joinLines(lines);
    this.#inFlight++;
    return new Promise<void>((resolve, reject) => this.#post(body, ctx.signal, resolve, reject)).finally(
      this.#requestDone,
    );
  }

  /** Waits for requests in flight, then releases the keep-alive connections (when the sink owns the agent). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#inFlight > 0) {
      await new Promise<void>((resolve) => {
        this.#idle = resolve;
      });
    }
    if (this.#ownsAgent) this.#agent.destroy();
  }

  #post(body: Buffer, signal: AbortSignal, resolve: () => void, reject: (err: Error) => void): void {
    let settled = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    const headers = { ...this.#headers, 'content-length': String(body.length) };
    const req = this.#transport.request(
      this.#target,
      { method: 'POST', agent: this.#agent, headers, signal },
      (res) => {
        const status = res.statusCode ?? 0;
        const outcome = classifyHttpStatus(status);
        if (outcome === HttpOutcome.SUCCESS) {
          settled = true;
          // Drain so the keep-alive socket can be reused; the status is the server's acknowledgement.
          res.on('error', ignore);
          res.resume();
          resolve();
          return;
        }
        const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
        const chunks: Buffer[] = [];
        let kept = 0;
        const done = (): void => {
          const excerpt = this.#scrub(
            Buffer.concat(chunks).toString('utf8').replace(NON_PRINTABLE, ' ').trim().slice(0, ERROR_BODY_CHARS),
          );
          const retryable = outcome === HttpOutcome.RETRYABLE;
          const message = `${this.description}: HTTP ${status}${excerpt === '' ? '' : `: ${excerpt}`}`;
          const options =
            retryAfterMs === undefined
              ? { retryable, statusCode: status }
              : { retryable, statusCode: status, retryAfterMs };
          fail(new SinkError(SinkErrorCodes.HTTP_STATUS, message, options));
        };
        res.on('data', (chunk: Buffer) => {
          if (kept < ERROR_BODY_BYTES) {
            const part = chunk.subarray(0, ERROR_BODY_BYTES - kept);
            chunks.push(part);
            kept += part.length;
          }
        });
        res.on('end', done);
        // The status alone decides the outcome; a body cut short changes nothing.
        res.on('error', done);
        res.on('close', done);
      },
    );
    req.on('error', (err: Error) => fail(this.#requestError(err, signal)));
    req.end(body);
  }

  #requestError(err: Error, signal: AbortSignal): SinkError {
    if (signal.aborted) return abortedError(this.description, signal.reason);
    const code = (err as { code?: unknown }).code;
    const why = this.#scrub(typeof code === 'string' ? `${code}: ${err.message}` : err.message);
    return new SinkError(SinkErrorCodes.HTTP_NETWORK, `${this.description}: request failed (${why})`, {
      retryable: true,
      cause: err,
    });
  }

  /**
   * Belt and braces: nothing we build contains a credential, but a server may echo one back in its
   * error body (the whole URL, the request line, or the key alone).
   */
  #scrub(text: string): string {
    let out = scrubQueryParams(text, this.#target);
    for (const secret of this.#secrets) out = out.split(secret).join('***');
    return out;
  }

  readonly #requestDone = (): void => {
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#idle !== undefined) {
      const idle = this.#idle;
      this.#idle = undefined;
      idle();
    }
  };
}

function ignore(): void {}

export function createHttpSink(url: string | URL, options: HttpSinkOptions = {}): HttpSink {
  return new HttpSink(url, options);
}
