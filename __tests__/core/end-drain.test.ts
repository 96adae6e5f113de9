import { once } from 'node:events';
import { BackpressureWritable } from '../../lib';
import { ControlledSink, expectConserved, range, settle } from '../helpers/core-helpers';

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

test("end() flushes everything still held at once (no waiting for the interval), then 'finish'", async () => {
  const delivered: number[] = [];
  const w = new BackpressureWritable<number>({
    batchSize: 4,
    minFlushIntervalMs: 60000,
    flush: async (b) => void delivered.push(...b),
  });
  for (const i of range(10)) w.write(i);
  const finished = once(w, 'finish');
  w.end(10);
  await finished;
  expect(delivered).toEqual(range(11));
  expect(w.state).toBe('closed');
  expectConserved(w.getMetrics());
});

test('end() while blocked and Node still queues items: all of them are delivered', async () => {
  const sink = new ControlledSink<number>();
  const w = new BackpressureWritable<number>({ batchSize: 2, maxBufferSize: 4, flush: sink.flush });
  for (const i of range(12)) w.write(i); // 2 in flight, 4 buffered, 6 in Node's queue
  expect(w.getMetrics()).toMatchObject({ bufferSize: 10, inFlight: 2 });
  let finished = false;
  w.end(() => (finished = true));
  for (let i = 0; i < 6; i++) {
    expect(finished).toBe(false);
    sink.pending.resolve();
    await settle();
  }
  expect(sink.delivered).toEqual(range(12));
  expect(finished).toBe(true);
});

test('drainTimeoutMs: what is left is dead-lettered, never discarded, and the stream still finishes', async () => {
  const sink = new ControlledSink<number>();
  const dead: number[] = [];
  const w = new BackpressureWritable<number>({
    batchSize: 2,
    drainTimeoutMs: 5000,
    flushTimeoutMs: 60000,
    onDeadLetter: (items, err) => {
      expect(err).toMatchObject({ code: 'ERR_BACKPRESSURE_DRAIN_TIMEOUT' });
      dead.push(...items);
    },
    flush: sink.flush,
  });
  for (const i of range(5)) w.write(i);
  const finished = once(w, 'finish');
  w.end();
  await jest.advanceTimersByTimeAsync(4999);
  expect(dead).toEqual([]);
  const hung = sink.pending;
  await jest.advanceTimersByTimeAsync(1);
  await finished;
  expect(hung.signal.aborted).toBe(true);
  expect(dead).toEqual(range(5)); // the hung batch and the rest, in order
  expect(w.getMetrics()).toMatchObject({
    eventsDeadLettered: 5,
    eventsFlushed: 0,
    bufferSize: 0,
    inFlight: 0,
    state: 'closed',
  });
  hung.resolve(); // a late answer changes nothing
  await settle();
  expectConserved(w.getMetrics());
});

test('drain timeout without a handler: the stream errors with the leftover items', async () => {
  const sink = new ControlledSink<number>();
  const w = new BackpressureWritable<number>({ batchSize: 2, drainTimeoutMs: 100, flush: sink.flush });
  for (const i of range(3)) w.write(i);
  const failed = once(w, 'error');
  w.end();
  await jest.advanceTimersByTimeAsync(100);
  const [err] = await failed;
  expect(err).toMatchObject({ code: 'ERR_BACKPRESSURE_DRAIN_TIMEOUT', items: range(3) });
});
