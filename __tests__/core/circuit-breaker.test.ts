import { BackpressureWritable, type CircuitChange } from '../../lib';
import { CircuitBreaker } from '../../lib/resilience/circuit-breaker';
import { ControlledSink, dispose, expectConserved, range, settle } from '../helpers/core-helpers';

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

describe('CircuitBreaker state machine', () => {
  test('closed → open after N consecutive failures → half-open after cooldown (one probe) → closed on success', () => {
    const changes: string[] = [];
    const b = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000 }, (c) => changes.push(`${c.from}>${c.to}`));
    expect(b.admit(0)).toBe(0);
    b.failure(0);
    b.failure(0);
    b.success(); // resets the count
    b.failure(10);
    b.failure(10);
    expect(b.state).toBe('closed');
    b.failure(10);
    expect(b.state).toBe('open');
    expect(b.admit(500)).toBe(510);
    expect(b.admit(1010)).toBe(0); // the probe
    expect(b.state).toBe('half-open');
    expect(b.admit(1010)).toBeGreaterThan(0); // only one probe at a time
    b.failure(1020); // probe failed: open again, new cooldown
    expect(b.state).toBe('open');
    expect(b.admit(1500)).toBe(520);
    expect(b.admit(2020)).toBe(0);
    b.success();
    expect(b.state).toBe('closed');
    expect(b.opens).toBe(2);
    expect(changes).toEqual(['closed>open', 'open>half-open', 'half-open>open', 'open>half-open', 'half-open>closed']);
  });
});

describe('circuitBreaker option on BackpressureWritable', () => {
  test('while open no flush is attempted and no retry is spent; the buffer fills and BLOCK applies; a probe closes it', async () => {
    const sink = new ControlledSink<number>();
    const circuit: CircuitChange[] = [];
    const w = new BackpressureWritable<number>({
      batchSize: 2,
      maxBufferSize: 4,
      retry: { retries: 3, minDelayMs: 10, maxDelayMs: 10 },
      circuitBreaker: { failureThreshold: 2, cooldownMs: 5000 },
      flush: sink.flush,
    });
    w.on('circuit', (c: CircuitChange) => circuit.push(c));
    w.write(0);
    w.write(1);
    sink.pending.reject(new Error('down'));
    await settle();
    await jest.advanceTimersByTimeAsync(10);
    sink.pending.reject(new Error('down'));
    await settle();
    expect(w.getMetrics()).toMatchObject({ circuitState: 'open', circuitOpens: 1 });
    expect(circuit.map((c) => c.to)).toEqual(['open']);
    // the retry timer fires, but the circuit is open: no call, attempt not spent
    await jest.advanceTimersByTimeAsync(4000);
    expect(sink.calls).toHaveLength(2);
    const results = range(6, 2).map((i) => w.write(i));
    expect(results.at(-1)).toBe(false); // buffer (4) full while the circuit is open
    expect(w.state).toBe('blocked');
    await jest.advanceTimersByTimeAsync(1000);
    expect(sink.calls).toHaveLength(3); // the probe
    expect(sink.pending.attempt).toBe(3);
    expect(w.getMetrics().circuitState).toBe('half-open');
    sink.pending.resolve();
    await settle();
    expect(w.getMetrics().circuitState).toBe('closed');
    while (sink.delivered.length < 8) {
      sink.pending.resolve();
      await settle();
    }
    expect(sink.delivered).toEqual(range(8));
    expect(w.getMetrics().eventsDeadLettered).toBe(0);
    expectConserved(w.getMetrics());
    dispose(w);
  });
});
