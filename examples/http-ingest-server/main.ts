/**
 * Example: an HTTP ingest endpoint that answers 429 + Retry-After instead of
 * buffering without bound, driven by concurrent clients that honour it.
 *
 *   npm run example:http-ingest                    # server + clients, prints a summary, exits
 *   npm run example:http-ingest -- --serve [port]  # just the server (POST NDJSON to /events, GET /stats)
 *
 * The summary checks the acknowledgement rule end to end: every event of every
 * 202-acknowledged request reached the sink exactly once or was dead-lettered
 * (or, with a shedding strategy, was dropped by it), and none of a 429'd
 * request's events were taken.
 */
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import type { BackpressureMetrics, FlushContext, FlushResult } from '../../lib';
import type { Strategy } from '../../lib/compose/backpressure';
import type { DropEvent } from '../../lib/stages';
import { sendEvents } from './ingest-client';
import { IngestServer, type IngestServerOptions, type IngestStats } from './ingest-server';

/** What the example's clients send. */
export interface IngestEvent {
  id: number;
  client: number;
  /** The sink refuses these for good: they end up dead-lettered. */
  poison?: true;
}

export interface IngestExampleOptions {
  /** @default 'block' */
  strategy?: Strategy;
  /** Concurrent clients. @default 8 */
  clients?: number;
  /** Requests each client sends, one after the other. @default 40 */
  requestsPerClient?: number;
  /** @default 50 */
  eventsPerRequest?: number;
  /** Every n-th event is poison (refused by the sink, dead-lettered); 0 for none. @default 500 */
  poisonEvery?: number;
  /** Milliseconds per second of Retry-After (1000 honours it literally). @default 1000 */
  retryAfterUnitMs?: number;
  /** Wait per batch in the sink, in ms. @default 20 */
  sinkDelayMs?: number;
  /** The sink's first batch waits until the server has answered a 429 (makes throttling certain in tests). @default false */
  stallSinkUntilThrottled?: boolean;
  /** @default 2000 */
  maxBufferSize?: number;
  /** @default 100 */
  batchSize?: number;
  /** Other server options (capacity, streamOptions, maxRetryAfterSeconds, …). */
  server?: Omit<IngestServerOptions, 'deliver' | 'onDeadLetter' | 'strategy' | 'maxBufferSize' | 'batchSize'>;
  log?: (line: string) => void;
}

export interface IngestExampleResult {
  /** Ids of every event in a request answered 202. */
  acknowledged: number[];
  /** id → times the sink received it. */
  delivered: Map<number, number>;
  /** id → times it was dead-lettered. */
  deadLettered: Map<number, number>;
  /** Ids of the poison events the clients sent (every `poisonEvery`-th id): the sink refuses them, so they are dead-lettered. */
  poison: number[];
  /** id → times the strategy dropped it (empty for 'block'). */
  dropped: Map<number, number>;
  /** Every Retry-After (seconds) the clients were told. */
  retryAfters: number[];
  stats: IngestStats;
  metrics: BackpressureMetrics;
}

class PoisonError extends Error {
  /** Not retryable: the stream dead-letters the event at once. */
  readonly retryable = false;
}

function bump(map: Map<number, number>, id: number): void {
  map.set(id, (map.get(id) ?? 0) + 1);
}

