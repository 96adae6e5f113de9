import { AdaptiveController } from '../../lib/resilience/adaptive-controller';

/**
 * The control loop on a simulated sink in virtual time (deterministic, no
 * timers): latency = (overhead + perItem × batch) × congestion, congestion =
 * (active/knee)² past the knee, fixed when a call starts.
 */
function simulate(options: {
  knee: (t: number) => number;
  until: number;
  targetLatencyMs?: number;
  failAt?: number[];
}) {
  const c = new AdaptiveController(
    { minBatchSize: 1, maxBatchSize: 20000, maxConcurrency: 16, targetLatencyMs: options.targetLatencyMs ?? 500 },
    100,
    1,
    0,
  );
  let now = 0;
  const lanes: { end: number; items: number; latency: number }[] = [];
  const trace: { t: number; batch: number; concurrency: number }[] = [];
  const failAt = [...(options.failAt ?? [])];
  while (now < options.until) {
    while (lanes.length < c.concurrency) {
      const active = lanes.length + 1;
      const knee = options.knee(now);
      const congestion = active > knee ? (active / knee) ** 2 : 1;
      const latency = (5 + 0.02 * c.batchSize) * congestion;
      lanes.push({ end: now + latency, items: c.batchSize, latency });
    }
    lanes.sort((a, b) => a.end - b.end);
    const lane = lanes.shift() as (typeof lanes)[number];
    now = lane.end;
    if (failAt.length > 0 && now >= (failAt[0] as number)) {
      failAt.shift();
      c.onFailure(now);
    } else {
      c.onSuccess(now, lane.items, lane.latency, true);
    }
    trace.push({ t: now, batch: c.batchSize, concurrency: c.concurrency });
  }
  return { controller: c, trace };
}

function settledAfter(trace: { t: number; batch: number; concurrency: number }[], from: number) {
  return trace.filter((p) => p.t >= from);
}

describe('adaptive control loop', () => {
  test('climbs from the defaults to big batches and about the knee in lanes, under the latency target', () => {
    const { trace } = simulate({ knee: () => 4, until: 30000 });
    const late = settledAfter(trace, 20000);
    const concurrencies = late.map((p) => p.concurrency);
    expect(Math.min(...late.map((p) => p.batch))).toBeGreaterThan(5000);
    // latency = 5 + 0.02 × batch stays under 500 ms
    expect(Math.max(...late.map((p) => 5 + 0.02 * p.batch))).toBeLessThan(500);
    // most of the time at the knee, probing one lane either side
    const atKnee = concurrencies.filter((n) => n === 4).length / concurrencies.length;
    expect(atKnee).toBeGreaterThan(0.6);
    expect(Math.max(...concurrencies)).toBeLessThanOrEqual(5);
    expect(Math.min(...concurrencies)).toBeGreaterThanOrEqual(3);
  });

  test('backs off when the knee moves down, and settles at the new knee', () => {
    const { trace } = simulate({ knee: (t) => (t < 20000 ? 8 : 2), until: 45000 });
    const before = settledAfter(trace, 15000).filter((p) => p.t < 20000);
    expect(Math.max(...before.map((p) => p.concurrency))).toBeGreaterThanOrEqual(7);
    const after = settledAfter(trace, 30000);
    const atKnee = after.filter((p) => p.concurrency === 2).length / after.length;
    expect(atKnee).toBeGreaterThan(0.6);
    expect(Math.max(...after.map((p) => p.concurrency))).toBeLessThanOrEqual(3);
  });

  test('a failure halves concurrency and batch size at once', () => {
    const { trace } = simulate({ knee: () => 8, until: 20000, failAt: [15000] });
    const i = trace.findIndex((p) => p.t >= 15000);
    const before = trace[i - 1] as (typeof trace)[number];
    const after = trace[i] as (typeof trace)[number];
    expect(after.concurrency).toBe(Math.max(1, Math.floor(before.concurrency / 2)));
    expect(Math.abs(after.batch - before.batch * 0.5)).toBeLessThanOrEqual(1);
  });

  test('with a slow producer (not backlogged) it does not probe', () => {
    const c = new AdaptiveController(
      { minBatchSize: 1, maxBatchSize: 1000, maxConcurrency: 8, targetLatencyMs: 500 },
      100,
      1,
      0,
    );
    for (let t = 10; t < 10000; t += 10) c.onSuccess(t, 100, 5, false);
    expect(c.adjustments).toBe(0);
    expect([c.batchSize, c.concurrency]).toEqual([100, 1]);
  });

  test('stays within its bounds', () => {
    const c = new AdaptiveController(
      { minBatchSize: 50, maxBatchSize: 400, maxConcurrency: 3, targetLatencyMs: 1000 },
      100,
      1,
      0,
    );
    for (let t = 10; t < 60000; t += 10) c.onSuccess(t, c.batchSize, 5, true);
    expect(c.batchSize).toBeLessThanOrEqual(400);
    expect(c.concurrency).toBeLessThanOrEqual(3);
    for (let i = 0; i < 20; i++) c.onFailure(60000 + i);
    expect(c.batchSize).toBe(50);
    expect(c.concurrency).toBe(1);
  });
});
