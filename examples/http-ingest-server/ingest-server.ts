import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import {
  backpressure,
  Strategy,
  type PriorityStrategyOptions,
  type StrategyWritable,
} from '../../lib/compose/backpressure';
import {
  BackpressureState,
  type BackpressureMetrics,
  type BackpressureWritable,
  type BackpressureWritableOptions,
  type SampleThreshold,
  type FlushContext,
  type FlushEvent,
  type FlushResult,
  type StateChange,
} from '../../lib';
import { DrainRateMeter, retryAfterSeconds } from './drain-rate';

/** Delivers one batch of events; reject or report failures to have them retried or dead-lettered. */
export type DeliverFunction = (events: unknown[], ctx: FlushContext) => Promise<void | FlushResult<unknown>>;

export interface IngestServerOptions {
  /** What happens to accepted events when the sink falls behind. @default 'block' (nothing accepted is ever dropped) */
  strategy?: Strategy;
  /**
   * Where accepted events go.
   * @default a sink that waits `sinkDelayMs` per batch and discards the events
   */
  deliver?: DeliverFunction;
  /** Wait per batch of the default sink, in ms. @default 20 */
  sinkDelayMs?: number;
  /** Receives events that could not be delivered. @default logs how many and why */
  onDeadLetter?: (events: unknown[], error: Error) => void | Promise<void>;
  /** Events held at most (a request carrying more is refused with 413). @default 10000 */
  maxBufferSize?: number;
  /** @default 100 */
  batchSize?: number;
  /** Shedding strategies: events their stage may hold in front of the buffer. @default 1000 */
  capacity?: number;
  /** Any other option of `backpressure()` (retry, flushTimeoutMs, sampleRate, priority, …). @default {} */
  streamOptions?: IngestStreamOptions;
  /** Largest request body; a larger one is refused with 413 and not read further. @default 1048576 */
  maxBodyBytes?: number;
  /** Upper bound of the `Retry-After` sent with a 429. @default 30 */
  maxRetryAfterSeconds?: number;
  /** Log lines. @default none */
  log?: (line: string) => void;
}

/**
 * The writable's options, plus the strategy's own: `backpressure()` takes each strategy's options with
 * that strategy only (its options are a union on `strategy`), so these are passed on when they apply.
 */
export interface IngestStreamOptions extends Partial<BackpressureWritableOptions<unknown>> {
  /** `'sample'`: keep 1 in this many events under pressure. */
  sampleRate?: number;
  /** `'sample'`: pressure state from which sampling applies. */
  sampleThreshold?: SampleThreshold;
  /** `'priority'` (required with it): the event's priority, higher is more important. */
  priority?: (event: unknown) => number;
  /** `'priority'`: lowest priority kept at each pressure level. */
  keepAtLeast?: PriorityStrategyOptions<unknown>['keepAtLeast'];
}

export interface IngestStats {
  requests: number;
  /** Requests answered 202 (every event in them accepted). */
  acknowledged: number;
  /** Requests answered 429 (no event in them accepted). */
  throttled: number;
  /** Requests answered 400 / 413 / 404 / 405 / 503. */
  refused: number;
  /** Largest `bufferSize` right after accepting a request: never above the bound. */
  maxBufferSizeSeen: number;
}

type IngestStream = BackpressureWritable<unknown> | StrategyWritable<unknown>;

/** Answer of the admission check for a request of `n` events. */
type Admission = { status: 202 } | { status: 429; retryAfter: number } | { status: 413 | 503; reason: string };

/**
 * An HTTP endpoint that takes NDJSON events (`POST /events`, one JSON value per
 * line) into a backpressure stream in front of a slow sink.
 *
 * The acknowledgement rule — what a client may rely on:
 * - **202**: every event of the request was accepted into the stream, so it
 *   will be delivered or dead-lettered (or, with a shedding strategy, dropped
 *   by that strategy and counted by reason). The server already owns them.
 * - **429** + `Retry-After`: *none* of the request's events was accepted.
 *   Retrying the whole request is safe: it cannot duplicate anything.
 * - **400** (a line is not JSON, or is `null`), **413** (body or event count
 *   over the limit), **503** (shutting down): none accepted; do not retry as is.
 *
 * It holds because acceptance is all-or-nothing and synchronous: the body is
 * read and parsed completely first, then one check — stream not `critical` or
 * `blocked`, and the request fits in the bound — and, if it passes, all its
 * events are written in the same tick. Nothing can interleave, so memory stays
 * bounded by `maxBufferSize` (+ the stage's `capacity` for shedding strategies)
 * and the request is never half in.
 *
 * `Retry-After` = ⌈(items held + in flight) ÷ measured drain rate⌉ seconds,
 * at least 1, at most `maxRetryAfterSeconds`. Admission reopens by itself when
 * the state drops back (after `'drain'`, or below `critical` with hysteresis);
 * an `'accepting'` event marks it.
 *
 * Other routes: `GET /stats` (the stream's metrics and the request counters).
 * Events: `'throttled'` ({ retryAfter, state }) per 429, `'accepting'` when it reopens.
 */
