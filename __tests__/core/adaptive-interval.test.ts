import { BackpressureWritable } from '../../lib';
import { ControlledSink, dispose, settle } from '../helpers/core-helpers';

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

async function flushOnceWithLatency(w: BackpressureWritable<number>, sink: ControlledSink<number>, latencyMs: number) {
  w.write(1);
  await jest.advanceTimersByTimeAsync(w.getMetrics().currentFlushIntervalMs);
  expect(sink.calls.length).toBeGreaterThan(0);
  await jest.advanceTimersByTimeAsync(latencyMs);
  sink.pending.resolve();
  await settle();
}

describe('adaptive flush interval (×1.5 when latency > 1.5×target, ×0.8 when < 0.5×target, within min/max)', () => {
  test('slow sink stretches the interval up to maxFlushIntervalMs; fast sink shrinks it back to minFlushIntervalMs', async () => {
    const sink = new ControlledSink<number>();
    const w = new BackpressureWritable<number>({
      batchSize: 10,
      minFlushIntervalMs: 100,
      maxFlushIntervalMs: 300,
      targetLatencyMs: 100,
      flushTimeoutMs: 60000,
      flush: sink.flush,
    });
    await flushOnceWithLatency(w, sink, 200); // 200 > 150
    expect(w.getMetrics().currentFlushIntervalMs).toBe(150);
    expect(w.getMetrics().lastFlushLatencyMs).toBe(200);
    await flushOnceWithLatency(w, sink, 200);
    expect(w.getMetrics().currentFlushIntervalMs).toBe(225);
    await flushOnceWithLatency(w, sink, 200);
    expect(w.getMetrics().currentFlushIntervalMs).toBe(300); // capped
    await flushOnceWithLatency(w, sink, 100); // within [50, 150]: unchanged
    expect(w.getMetrics().currentFlushIntervalMs).toBe(300);
    await flushOnceWithLatency(w, sink, 10);
    expect(w.getMetrics().currentFlushIntervalMs).toBe(240);
    for (let i = 0; i < 10; i++) await flushOnceWithLatency(w, sink, 10);
    expect(w.getMetrics().currentFlushIntervalMs).toBe(100); // floored
    dispose(w);
  });

  test('under steady load the interval adds no latency: full batches go on the size trigger', async () => {
    const sink = new ControlledSink<number>();
    const w = new BackpressureWritable<number>({ batchSize: 10, minFlushIntervalMs: 5000, flush: sink.flush });
    for (let i = 0; i < 10; i++) w.write(i);
    expect(sink.calls).toHaveLength(1); // no timer involved
    dispose(w);
  });
});
