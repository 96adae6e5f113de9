import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BackpressureWritable } from '../../lib';
import { ControlledSink, expectConserved, range, settle } from '../helpers/core-helpers';

// Adaptive mode changes batch size and concurrency while data flows; it must
// never break the invariant, the bounds, or (at concurrency 1 it starts
// from) FIFO entry into flush.
//
// The clock is fake and each flush "takes" 5 ms of it, so the loop's windows
// (≥ 100 ms) close after a fixed number of flushes however fast the machine
// runs: whether it adapts does not depend on real timing.
afterEach(() => jest.useRealTimers());

test('adaptive: every item delivered exactly once, batches enter flush in order, the invariant holds at every flush', async () => {
  const total = 20000;
  const calls: number[][] = [];
  const delivered: number[] = [];
  let active = 0;
  let maxActive = 0;
  jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
  const w = new BackpressureWritable<number>({
    maxBufferSize: 2000,
    adaptive: { maxBatchSize: 1000, maxConcurrency: 4 },
    flush: async (batch) => {
      calls.push(batch);
      active++;
      maxActive = Math.max(maxActive, active);
      expectConserved(w.getMetrics());
      await new Promise((resolve) => setImmediate(resolve));
      jest.setSystemTime(Date.now() + 5);
      active--;
      delivered.push(...batch);
    },
  });
  const sizes = new Set<number>();
  w.on('flush', () => {
    const m = w.getMetrics();
    expectConserved(m);
    expect(m.bufferSize).toBeLessThanOrEqual(2000);
    expect(m.inFlight).toBeLessThanOrEqual(m.concurrency * 1000 + 1000 * 4);
    sizes.add(m.batchSize);
  });
  await pipeline(Readable.from(range(total)), w);
  expect(calls.flat()).toEqual(range(total)); // FIFO into flush
  expect([...delivered].sort((a, b) => a - b)).toEqual(range(total)); // exactly once
  expect(maxActive).toBeLessThanOrEqual(4);
  const m = w.getMetrics();
  expectConserved(m);
  expect(m.adaptiveAdjustments).toBeGreaterThan(0); // it really adapted
  expect(sizes.size).toBeGreaterThan(1);
});

test('adaptive option validation names the option', () => {
  const flush = async () => {};
  expect(() => new BackpressureWritable({ flush, maxBufferSize: 100, adaptive: { maxBatchSize: 200 } })).toThrow(
    '"adaptive.maxBatchSize"',
  );
  expect(() => new BackpressureWritable({ flush, adaptive: { minBatchSize: 0 } })).toThrow('"adaptive.minBatchSize"');
  expect(() => new BackpressureWritable({ flush, adaptive: { maxConcurrency: 0 } })).toThrow(
    '"adaptive.maxConcurrency"',
  );
  expect(() => new BackpressureWritable({ flush, adaptive: 'yes' as never })).toThrow('"adaptive"');
});

test('adaptive: a call running past targetLatencyMs cuts the lanes while it still runs; nothing is lost', async () => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
  const sink = new ControlledSink<number>();
  const w = new BackpressureWritable<number>({
    batchSize: 10,
    concurrency: 4,
    targetLatencyMs: 100,
    adaptive: { maxConcurrency: 4 },
    flush: sink.flush,
  });
  for (const item of range(60)) w.write(item);
  expect(sink.calls.length).toBe(4);
  expect(w.getMetrics().concurrency).toBe(4);
  jest.advanceTimersByTime(90);
  expect(w.getMetrics().concurrency).toBe(4); // not over the ceiling yet
  jest.advanceTimersByTime(20);
  // Over the ceiling with every call still running: the loop has cut the lanes already.
  const m = w.getMetrics();
  expect(m.concurrency).toBe(2);
  expect(m.inFlightBatches).toBe(4);
  expectConserved(m);
  // The cut holds back new batches until only 2 are in flight.
  for (const call of sink.calls.splice(0, 2)) call.resolve();
  await settle();
  expect(sink.calls.length).toBe(2);
  for (const call of sink.calls.splice(0, 2)) call.resolve();
  await settle();
  expect(sink.calls.length).toBe(2);
  w.end();
  while (w.getMetrics().eventsFlushed < 60) {
    for (const call of sink.calls.splice(0)) call.resolve();
    await settle();
  }
  expect([...sink.delivered].sort((a, b) => a - b)).toEqual(range(60));
  expectConserved(w.getMetrics());
});
