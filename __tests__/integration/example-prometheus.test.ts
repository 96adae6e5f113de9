/**
 * examples/prometheus: the metrics scraped over real HTTP move by exactly what
 * the stream did between two scrapes, counters never go backwards, and drops
 * are counted by reason.
 */
import { once } from 'node:events';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { backpressure, type StrategyMetrics, type StrategyWritable } from '../../lib/compose/backpressure';
import type { FlushContext, FlushResult } from '../../lib';
import { bindPrometheusMetrics, type PrometheusBinding } from '../../examples/prometheus/bind-prometheus-metrics';
import { createMetricsServer } from '../../examples/prometheus/metrics-server';
import { run } from '../../examples/prometheus/main';

/** Series → value from the Prometheus text format (`name{labels} value` lines). */
type Scrape = Map<string, number>;

function parseExposition(text: string): Scrape {
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    series.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return series;
}

function value(scrape: Scrape, name: string): number {
  const v = scrape.get(name);
  if (v === undefined) throw new Error(`series ${name} missing; have ${[...scrape.keys()].join(', ')}`);
  return v;
}

const COUNTERS = [
  'backpressure_events_accepted_total',
  'backpressure_events_flushed_total',
  'backpressure_events_dead_lettered_total',
  'backpressure_events_retried_total',
  'backpressure_events_dropped_total{reason="rejected-newest"}',
  'backpressure_flush_duration_seconds_count',
];

/** Not retryable: the core dead-letters it at once. */
class PoisonError extends Error {
  readonly retryable = false;
}

let server: http.Server;
let url: string;
let registry: Registry;
let binding: PrometheusBinding;
let stream: StrategyWritable<number>;
let gate: Promise<void> | null = null;
let openGate: () => void = () => {};
let failuresLeft = 0;
const deadLettered: number[] = [];
let flushEvents = 0;

/** The sink: waits while the gate is shut; fails the first attempts while asked to; refuses item 13 for good. */
async function flush(batch: number[], _ctx: FlushContext): Promise<void | FlushResult<number>> {
  if (gate !== null) await gate;
  if (failuresLeft > 0) {
    failuresLeft--;
    throw new Error('transient');
  }
  if (batch.includes(13))
    return { success: batch.length - 1, failed: 1, errors: [new PoisonError('13 is poison')], failedItems: [13] };
  return undefined;
}

async function scrape(): Promise<Scrape> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe(registry.contentType);
  return parseExposition(await response.text());
}

/** Resolves once `predicate(getMetrics())` holds (polled: waiting only, nothing is timed). */
async function until(predicate: (m: StrategyMetrics) => boolean): Promise<void> {
  while (!predicate(stream.getMetrics())) await new Promise((resolve) => setTimeout(resolve, 2));
}

beforeEach(async () => {
  gate = null;
  failuresLeft = 0;
  deadLettered.length = 0;
  flushEvents = 0;
  stream = backpressure<number>({
    strategy: 'drop-newest',
    capacity: 10,
    maxBufferSize: 20,
    batchSize: 5,
    minFlushIntervalMs: 1,
    retry: { retries: 3, minDelayMs: 1, maxDelayMs: 5 },
    onDeadLetter: (items) => {
      deadLettered.push(...items);
    },
    flush,
  });
  stream.on('flush', () => flushEvents++);
  registry = new Registry();
  binding = bindPrometheusMetrics(stream, registry);
  server = createMetricsServer(registry);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
});