export async function run(options: IngestExampleOptions = {}): Promise<IngestExampleResult> {
  const clients = options.clients ?? 8;
  const requestsPerClient = options.requestsPerClient ?? 40;
  const eventsPerRequest = options.eventsPerRequest ?? 50;
  const poisonEvery = options.poisonEvery ?? 500;
  const sinkDelayMs = options.sinkDelayMs ?? 20;
  const log = options.log ?? (() => {});
  const delivered = new Map<number, number>();
  const deadLettered = new Map<number, number>();
  const dropped = new Map<number, number>();

  let throttledOnce: Promise<unknown> | null = null;
  const deliver = async (events: unknown[], ctx: FlushContext): Promise<void | FlushResult<unknown>> => {
    if (throttledOnce !== null) await throttledOnce;
    if (sinkDelayMs > 0) await delay(sinkDelayMs, undefined, { signal: ctx.signal });
    const refused = events.filter((e) => (e as IngestEvent).poison === true);
    for (const e of events) if ((e as IngestEvent).poison !== true) bump(delivered, (e as IngestEvent).id);
    if (refused.length === 0) return undefined;
    return {
      success: events.length - refused.length,
      failed: refused.length,
      errors: [new PoisonError('poison event')],
      failedItems: refused,
    };
  };

  const ingest = new IngestServer({
    ...options.server,
    strategy: options.strategy ?? 'block',
    maxBufferSize: options.maxBufferSize ?? 2000,
    batchSize: options.batchSize ?? 100,
    deliver,
    onDeadLetter: (events) => {
      for (const e of events) bump(deadLettered, (e as IngestEvent).id);
    },
    log,
  });
  if (options.stallSinkUntilThrottled === true) {
    throttledOnce = once(ingest, 'throttled').then(() => {
      throttledOnce = null;
    });
  }
  ingest.stream.on('drop', (event: DropEvent<unknown>) => bump(dropped, (event.item as IngestEvent).id));
  const url = `${await ingest.listen()}/events`;
  log(`listening on ${url}`);
  if (poisonEvery > 0)
    log(`every ${poisonEvery}th event is poison: the sink refuses it for good, so it is dead-lettered, not retried`);

  const acknowledged: number[] = [];
  const poison: number[] = [];
  const retryAfters: number[] = [];
  const sendOptions = options.retryAfterUnitMs === undefined ? {} : { retryAfterUnitMs: options.retryAfterUnitMs };
  const client = async (c: number): Promise<void> => {
    for (let r = 0; r < requestsPerClient; r++) {
      const events: IngestEvent[] = [];
      for (let k = 0; k < eventsPerRequest; k++) {
        const id = (c * requestsPerClient + r) * eventsPerRequest + k + 1;
        events.push(poisonEvery > 0 && id % poisonEvery === 0 ? { id, client: c, poison: true } : { id, client: c });
      }
      const result = await sendEvents(url, events, sendOptions);
      retryAfters.push(...result.retryAfters);
      for (const e of events) {
        acknowledged.push(e.id);
        if (e.poison === true) poison.push(e.id);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  } finally {
    await ingest.close();
  }
  return {
    acknowledged,
    delivered,
    deadLettered,
    poison,
    dropped,
    retryAfters,
    stats: ingest.stats,
    metrics: ingest.getMetrics(),
  };
}

function summarize(result: IngestExampleResult): string {
  const m = result.metrics;
  const s = result.stats;
  let exactlyOnce = 0;
  for (const id of result.acknowledged) {
    const n = (result.delivered.get(id) ?? 0) + (result.deadLettered.get(id) ?? 0) + (result.dropped.get(id) ?? 0);
    if (n === 1) exactlyOnce++;
  }
  const poisonDeadLettered = result.poison.filter((id) => result.deadLettered.has(id)).length;
  const otherDeadLettered = result.deadLettered.size - poisonDeadLettered;
  return [
    `requests          ${s.requests} (${s.acknowledged} acknowledged 202, ${s.throttled} throttled 429, ${s.refused} refused)`,
    `Retry-After       ${result.retryAfters.length === 0 ? 'never sent' : `${Math.min(...result.retryAfters)}..${Math.max(...result.retryAfters)} s`}`,
    `events acked      ${result.acknowledged.length}`,
    `accounted once    ${exactlyOnce} / ${result.acknowledged.length} (delivered ${m.eventsFlushed}, dead-lettered ${m.eventsDeadLettered}, dropped ${m.eventsDropped})`,
    `poison events     ${result.poison.length} sent on purpose, ${poisonDeadLettered} of them dead-lettered (the sink refuses them); ` +
      `${otherDeadLettered} other event(s) dead-lettered`,
    `max buffer seen   ${s.maxBufferSizeSeen} / ${m.maxBufferSize}`,
    `conservation      ${m.eventsAccepted} = ${m.eventsFlushed} + ${m.eventsDropped} + ${m.eventsDeadLettered} + ${m.bufferSize} + ${m.inFlight}`,
  ].join('\n');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args[0] === '--serve') {
    const server = new IngestServer({ log: (line) => console.log(line) });
    const fail = (err: Error): void => {
      console.error(`ingest server: ${err.message}`);
      process.exitCode = 1;
    };
    server.listen(Number(args[1] ?? 8080)).then((url) => {
      console.log(`POST NDJSON to ${url}/events, GET ${url}/stats; Ctrl-C to stop`);
      process.once('SIGINT', () => {
        server.close().then((m) => console.log(`drained: ${JSON.stringify(m)}`), fail);
      });
    }, fail);
  } else {
    run({ log: (line) => console.log(line) }).then(
      (result) => console.log(summarize(result)),
      (err: unknown) => {
        console.error(err);
        process.exitCode = 1;
      },
    );
  }
}