export class IngestServer extends EventEmitter {
  readonly server: http.Server;
  readonly stream: IngestStream;
  readonly stats: IngestStats = { requests: 0, acknowledged: 0, throttled: 0, refused: 0, maxBufferSizeSeen: 0 };
  readonly #bound: number;
  readonly #maxBufferSize: number;
  readonly #maxBodyBytes: number;
  readonly #maxRetryAfter: number;
  readonly #meter: DrainRateMeter;
  #closing = false;

  constructor(options: IngestServerOptions = {}) {
    super();
    const log = options.log ?? (() => {});
    const strategy = options.strategy ?? Strategy.BLOCK;
    const maxBufferSize = options.maxBufferSize ?? 10000;
    const capacity = options.capacity ?? 1000;
    const sinkDelayMs = options.sinkDelayMs ?? 20;
    const deliver: DeliverFunction =
      options.deliver ??
      (async (_events, ctx) => {
        await delay(sinkDelayMs, undefined, { signal: ctx.signal });
      });
    const { sampleRate, sampleThreshold, priority, keepAtLeast, ...streamOptions } = options.streamOptions ?? {};
    const writable: BackpressureWritableOptions<unknown> = {
      ...streamOptions,
      maxBufferSize,
      batchSize: options.batchSize ?? 100,
      flush: deliver,
      onDeadLetter:
        options.onDeadLetter ??
        ((events: unknown[], error: Error) => log(`dead-lettered ${events.length} event(s): ${error.message}`)),
    };
    switch (strategy) {
      case Strategy.BLOCK:
        this.stream = backpressure<unknown>({ ...writable, strategy });
        break;
      case Strategy.DROP_OLDEST:
      case Strategy.DROP_NEWEST:
        this.stream = backpressure<unknown>({ ...writable, strategy, capacity });
        break;
      case Strategy.SAMPLE:
        this.stream = backpressure<unknown>({ ...writable, strategy, capacity, sampleRate, sampleThreshold });
        break;
      case Strategy.PRIORITY:
        if (priority === undefined) throw new TypeError("strategy 'priority' needs streamOptions.priority");
        this.stream = backpressure<unknown>({ ...writable, strategy, capacity, priority, keepAtLeast });
        break;
      default: // not a strategy (a JavaScript caller): backpressure() refuses it with a coded error
        this.stream = backpressure<unknown>({ ...writable, strategy });
    }
    this.#maxBufferSize = maxBufferSize;
    // A shedding stage holds up to `capacity` more in front of the writable.
    this.#bound = strategy === Strategy.BLOCK ? maxBufferSize : maxBufferSize + capacity;
    this.#maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    this.#maxRetryAfter = options.maxRetryAfterSeconds ?? 30;
    this.#meter = new DrainRateMeter(16, this.stream.getMetrics().concurrency);
    this.stream.on('flush', (event: FlushEvent) => this.#meter.record(event.items, event.latencyMs));
    this.stream.on('state', (change: StateChange) => {
      if (isThrottling(change.from) && !isThrottling(change.to) && change.to !== BackpressureState.DRAINING) {
        log(`accepting again (${change.from} -> ${change.to})`);
        this.emit('accepting', change);
      } else if (!isThrottling(change.from) && isThrottling(change.to)) {
        log(`throttling (${change.from} -> ${change.to})`);
      }
    });
    // An error here already carries its items (or they were dead-lettered); keep serving 503s rather than crash.
    this.stream.on('error', (err: Error) => log(`stream failed: ${err.message}`));
    this.server = http.createServer((req, res) => this.#handle(req, res));
  }

  /** Starts listening; resolves with the base URL (e.g. http://127.0.0.1:8080). */
  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    this.server.listen(port, host);
    await once(this.server, 'listening');
    const address = this.server.address() as AddressInfo;
    return `http://${address.address}:${address.port}`;
  }

  getMetrics(): BackpressureMetrics {
    return this.stream.getMetrics();
  }

  /**
   * Stops taking requests (new ones get 503), then ends the stream and waits
   * until everything accepted was delivered, dead-lettered (or dropped).
   */
  async close(): Promise<BackpressureMetrics> {
    this.#closing = true;
    const closed = new Promise((resolve) => this.server.close(resolve));
    this.server.closeIdleConnections();
    await closed;
    if (!this.stream.destroyed && !this.stream.writableFinished) {
      this.stream.end();
      await once(this.stream, 'finish');
    }
    return this.stream.getMetrics();
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.stats.requests++;
    const path = (req.url ?? '').split('?')[0];
    if (path === '/stats' && req.method === 'GET') {
      this.#reply(res, 200, { ...this.stats, ...this.stream.getMetrics() });
      return;
    }
    if (path !== '/events') return this.#refuse(req, res, 404, 'not found; POST NDJSON to /events');
    if (req.method !== 'POST') return this.#refuse(req, res, 405, 'use POST');
    const chunks: Buffer[] = [];
    let bytes = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      bytes += chunk.length;
      if (bytes > this.#maxBodyBytes) {
        tooLarge = true;
        chunks.length = 0; // never hold more than the limit
        this.#refuse(req, res, 413, `body over ${this.#maxBodyBytes} bytes`);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!tooLarge) this.#ingest(Buffer.concat(chunks, bytes), res);
    });
    req.on('error', () => {}); // a client that went away: nothing was accepted, nothing to answer
  }

