import { once } from 'node:events';
import { BackpressureWritable, type DeadLetterEvent, isBackpressureError } from '../../lib';
import { ControlledSink, expectConserved, range, settle } from '../helpers/core-helpers';

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

test('with onDeadLetter: exhausted batches go to the handler and the event, and the stream carries on in order', async () => {
  const sink = new ControlledSink<number>();
  const handled: number[][] = [];
  const events: DeadLetterEvent<number>[] = [];
  const w = new BackpressureWritable<number>({
    batchSize: 2,
    retry: { retries: 1, minDelayMs: 10 },
    onDeadLetter: async (items) => void handled.push(items),
    flush: sink.flush,
  });
  w.on('dead-letter', (e: DeadLetterEvent<number>) => events.push(e));
  for (const i of range(4)) w.write(i);
  sink.pending.reject(new Error('down'));
  await settle();
  await jest.advanceTimersByTimeAsync(10);
  sink.pending.reject(new Error('still down'));
  await settle();
  expect(handled).toEqual([[0, 1]]);
  expect(events[0]?.error).toMatchObject({ code: 'ERR_BACKPRESSURE_FLUSH_FAILED' });
  expect((events[0]?.error as Error).cause).toMatchObject({ message: 'still down' });
  expect(sink.pending.batch).toEqual([2, 3]);
  sink.pending.resolve();
  await settle();
  const m = w.getMetrics();
  expect(m).toMatchObject({ eventsFlushed: 2, eventsDeadLettered: 2 });
  expectConserved(m);
  await new Promise<void>((resolve) => w.end(resolve));
});

test('without a handler: the stream fails with a coded error whose items are every undelivered item', async () => {
  const sink = new ControlledSink<number>();
  const w = new BackpressureWritable<number>({ batchSize: 2, retry: { retries: 0 }, flush: sink.flush });
  for (const i of range(5)) w.write(i);
  const failed = once(w, 'error');
  sink.pending.reject(new Error('down'));
  const [err] = await failed;
  expect(isBackpressureError(err, 'ERR_BACKPRESSURE_FLUSH_FAILED')).toBe(true);
  expect((err as { items: number[] }).items).toEqual(range(5)); // the failed batch, then all still held
  expect(w.getMetrics()).toMatchObject({ eventsDeadLettered: 5, bufferSize: 0, inFlight: 0 });
  expectConserved(w.getMetrics());
});

test('a throwing onDeadLetter fails the stream with the items in the error', async () => {
  const w = new BackpressureWritable<number>({
    batchSize: 1,
    retry: { retries: 0 },
    onDeadLetter: () => {
      throw new Error('disk full');
    },
    flush: async () => {
      throw new Error('down');
    },
  });
  const failed = once(w, 'error');
  w.write(7);
  const [err] = await failed;
  expect(err).toMatchObject({ code: 'ERR_BACKPRESSURE_DEAD_LETTER_FAILED', items: [7] });
});

test('a sizeOf that throws dead-letters that one item and keeps the stream going', async () => {
  const dead: unknown[] = [];
  const delivered: string[] = [];
  const w = new BackpressureWritable<string>({
    batchSize: 1,
    maxBufferBytes: 100,
    sizeOf: (s) => {
      if (s === 'bad') throw new Error('cannot measure');
      return s.length;
    },
    onDeadLetter: (items, err) => void dead.push(items, (err as { code?: string }).code),
    flush: async (b) => void delivered.push(...b),
  });
  w.write('a');
  w.write('bad');
  w.write('c');
  await settle();
  expect(delivered).toEqual(['a', 'c']);
  expect(dead).toEqual([['bad'], 'ERR_BACKPRESSURE_INVALID_ITEM_SIZE']);
  expectConserved(w.getMetrics());
});