afterEach(async () => {
  openGate();
  binding.unbind();
  if (!stream.destroyed) stream.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

test('counters move by exactly what happened between scrapes, drops by reason, never backwards', async () => {
  const s0 = await scrape();
  for (const name of COUNTERS) expect([name, value(s0, name)]).toEqual([name, 0]);
  expect(value(s0, 'backpressure_state{state="normal"}')).toBe(1);
  expect(value(s0, 'backpressure_state{state="blocked"}')).toBe(0);

  // Traffic 1: 30 items through an open sink; the first attempt fails (5 items retried), item 13 is dead-lettered.
  failuresLeft = 1;
  for (let i = 1; i <= 30; i++) stream.write(i);
  await until((m) => m.eventsFlushed + m.eventsDeadLettered === 30);
  const s1 = await scrape();
  expect(value(s1, 'backpressure_events_accepted_total') - value(s0, 'backpressure_events_accepted_total')).toBe(30);
  expect(value(s1, 'backpressure_events_flushed_total') - value(s0, 'backpressure_events_flushed_total')).toBe(29);
  expect(
    value(s1, 'backpressure_events_dead_lettered_total') - value(s0, 'backpressure_events_dead_lettered_total'),
  ).toBe(1);
  expect(value(s1, 'backpressure_events_retried_total') - value(s0, 'backpressure_events_retried_total')).toBe(5);
  expect(value(s1, 'backpressure_events_dropped_total{reason="rejected-newest"}')).toBe(0);
  expect(value(s1, 'backpressure_flush_duration_seconds_count')).toBe(flushEvents);
  expect(deadLettered).toEqual([13]);

  // Traffic 2: the sink stalls, 100 items arrive at once: the writable fills, the stage holds 10, the rest is refused.
  let release!: () => void;
  gate = new Promise<void>((resolve) => (release = resolve));
  openGate = release;
  for (let i = 31; i <= 130; i++) stream.write(i);
  await until((m) => m.state === 'blocked' && m.stage.held === m.stage.capacity);
  const before = stream.getMetrics();
  const s2 = await scrape();
  expect(stream.getMetrics()).toEqual(before); // the stalled stream did not move during the scrape
  const droppedNow = before.droppedByReason['rejected-newest'] ?? 0;
  expect(droppedNow).toBeGreaterThan(0);
  expect(value(s2, 'backpressure_events_accepted_total') - value(s1, 'backpressure_events_accepted_total')).toBe(100);
  expect(
    value(s2, 'backpressure_events_dropped_total{reason="rejected-newest"}') -
      value(s1, 'backpressure_events_dropped_total{reason="rejected-newest"}'),
  ).toBe(droppedNow);
  expect(value(s2, 'backpressure_events_dropped_total{reason="destroyed"}')).toBe(0);
  expect(value(s2, 'backpressure_events_flushed_total')).toBe(value(s1, 'backpressure_events_flushed_total'));
  expect(value(s2, 'backpressure_buffer_size')).toBe(before.bufferSize);
  expect(value(s2, 'backpressure_in_flight')).toBe(before.inFlight);
  expect(value(s2, 'backpressure_buffer_utilization')).toBe(before.bufferUtilization);
  expect(value(s2, 'backpressure_state{state="blocked"}')).toBe(1);
  expect(value(s2, 'backpressure_state{state="normal"}')).toBe(0);

  // Drain: everything that was not refused reaches the sink.
  openGate();
  gate = null;
  stream.end();
  await once(stream, 'finish');
  const s3 = await scrape();
  expect(value(s3, 'backpressure_events_flushed_total') - value(s2, 'backpressure_events_flushed_total')).toBe(
    100 - droppedNow,
  );
  expect(value(s3, 'backpressure_state{state="closed"}')).toBe(1);
  // The scraped numbers balance on their own: accepted = flushed + dropped + dead-lettered + held + in flight.
  expect(value(s3, 'backpressure_events_accepted_total')).toBe(
    value(s3, 'backpressure_events_flushed_total') +
      value(s3, 'backpressure_events_dropped_total{reason="rejected-newest"}') +
      value(s3, 'backpressure_events_dropped_total{reason="destroyed"}') +
      value(s3, 'backpressure_events_dead_lettered_total') +
      value(s3, 'backpressure_buffer_size') +
      value(s3, 'backpressure_in_flight'),
  );
  for (const [earlier, later] of [
    [s0, s1],
    [s1, s2],
    [s2, s3],
  ] as const) {
    for (const name of COUNTERS) expect(value(later, name)).toBeGreaterThanOrEqual(value(earlier, name));
  }
});

test('unbind removes the metrics and stops observing the stream', async () => {
  expect(binding.names).toContain('backpressure_events_dropped_total');
  binding.unbind();
  const text = await (await fetch(url)).text();
  expect(text.trim()).toBe('');
  // Rebinding to the same registry works once the old metrics are gone.
  binding = bindPrometheusMetrics(stream, registry);
  stream.write(1);
  await until((m) => m.eventsFlushed === 1);
  expect(value(await scrape(), 'backpressure_events_flushed_total')).toBe(1);
});

test('the server answers 404 off /metrics', async () => {
  const response = await fetch(url.replace('/metrics', '/other'));
  expect(response.status).toBe(404);
  await response.text();
});

test('run(): every scrape after a burst balances and the counters only grow', async () => {
  const result = await run({
    port: 0,
    rounds: 2,
    eventsPerRound: 400,
    maxBufferSize: 100,
    capacity: 50,
    batchSize: 20,
    sinkDelayMs: 1,
  });
  expect(result.scrapes).toHaveLength(3);
  const scrapes = result.scrapes.map(parseExposition);
  const accepted = scrapes.map((s) => value(s, 'backpressure_events_accepted_total'));
  expect(accepted).toEqual([400, 800, 800]);
  for (const s of scrapes) {
    const dropped = value(s, 'backpressure_events_dropped_total{reason="evicted-oldest"}');
    expect(dropped).toBeGreaterThan(0);
    expect(value(s, 'backpressure_events_accepted_total')).toBe(
      value(s, 'backpressure_events_flushed_total') + dropped,
    );
  }
  const last = scrapes[2] as Scrape;
  expect(value(last, 'backpressure_events_flushed_total')).toBe(result.metrics.eventsFlushed);
  expect(value(last, 'backpressure_events_dropped_total{reason="evicted-oldest"}')).toBe(
    result.metrics.droppedByReason['evicted-oldest'],
  );
});