  #ingest(body: Buffer, res: http.ServerResponse): void {
    const parsed = parseNdjson(body);
    if (typeof parsed === 'string') {
      this.stats.refused++;
      this.#reply(res, 400, { error: parsed, accepted: 0 });
      return;
    }
    const admission = this.#admit(parsed.length);
    if (admission.status === 429) {
      this.stats.throttled++;
      const state = this.stream.state;
      this.emit('throttled', { retryAfter: admission.retryAfter, state });
      this.#reply(
        res,
        429,
        { error: `busy (${state})`, accepted: 0, retryAfterSeconds: admission.retryAfter },
        {
          'retry-after': String(admission.retryAfter),
        },
      );
      return;
    }
    if (admission.status !== 202) {
      this.stats.refused++;
      this.#reply(res, admission.status, { error: admission.reason, accepted: 0 });
      return;
    }
    // Same tick as the check: all of the request goes in, or (above) none of it.
    for (const event of parsed) this.stream.write(event);
    const size = this.stream.getMetrics().bufferSize;
    if (size > this.stats.maxBufferSizeSeen) this.stats.maxBufferSizeSeen = size;
    this.stats.acknowledged++;
    this.#reply(res, 202, { accepted: parsed.length });
  }

  #admit(n: number): Admission {
    if (this.#closing) return { status: 503, reason: 'shutting down' };
    if (this.stream.destroyed || this.stream.writableEnded) return { status: 503, reason: 'stream closed' };
    if (n > this.#maxBufferSize) return { status: 413, reason: `at most ${this.#maxBufferSize} events per request` };
    const m = this.stream.getMetrics();
    if (isThrottling(m.state) || m.bufferSize + n > this.#bound) {
      const rate = this.#meter.itemsPerSecond();
      return { status: 429, retryAfter: retryAfterSeconds(m.bufferSize + m.inFlight, rate, this.#maxRetryAfter) };
    }
    return { status: 202 };
  }

  #refuse(req: http.IncomingMessage, res: http.ServerResponse, status: number, error: string): void {
    this.stats.refused++;
    // Discard the rest of the body without holding it; close so the client stops sending.
    req.resume();
    this.#reply(res, status, { error, accepted: 0 }, { connection: 'close' });
  }

  #reply(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (res.headersSent) return;
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(`${JSON.stringify(body)}\n`);
  }
}

function isThrottling(state: BackpressureState): boolean {
  return state === BackpressureState.CRITICAL || state === BackpressureState.BLOCKED;
}

/** The body's events, or why the whole request is refused. `null` is refused: it would end a stream. */
function parseNdjson(body: Buffer): unknown[] | string {
  const events: unknown[] = [];
  const lines = body.toString('utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return `line ${i + 1}: not JSON`;
    }
    if (value === null) return `line ${i + 1}: null is not an event`;
    events.push(value);
  }
  return events;
}

export function createIngestServer(options: IngestServerOptions = {}): IngestServer {
  return new IngestServer(options);
}
