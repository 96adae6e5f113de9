/**
 * examples/http-ingest-server: concurrent real clients (fetch) against a real
 * node:http server on 127.0.0.1. A 202 means every event of the request is
 * accepted (delivered exactly once or dead-lettered); a 429 means none is, so
 * retrying the whole request never duplicates or loses anything.
 */
import { once } from 'node:events';
import { run, type IngestExampleResult } from '../../examples/http-ingest-server/main';
import { IngestServer } from '../../examples/http-ingest-server/ingest-server';
import { DrainRateMeter, retryAfterSeconds } from '../../examples/http-ingest-server/drain-rate';

const CLIENTS = 6;
const REQUESTS = 8;
const EVENTS = 10;
const TOTAL = CLIENTS * REQUESTS * EVENTS;

function expectEachAcknowledgedOnce(result: IngestExampleResult): void {
  const allIds = Array.from({ length: TOTAL }, (_, i) => i + 1);
  expect([...result.acknowledged].sort((a, b) => a - b)).toEqual(allIds);
  for (const id of allIds) {
    const times = (result.delivered.get(id) ?? 0) + (result.deadLettered.get(id) ?? 0) + (result.dropped.get(id) ?? 0);
    expect([id, times]).toEqual([id, 1]);
  }
  // Nothing reached the sink, the dead letters or the drops that was not acknowledged.
  for (const map of [result.delivered, result.deadLettered, result.dropped]) {
    for (const id of map.keys()) expect(id >= 1 && id <= TOTAL).toBe(true);
  }
}

function expectConservation(result: IngestExampleResult): void {
  const m = result.metrics;
  // Only acknowledged events were ever accepted: a 429'd request put nothing in the stream.
  expect(m.eventsAccepted).toBe(TOTAL);
  expect(m.bufferSize + m.inFlight).toBe(0);
  expect(m.eventsAccepted).toBe(m.eventsFlushed + m.eventsDropped + m.eventsDeadLettered);
}

test("'block': every acknowledged event reaches the sink exactly once or is dead-lettered; 429s happened; memory stayed bounded", async () => {
  const result = await run({
    clients: CLIENTS,
    requestsPerClient: REQUESTS,
    eventsPerRequest: EVENTS,
    poisonEvery: 37,
    maxBufferSize: 60,
    batchSize: 10,
    sinkDelayMs: 1,
    // Makes the 429 certain rather than likely: the sink is stalled until the server had to push back.
    stallSinkUntilThrottled: true,
    retryAfterUnitMs: 2,
  });

  expectEachAcknowledgedOnce(result);
  expectConservation(result);
  expect(result.dropped.size).toBe(0);
  expect(result.deadLettered.size).toBe(Math.floor(TOTAL / 37));
  expect([...result.deadLettered.keys()].every((id) => id % 37 === 0)).toBe(true);
  // The summary's "poison events" line: exactly the poison ids the clients sent were dead-lettered.
  expect([...result.deadLettered.keys()].sort((a, b) => a - b)).toEqual([...result.poison].sort((a, b) => a - b));
  expect(result.stats.throttled).toBeGreaterThan(0);
  expect(result.retryAfters.length).toBe(result.stats.throttled);
  for (const seconds of result.retryAfters) {
    expect(Number.isInteger(seconds)).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual(1);
    expect(seconds).toBeLessThanOrEqual(30);
  }
  expect(result.stats.acknowledged).toBe(CLIENTS * REQUESTS);
  expect(result.stats.maxBufferSizeSeen).toBeGreaterThan(0);
  expect(result.stats.maxBufferSizeSeen).toBeLessThanOrEqual(60);
});

test("'sample': each acknowledged event is delivered, sampled out (counted by reason) or dead-lettered, exactly once", async () => {
  const result = await run({
    strategy: 'sample',
    clients: CLIENTS,
    requestsPerClient: REQUESTS,
    eventsPerRequest: EVENTS,
    poisonEvery: 0,
    maxBufferSize: 60,
    batchSize: 10,
    sinkDelayMs: 1,
    stallSinkUntilThrottled: true,
    retryAfterUnitMs: 2,
    server: { capacity: 20, streamOptions: { sampleRate: 4 } },
  });

  expectEachAcknowledgedOnce(result);
  expectConservation(result);
  expect(result.dropped.size).toBe(result.metrics.eventsDropped);
  expect(result.metrics.droppedByReason['sampled-out']).toBeGreaterThan(0);
  expect(result.stats.throttled).toBeGreaterThan(0);
  // The shedding stage may hold up to `capacity` on top of the buffer.
  expect(result.stats.maxBufferSizeSeen).toBeLessThanOrEqual(60 + 20);
});

