import { AdaptiveController } from '../../lib/resilience/adaptive-controller';

/**
 * The control loop against a processor-sharing sink in virtual time (deterministic, no timers),
 * the model of bench/adaptive.bench.ts: each call needs 5 ms + 0.02 ms per item of service; past
 * the knee every active call runs at (knee / active)² of full speed, so a call's latency depends
 * on what else runs while it runs — including calls started after it. The loop is told about
 * completions (onSuccess) and, as the scheduler's timer does, about calls still running once
 * stallCheckAt says so (onStalled).
 */
interface Call {
  left: number;
  items: number;
  startedAt: number;
  told: boolean;
}

interface Event {
  t: number;
  kind: 'completed' | 'stalled';
  batch: number;
  concurrency: number;
}

function simulate(knee: (t: number) => number, until: number, stalls = true): Event[] {
  const c = new AdaptiveController(
    { minBatchSize: 1, maxBatchSize: 20000, maxConcurrency: 16, targetLatencyMs: 500 },
    100,
    1,
    0,
  );
  const active = new Set<Call>();
  const events: Event[] = [];
  let t = 0;
  const start = (): void => {
    while (active.size < c.concurrency) {
      active.add({ left: 5 + 0.02 * c.batchSize, items: c.batchSize, startedAt: t, told: false });
    }
  };
  start();
  while (t < until) {
    const k = knee(t);
    const speed = active.size > k ? (k / active.size) ** 2 : 1;
    let first: Call | undefined;
    for (const call of active) if (first === undefined || call.left < first.left) first = call;
    const done = first as Call;
    const step = Math.min(done.left / speed, 1); // the knee and the stall checks, at least every ms
    for (const call of active) call.left -= step * speed;
    t += step;
    if (done.left <= 1e-9) {
      active.delete(done);
      c.onSuccess(t, done.items, t - done.startedAt, true);
      events.push({ t, kind: 'completed', batch: c.batchSize, concurrency: c.concurrency });
    } else if (stalls) {
      for (const call of active) {
        if (call.told || t < c.stallCheckAt(call.startedAt, call.items)) continue;
        call.told = true;
        c.onStalled(t, call.startedAt, call.items);
        events.push({ t, kind: 'stalled', batch: c.batchSize, concurrency: c.concurrency });
      }
    }
    start();
  }
  return events;
}

/** Share of completions in [from, to) that happened at `lanes` lanes. */
function shareAt(events: Event[], lanes: number, from: number, to: number): number {
  const window = events.filter((e) => e.kind === 'completed' && e.t >= from && e.t < to);
  return window.filter((e) => e.concurrency === lanes).length / window.length;
}

describe('adaptive control loop under congestion (processor-sharing sink)', () => {
  test('when the knee drops from 8 to 2 it starts cutting before the congested calls complete, and settles at 2', () => {
    const events = simulate((t) => (t < 10000 ? 8 : 2), 30000);
    const before = events.filter((e) => e.t < 10000).pop() as Event;
    expect(before.concurrency).toBeGreaterThanOrEqual(7);
    const firstCompletionAfter = events.find((e) => e.kind === 'completed' && e.t > 10000) as Event;
    const firstCut = events.find((e) => e.t > 10000 && e.concurrency < before.concurrency - 1) as Event;
    // A call older than the latency ceiling already says the sink congested: the loop does not
    // wait seconds for the first congested call to complete (without onStalled it does, below).
    expect(firstCut.kind).toBe('stalled');
    expect(firstCut.t).toBeLessThan(firstCompletionAfter.t);
    expect(firstCut.t - 10000).toBeLessThan(1000);
    expect(shareAt(events, 2, 15000, 30000)).toBeGreaterThan(0.8);
  });

  test('without onStalled the first cut waits for a congested call to complete (what the timer buys)', () => {
    const events = simulate((t) => (t < 10000 ? 8 : 2), 20000, false);
    const firstCompletionAfter = events.find((e) => e.kind === 'completed' && e.t > 10000) as Event;
    const firstCut = events.find((e) => e.t > 10000 && e.concurrency < 7) as Event;
    expect(firstCut.t).toBeGreaterThanOrEqual(firstCompletionAfter.t);
  });

  test('at a fixed knee it sits at the knee, and every probe past it is undone before its call completes', () => {
    const events = simulate(() => 4, 40000);
    expect(shareAt(events, 4, 10000, 40000)).toBeGreaterThan(0.85);
    // Each excursion to 5 lanes ends through onStalled (its call ran too long to show a gain), not
    // a warm-up and a window of completions later.
    const late = events.filter((e) => e.t >= 10000);
    for (let i = 1; i < late.length; i++) {
      const [prev, cur] = [late[i - 1] as Event, late[i] as Event];
      if (prev.concurrency === 5 && cur.concurrency === 4) expect(cur.kind).toBe('stalled');
    }
  });

  test('a lane fewer is not tried again while latency per item has not risen; a lane more still is', () => {
    const events = simulate(() => 2, 60000);
    const settled = events.filter((e) => e.t >= 20000 && e.kind === 'completed');
    const downProbes = settled.filter(
      (e, i) => i > 0 && e.concurrency === 1 && (settled[i - 1] as Event).concurrency === 2,
    );
    const upProbes = events.filter(
      (e, i) => e.t >= 20000 && i > 0 && e.concurrency === 3 && (events[i - 1] as Event).concurrency === 2,
    );
    expect(downProbes.length).toBe(0);
    // Probing up goes on (a knee that moves up is found), but backed off: a handful in 40 s.
    expect(upProbes.length).toBeGreaterThan(0);
    expect(upProbes.length).toBeLessThanOrEqual(12);
  });

  test('a knee that moves up is found', () => {
    const events = simulate((t) => (t < 10000 ? 2 : 8), 40000);
    expect(shareAt(events, 2, 5000, 10000)).toBeGreaterThan(0.7);
    const late = events.filter((e) => e.t >= 30000 && e.kind === 'completed');
    expect(Math.min(...late.map((e) => e.concurrency))).toBeGreaterThanOrEqual(7);
  });
});
