import { BackpressureWritable } from '../../lib';
import { ControlledSink, dispose, settle } from '../helpers/core-helpers';

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

test('a flush pending past flushTimeoutMs is aborted through ctx.signal, counts as failed and is retried', async () => {
  const sink = new ControlledSink<number>();
  const w = new BackpressureWritable<number>({
    batchSize: 2,
    flushTimeoutMs: 1000,
    retry: { retries: 2, minDelayMs: 10 },
    flush: sink.flush,
  });
  w.write(1);
  w.write(2);
  const first = sink.pending;
  await jest.advanceTimersByTimeAsync(999);
  expect(first.signal.aborted).toBe(false);
  await jest.advanceTimersByTimeAsync(1);
  expect(first.signal.aborted).toBe(true);
  expect(first.signal.reason).toMatchObject({ code: 'ERR_BACKPRESSURE_FLUSH_TIMEOUT' });
  expect(w.getMetrics()).toMatchObject({ failedFlushes: 1, inFlight: 2 });
  await jest.advanceTimersByTimeAsync(10);
  expect(sink.calls).toHaveLength(2);
  // the timed-out attempt resolving late changes nothing: at-least-once, counted once
  first.resolve();
  await settle();
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 0, inFlight: 2 });
  sink.pending.resolve();
  await settle();
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 2, inFlight: 0, eventsRetried: 2 });
  dispose(w);
});
