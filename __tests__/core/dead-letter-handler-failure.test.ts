import { once } from 'node:events';
import { BackpressureWritable, type BackpressureError } from '../../lib';
import { expectConserved, range, settle } from '../helpers/core-helpers';

// When onDeadLetter fails — once or many times, synchronously or later, while the stream runs or while
// it is being destroyed — the stream fails with ERR_BACKPRESSURE_DEAD_LETTER_FAILED, and that one error
// carries every item whose dead-lettering failed, each exactly once. 'error' waits for every pending
// onDeadLetter call to settle, so none can fail after the error was reported.

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

/** Every item is in exactly one of `parts`, and together they are `all`. */
function expectPartition<T>(all: readonly T[], parts: Record<string, readonly T[]>): void {
  const seen = new Map<T, string>();
  for (const [name, items] of Object.entries(parts)) {
    for (const item of items) {
      expect({ item, twice: seen.has(item) ? [seen.get(item), name] : undefined }).toEqual({ item, twice: undefined });
      seen.set(item, name);
    }
  }
  expect([...seen.keys()].sort()).toEqual([...all].sort());
}

test('onDeadLetter failing twice (a failed batch, then what destroy() held): the final error carries every item, once', async () => {
  const w = new BackpressureWritable<string>({
    batchSize: 1,
    retry: { retries: 0 },
    flush: (batch) => (batch[0] === 'a' ? Promise.reject(new Error('a refused')) : new Promise<void>(() => undefined)),
    onDeadLetter: () => {
      throw new Error('dead-letter queue down');
    },
  });
  const errored = once(w, 'error');
  for (const item of ['a', 'b', 'c']) w.write(item);
  const [err] = (await errored) as [BackpressureError<string>];
  expect(err).toMatchObject({ code: 'ERR_BACKPRESSURE_DEAD_LETTER_FAILED' });
  expect((err.cause as Error).message).toBe('dead-letter queue down');
  expect(err.items).toEqual(['a', 'b', 'c']);
  const m = w.getMetrics();
  expectConserved(m);
  expect(m).toMatchObject({ eventsFlushed: 0, eventsDeadLettered: 3 });
});

test('several onDeadLetter calls failing at different times: one error with all their items, after the last one settled', async () => {
  const sinkDelays = [30, 10, 20];
  let call = 0;
  const handled: number[] = [];
  const w = new BackpressureWritable<number>({
    batchSize: 2,
    concurrency: 3,
    retry: { retries: 0 },
    flush: async () => {
      throw new Error('sink down');
    },
    onDeadLetter: async (items) => {
      const delay = sinkDelays[call++ % sinkDelays.length] as number;
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (items.includes(2)) {
        handled.push(...items); // this one call succeeds
        return;
      }
      throw new Error(`dead-letter queue refused ${items.join(',')}`);
    },
  });
  let errorAt: number | undefined;
  const errors: BackpressureError<number>[] = [];
  w.on('error', (err: BackpressureError<number>) => {
    errorAt = Date.now();
    errors.push(err);
  });
  const start = Date.now();
  for (const i of range(6)) w.write(i);
  await settle();
  await jest.advanceTimersByTimeAsync(100);
  await settle();
  expect(errors).toHaveLength(1);
  const err = errors[0] as BackpressureError<number>;
  expect(err.code).toBe('ERR_BACKPRESSURE_DEAD_LETTER_FAILED');
  expect(errorAt! - start).toBeGreaterThanOrEqual(30); // not before the slowest call settled
  expect(handled).toEqual([2, 3]);
  expectPartition(range(6), { 'error.items': err.items ?? [], 'onDeadLetter succeeded': handled });
  const m = w.getMetrics();
  expectConserved(m);
  expect(m.eventsDeadLettered).toBe(6);
});

test('destroy(err) while an onDeadLetter call is pending that then fails: the error carries its items and what destroy() held', async () => {
  let rejectFirst: (e: Error) => void = () => undefined;
  let calls = 0;
  const w = new BackpressureWritable<number>({
    batchSize: 2,
    maxBufferSize: 10,
    retry: { retries: 0 },
    flush: async (batch) => {
      if (batch.includes(0)) throw new Error('sink refused 0');
      return new Promise<void>(() => undefined); // later batches hang
    },
    onDeadLetter: (items) => {
      calls++;
      if (calls === 1) return new Promise<void>((_resolve, reject) => (rejectFirst = reject));
      throw new Error(`refused ${items.join(',')}`);
    },
  });
  const errors: BackpressureError<number>[] = [];
  w.on('error', (err: BackpressureError<number>) => errors.push(err));
  for (const i of range(5)) w.write(i);
  await settle();
  expect(calls).toBe(1); // [0, 1] is with onDeadLetter; [2, 3] in flight; [4] buffered
  w.destroy(new Error('shutdown'));
  await settle();
  expect(errors).toEqual([]); // waits for the pending call
  rejectFirst(new Error('dead-letter queue down'));
  await settle();
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatchObject({ code: 'ERR_BACKPRESSURE_DEAD_LETTER_FAILED' });
  expect(errors[0]?.items).toEqual(expect.arrayContaining(range(5)));
  expect(errors[0]?.items).toHaveLength(5);
  expectConserved(w.getMetrics());
});

test('an onDeadLetter that succeeds is not in the error; destroy() without failures keeps the user’s error', async () => {
  const handled: number[] = [];
  const w = new BackpressureWritable<number>({
    batchSize: 2,
    flush: () => new Promise<void>(() => undefined),
    onDeadLetter: (items) => void handled.push(...items),
  });
  for (const i of range(3)) w.write(i);
  const errored = once(w, 'error');
  w.destroy(new Error('shutdown'));
  const [err] = (await errored) as [Error];
  expect(err.message).toBe('shutdown');
  expect(handled).toEqual(range(3));
});

describe('arrays handed out with dead letters are the user’s: never read back', () => {
  test('an onDeadLetter that consumes its array and then fails: the error still carries every item', async () => {
    const w = new BackpressureWritable<number>({
      batchSize: 3,
      retry: { retries: 0 },
      flush: async () => {
        throw new Error('down');
      },
      onDeadLetter: (items) => {
        items.splice(0);
        throw new Error('dead-letter queue down');
      },
    });
    const errored = once(w, 'error');
    for (const i of range(3)) w.write(i);
    const [err] = (await errored) as [BackpressureError<number>];
    expect(err).toMatchObject({ code: 'ERR_BACKPRESSURE_DEAD_LETTER_FAILED', items: range(3) });
  });

  test("a 'dead-letter' listener that empties its array changes neither what onDeadLetter gets nor an error's items", async () => {
    const handled: number[] = [];
    const withHandler = new BackpressureWritable<number>({
      batchSize: 3,
      retry: { retries: 0 },
      flush: async () => {
        throw new Error('down');
      },
      onDeadLetter: (items) => void handled.push(...items),
    });
    withHandler.on('dead-letter', (e: { items: number[] }) => e.items.splice(0));
    for (const i of range(3)) withHandler.write(i);
    await settle();
    expect(handled).toEqual(range(3));

    const without = new BackpressureWritable<number>({
      batchSize: 3,
      retry: { retries: 0 },
      flush: async () => {
        throw new Error('down');
      },
    });
    without.on('dead-letter', (e: { items: number[] }) => e.items.splice(0));
    const errored = once(without, 'error');
    for (const i of range(3)) without.write(i);
    const [err] = (await errored) as [BackpressureError<number>];
    expect(err).toMatchObject({ code: 'ERR_BACKPRESSURE_FLUSH_FAILED', items: range(3) });
  });
});
