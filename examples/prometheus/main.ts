/**
 * Example: a stream's metrics exposed to Prometheus with prom-client.
 *
 *   npm run example:prometheus              # a few bursts, prints the last scrape, exits
 *   npm run example:prometheus -- --serve   # bursts every second on :9464/metrics until Ctrl-C
 *
 * Bursts of events go into `backpressure({ strategy: 'drop-oldest' })` in front
 * of a slow sink; after each burst has drained, the example scrapes its own
 * /metrics over HTTP, as Prometheus would.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { Registry } from 'prom-client';
import { backpressure, type DropStrategyOptions } from '../../lib/compose/backpressure';
import type { BackpressureMetrics } from '../../lib';
import { bindPrometheusMetrics } from './bind-prometheus-metrics';
import { createMetricsServer } from './metrics-server';

export interface PrometheusExampleOptions {
  /** Port of the /metrics server (0: any free port). @default 9464 (Prometheus' usual exporter range) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** A drop strategy (the one whose drops the metrics show). @default 'drop-oldest' */
  strategy?: DropStrategyOptions<number>['strategy'];
  /** Bursts of events; each is written at once, then left to drain before the scrape. @default 3 */
  rounds?: number;
  /** @default 3000 */
  eventsPerRound?: number;
  /** Pause between bursts, in ms. @default 0 */
  roundIntervalMs?: number;
  /** Wait before each batch, in ms (the slow sink). @default 10 */
  sinkDelayMs?: number;
  /** @default 1000 */
  maxBufferSize?: number;
  /** Items the strategy stage holds in front of the writable. @default 500 */
  capacity?: number;
  /** @default 100 */
  batchSize?: number;
  /** Stops before the next burst; the stream then drains and the server closes. */
  signal?: AbortSignal;
  /** Called with each scrape's text. @default none */
  onScrape?: (text: string, label: string) => void;
}

export interface PrometheusExampleResult {
  url: string;
  /** One scrape (the exposition text) after each round, plus a last one after the stream finished. */
  scrapes: string[];
  metrics: BackpressureMetrics;
}

export async function run(options: PrometheusExampleOptions = {}): Promise<PrometheusExampleResult> {
  const sinkDelayMs = options.sinkDelayMs ?? 10;
  const stream = backpressure<number>({
    strategy: options.strategy ?? 'drop-oldest',
    capacity: options.capacity ?? 500,
    maxBufferSize: options.maxBufferSize ?? 1000,
    batchSize: options.batchSize ?? 100,
    flush: async (_batch, ctx) => {
      await delay(sinkDelayMs, undefined, { signal: ctx.signal });
    },
  });
  const registry = new Registry();
  const binding = bindPrometheusMetrics(stream, registry);
  const server = createMetricsServer(registry);
  server.listen(options.port ?? 9464, options.host ?? '127.0.0.1');
  await once(server, 'listening');
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address}:${port}/metrics`;

  const scrapes: string[] = [];
  const scrape = async (label: string): Promise<void> => {
    const response = await fetch(url);
    const text = await response.text();
    scrapes.push(text);
    options.onScrape?.(text, label);
  };

  try {
    const rounds = options.rounds ?? 3;
    const perRound = options.eventsPerRound ?? 3000;
    let next = 0;
    for (let round = 1; round <= rounds && options.signal?.aborted !== true; round++) {
      // A burst far larger than the stage + buffer: the strategy has to drop.
      for (let i = 0; i < perRound; i++) stream.write(next++);
      await drained(stream);
      await scrape(`after burst ${round}`);
      if ((options.roundIntervalMs ?? 0) > 0) {
        await delay(
          options.roundIntervalMs,
          undefined,
          options.signal === undefined ? {} : { signal: options.signal },
        ).catch(() => {});
      }
    }
    stream.end();
    await once(stream, 'finish');
    await scrape('after the stream finished');
    return { url, scrapes, metrics: stream.getMetrics() };
  } finally {
    binding.unbind();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Resolves once nothing is held or in flight (checked after each batch). */
async function drained(stream: {
  getMetrics(): BackpressureMetrics;
  on(e: 'flush', f: () => void): unknown;
  off(e: 'flush', f: () => void): unknown;
}): Promise<void> {
  const empty = (): boolean => {
    const m = stream.getMetrics();
    return m.bufferSize === 0 && m.inFlight === 0;
  };
  if (empty()) return;
  await new Promise<void>((resolve) => {
    const check = (): void => {
      // 'flush' fires before the next batch is taken: look once the stream has moved on.
      setImmediate(() => {
        if (!empty()) return;
        stream.off('flush', check);
        resolve();
      });
    };
    stream.on('flush', check);
  });
}

/** The sample lines of our own metrics (no HELP/TYPE, no histogram buckets): what a reader wants to see. */
function summary(text: string): string {
  return text
    .split('\n')
    .filter((line) => line.startsWith('backpressure_') && !line.includes('_bucket{'))
    .join('\n');
}

if (require.main === module) {
  const serve = process.argv.includes('--serve');
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  run({
    rounds: serve ? Infinity : 3,
    roundIntervalMs: serve ? 1000 : 0,
    signal: controller.signal,
    onScrape: (text, label) => {
      if (serve) console.log(`${label}: scraped ${text.length} bytes`);
      else console.log(`--- scrape ${label} ---\n${summary(text)}\n`);
    },
  }).then(
    (result) => console.log(`final: ${JSON.stringify({ url: result.url, ...result.metrics })}`),
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
  if (serve) console.log('serving http://127.0.0.1:9464/metrics, a burst every second; Ctrl-C to stop');
}
