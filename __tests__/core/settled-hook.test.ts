import { BackpressureWritable, ErrorCodes, type FlushResult, type Settlement } from '../../lib';
import { ControlledSink, dispose, expectConserved, range, settle } from '../helpers/core-helpers';

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

/** Records every onSettled call, and checks the invariant inside it (the count comes first). */
function recorder<T>(metrics: () => ReturnType<BackpressureWritable<T>['getMetrics']>) {
  const calls: { items: T[]; how: Settlement }[] = [];
  const onSettled = (items: T[], how: Settlement): void => {
    expectConserved(metrics());
    calls.push({ items: [...items], how });
    items.length = 0; // the stream must not read back what it handed out
  };
  return { calls, onSettled };
}

test('a successful flush settles its batch as flushed, after the count and before the flush event', async () => {
  let w!: BackpressureWritable<number>;
  const rec = recorder<number>(() => w.getMetrics());
  const order: string[] = [];
  w = new BackpressureWritable<number>({
    batchSize: 3,
    flush: async () => undefined,
    onSettled: (items, how) => {
      order.push('settled');
      rec.onSettled(items, how);
    },
  });
  w.on('flush', () => order.push('flush'));
  for (const i of range(6)) w.write(i);
  await settle(10);
  expect(rec.calls).toEqual([
    { items: [0, 1, 2], how: 'flushed' },
    { items: [3, 4, 5], how: 'flushed' },
  ]);
  expect(order).toEqual(['settled', 'flush', 'settled', 'flush']);
  expect(w.getMetrics().eventsFlushed).toBe(6);
  dispose(w);
});

test('a partial failure settles only the delivered items; the retried ones settle when their retry succeeds', async () => {
  let w!: BackpressureWritable<number>;
  const rec = recorder<number>(() => w.getMetrics());
  let call = 0;
  w = new BackpressureWritable<number>({
    batchSize: 5,
    retry: { retries: 2, minDelayMs: 10 },
    onSettled: rec.onSettled,
    flush: async (): Promise<void | FlushResult<number>> => {
      call++;
      if (call === 1) return { success: 3, failed: 2, errors: [new Error('two bad')], failedItems: [1, 3] };
      return undefined;
    },
  });
  for (const i of range(5)) w.write(i);
  await settle();
  expect(rec.calls).toEqual([{ items: [0, 2, 4], how: 'flushed' }]);
  await jest.advanceTimersByTimeAsync(10);
  expect(rec.calls).toEqual([
    { items: [0, 2, 4], how: 'flushed' },
    { items: [1, 3], how: 'flushed' },
  ]);
  dispose(w);
});

test('equal items in a partial failure: each occurrence settles once', async () => {
  const settled: string[] = [];
  let call = 0;
  const w = new BackpressureWritable<string>({
    batchSize: 4,
    retry: { retries: 1, minDelayMs: 10 },
    onSettled: (items) => settled.push(...items),
    flush: async (): Promise<void | FlushResult<string>> =>
      ++call === 1 ? { success: 3, failed: 1, errors: [], failedItems: ['a'] } : undefined,
  });
  for (const s of ['a', 'b', 'a', 'a']) w.write(s);
  await settle();
  expect(settled.sort()).toEqual(['a', 'a', 'b']);
  await jest.advanceTimersByTimeAsync(10);
  expect(settled.sort()).toEqual(['a', 'a', 'a', 'b']);
  dispose(w);
});

test('dead-lettered items settle only once onDeadLetter resolved, never when it rejects', async () => {
  const settled: { items: number[]; how: Settlement }[] = [];
  let acceptDeadLetters = true;
  const w = new BackpressureWritable<number>({
    batchSize: 2,
    retry: { retries: 0 },
    flush: async () => {
      throw new Error('sink down');
    },
    onDeadLetter: async () => {
      if (!acceptDeadLetters) throw new Error('dead-letter store down');
    },
    onSettled: (items, how) => settled.push({ items: [...items], how }),
  });
  w.on('error', () => {});
  w.write(1);
  w.write(2);
  await settle(10);
  expect(settled).toEqual([{ items: [1, 2], how: 'dead-lettered' }]);
  acceptDeadLetters = false;
  w.write(3);
  w.write(4);
  await settle(10);
  expect(settled).toEqual([{ items: [1, 2], how: 'dead-lettered' }]);
  expect(w.destroyed).toBe(true);
});

test('without onDeadLetter, items handed back in the stream error are never settled', async () => {
  const settled: number[] = [];
  const w = new BackpressureWritable<number>({
    batchSize: 2,
    retry: { retries: 0 },
    flush: async () => {
      throw new Error('sink down');
    },
    onSettled: (items) => settled.push(...items),
  });
  const error = new Promise<unknown>((resolve) => w.on('error', resolve));
  w.write(1);
  w.write(2);
  const err = (await error) as { code: string; items: number[] };
  expect(err.code).toBe(ErrorCodes.FLUSH_FAILED);
  expect(err.items).toEqual([1, 2]);
  expect(settled).toEqual([]);
});

test('with concurrency, batches settle in the order they complete, each item exactly once', async () => {
  const sink = new ControlledSink<number>();
  const settled: number[][] = [];
  const w = new BackpressureWritable<number>({
    batchSize: 2,
    concurrency: 3,
    flush: sink.flush,
    onSettled: (items) => settled.push([...items]),
  });
  for (const i of range(6)) w.write(i);
  await settle();
  expect(sink.calls.map((c) => c.batch)).toEqual([
    [0, 1],
    [2, 3],
    [4, 5],
  ]);
  sink.calls[2]!.resolve();
  sink.calls[0]!.resolve();
  await settle();
  expect(settled).toEqual([
    [4, 5],
    [0, 1],
  ]);
  sink.calls[1]!.resolve();
  await settle();
  expect(settled.flat().sort()).toEqual(range(6));
  dispose(w);
});

test('a throwing onSettled fails the stream with a coded error; the items stay counted as delivered', async () => {
  const w = new BackpressureWritable<number>({
    batchSize: 2,
    flush: async () => undefined,
    onDeadLetter: async () => undefined,
    onSettled: () => {
      throw new Error('ack store down');
    },
  });
  const error = new Promise<{ code: string; cause: Error }>((resolve) => w.on('error', resolve));
  w.write(1);
  w.write(2);
  w.write(3);
  const err = await error;
  expect(err.code).toBe(ErrorCodes.SETTLED_HANDLER_FAILED);
  expect(err.cause.message).toBe('ack store down');
  const m = w.getMetrics();
  expect(m.eventsFlushed).toBe(2);
  expect(m.eventsDeadLettered).toBe(1);
  expectConserved(m);
});

test('onSettled must be a function', () => {
  expect(() => new BackpressureWritable<number>({ flush: async () => undefined, onSettled: 42 as never })).toThrow(
    expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE', message: expect.stringContaining('onSettled') }),
  );
});