describe('refused requests put nothing into the stream', () => {
  let server: IngestServer;
  let base: string;

  beforeEach(async () => {
    server = new IngestServer({ maxBufferSize: 5, batchSize: 5, maxBodyBytes: 1000, sinkDelayMs: 0 });
    base = await server.listen();
  });

  afterEach(async () => {
    server.server.closeAllConnections();
    await server.close();
  });

  async function post(body: string): Promise<{ status: number; json: { accepted: number; error?: string } }> {
    const response = await fetch(`${base}/events`, { method: 'POST', body });
    return { status: response.status, json: (await response.json()) as { accepted: number; error?: string } };
  }

  test('a line that is not JSON, or is null: 400, none of the request accepted', async () => {
    expect(await post('{"id":1}\n{"id":2\n')).toEqual({
      status: 400,
      json: { accepted: 0, error: 'line 2: not JSON' },
    });
    expect(await post('{"id":1}\nnull\n')).toEqual({
      status: 400,
      json: { accepted: 0, error: 'line 2: null is not an event' },
    });
    expect(server.getMetrics().eventsAccepted).toBe(0);
    expect(await post('{"id":1}\r\n\r\n{"id":2}')).toEqual({ status: 202, json: { accepted: 2 } });
    expect(server.getMetrics().eventsAccepted).toBe(2);
  });

  test('more events than the buffer can ever hold, or a body over the limit: 413', async () => {
    const six = Array.from({ length: 6 }, (_, i) => JSON.stringify({ id: i })).join('\n');
    expect((await post(six)).status).toBe(413);
    expect((await post(`"${'x'.repeat(2000)}"`)).status).toBe(413);
    expect(server.getMetrics().eventsAccepted).toBe(0);
  });

  test('wrong route or method: 404 / 405; GET /stats reports the counters', async () => {
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/events`)).status).toBe(405);
    const stats = (await (await fetch(`${base}/stats`)).json()) as {
      requests: number;
      refused: number;
      eventsAccepted: number;
    };
    expect(stats).toMatchObject({ requests: 3, refused: 2, eventsAccepted: 0 });
  });

  test('close() resolves once everything accepted was delivered', async () => {
    expect((await post('{"id":1}')).status).toBe(202);
    const metrics = await server.close();
    expect(metrics.eventsFlushed).toBe(1);
    expect(metrics.state).toBe('closed');
  });
});

test('Retry-After: held ÷ drain rate, rounded up, between 1 s and the cap', () => {
  expect(retryAfterSeconds(500, 0, 30)).toBe(1); // rate not measured yet
  expect(retryAfterSeconds(500, 1000, 30)).toBe(1);
  expect(retryAfterSeconds(2500, 1000, 30)).toBe(3);
  expect(retryAfterSeconds(1_000_000, 10, 30)).toBe(30);
  const meter = new DrainRateMeter(2);
  expect(meter.itemsPerSecond()).toBe(0);
  meter.record(100, 50);
  meter.record(100, 150); // 200 items in 200 ms of flushing
  expect(meter.itemsPerSecond()).toBe(1000);
  meter.record(300, 100); // the oldest falls out: 400 items in 250 ms
  expect(meter.itemsPerSecond()).toBe(1600);
  meter.record(10, 0);
  meter.record(10, 0);
  expect(meter.itemsPerSecond()).toBe(Infinity);
  expect(retryAfterSeconds(10, Infinity, 30)).toBe(1);
});

test('the stream going back below critical re-opens admission (an "accepting" event)', async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const server = new IngestServer({ maxBufferSize: 10, batchSize: 5, deliver: () => gate });
  const base = await server.listen();
  try {
    const post = async (): Promise<Response> => {
      const response = await fetch(`${base}/events`, {
        method: 'POST',
        body: '{"a":1}\n{"a":2}\n{"a":3}\n{"a":4}\n{"a":5}\n',
      });
      await response.text();
      return response;
    };
    const statuses: number[] = [];
    // 5 go in flight, then 10 fill the buffer: blocked.
    for (let i = 0; i < 4; i++) statuses.push((await post()).status);
    expect(statuses).toEqual([202, 202, 202, 429]);
    const throttled = await post();
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('1');
    expect(server.getMetrics().eventsAccepted).toBe(15);
    const accepting = once(server, 'accepting');
    release();
    await accepting;
    expect((await post()).status).toBe(202);
  } finally {
    server.server.closeAllConnections();
    await server.close();
  }
});
