import { once } from 'node:events';
import { BackpressureWritable } from '../../lib';
import { ControlledSink, range, settle } from '../helpers/core-helpers';

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

test('blocked with no sink progress for maxBlockTimeMs: coded error, items handed back', async () => {
  const sink = new ControlledSink<number>();
  const w = new BackpressureWritable<number>({
    batchSize: 2,
    maxBufferSize: 4,
    maxBlockTimeMs: 1000,
    flushTimeoutMs: 60000,
    flush: sink.flush,
  });
  for (const i of range(6)) w.write(i);
  expect(w.state).toBe('blocked');
  const failed = once(w, 'error');
  await jest.advanceTimersByTimeAsync(1000);
  const [err] = await failed;
  expect(err).toMatchObject({ code: 'ERR_BACKPRESSURE_BLOCK_TIMEOUT', items: range(6) });
});

test('progress re-arms the timer; leaving blocked disarms it', async () => {
  const sink = new ControlledSink<number>();
  const w = new BackpressureWritable<number>({
    batchSize: 2,
    maxBufferSize: 4,
    maxBlockTimeMs: 1000,
    flushTimeoutMs: 60000,
    flush: sink.flush,
  });
  const errors: Error[] = [];
  w.on('error', (e) => errors.push(e));
  for (const i of range(6)) w.write(i);
  await jest.advanceTimersByTimeAsync(900);
  sink.pending.resolve(); // progress: 2 more go in flight, buffer at 2/4 → not blocked
  await settle();
  expect(w.state).not.toBe('blocked');
  await jest.advanceTimersByTimeAsync(5000);
  expect(errors).toEqual([]);
  sink.pending.resolve();
  await settle();
  sink.pending.resolve();
  await settle();
  expect(sink.delivered).toEqual(range(6));
});
