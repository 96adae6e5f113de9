import { BackpressureWritable, type FlushResult } from '../../lib';
import { dispose, range, settle } from '../helpers/core-helpers';

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

test('failedItems: only those are retried, the rest count as flushed', async () => {
  const calls: number[][] = [];
  const w = new BackpressureWritable<number>({
    batchSize: 5,
    retry: { retries: 2, minDelayMs: 10 },
    flush: async (batch): Promise<void | FlushResult<number>> => {
      calls.push([...batch]);
      if (calls.length === 1) return { success: 3, failed: 2, errors: [new Error('two bad')], failedItems: [1, 3] };
      return undefined;
    },
  });
  for (const i of range(5)) w.write(i);
  await settle();
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 3, inFlight: 2 });
  await jest.advanceTimersByTimeAsync(10);
  expect(calls).toEqual([range(5), [1, 3]]);
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 5, inFlight: 0, eventsRetried: 2 });
  dispose(w);
});

test('failed > 0 without failedItems retries the whole batch', async () => {
  const calls: number[][] = [];
  const w = new BackpressureWritable<number>({
    batchSize: 3,
    retry: { retries: 2, minDelayMs: 10 },
    flush: async (batch) => {
      calls.push([...batch]);
      return calls.length === 1 ? { success: 2, failed: 1, errors: [] } : { success: 3, failed: 0, errors: [] };
    },
  });
  for (const i of range(3)) w.write(i);
  await settle();
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 0, inFlight: 3 });
  await jest.advanceTimersByTimeAsync(10);
  expect(calls).toEqual([range(3), range(3)]);
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 3, inFlight: 0 });
  dispose(w);
});

test('a result that is not a FlushResult is a coded failure, never a silent success', async () => {
  const dead: Error[] = [];
  const w = new BackpressureWritable<number>({
    batchSize: 1,
    retry: { retries: 0 },
    onDeadLetter: (_items, err) => void dead.push(err),
    flush: async () => 'ok' as never,
  });
  w.write(1);
  await settle();
  expect(dead[0]).toMatchObject({ code: 'ERR_BACKPRESSURE_FLUSH_FAILED' });
  expect((dead[0] as Error).cause).toMatchObject({ code: 'ERR_BACKPRESSURE_INVALID_FLUSH_RESULT' });
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 0, eventsDeadLettered: 1 });
  dispose(w);
});

test('failedItems naming fewer items than `failed` is inconsistent: the whole batch is retried, never counted delivered', async () => {
  const calls: number[][] = [];
  const w = new BackpressureWritable<number>({
    batchSize: 3,
    retry: { retries: 2, minDelayMs: 10 },
    // e.g. a sink that returned copies of the failed items, which cannot be matched to the batch
    flush: async (batch): Promise<void | FlushResult<number>> => {
      calls.push([...batch]);
      return calls.length === 1 ? { success: 1, failed: 2, errors: [], failedItems: [] } : undefined;
    },
  });
  const retries: { error: Error }[] = [];
  w.on('retry', (e: { error: Error }) => retries.push(e));
  for (const i of range(3)) w.write(i);
  await settle();
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 0, inFlight: 3 });
  expect(retries[0]?.error).toMatchObject({ code: 'ERR_BACKPRESSURE_INVALID_FLUSH_RESULT' });
  await jest.advanceTimersByTimeAsync(10);
  expect(calls).toEqual([range(3), range(3)]);
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 3, inFlight: 0 });
  dispose(w);
});
