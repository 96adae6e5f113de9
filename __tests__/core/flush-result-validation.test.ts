import { BackpressureWritable, type FlushResult } from '../../lib';
import { dispose, expectConserved, settle } from '../helpers/core-helpers';

// Success is exactly `undefined` or a valid FlushResult. Anything else a flush resolves with fails
// the whole batch with ERR_BACKPRESSURE_INVALID_FLUSH_RESULT and is retried like a rejection.

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

interface Run<T> {
  calls: T[][];
  retryErrors: Error[];
  dead: T[];
  deadErrors: Error[];
  w: BackpressureWritable<T>;
}

/** Writes `items` as one batch; the first attempt resolves with `first`, the retry with `undefined`. */
async function deliver<T>(items: T[], first: unknown, retries = 1): Promise<Run<T>> {
  const run: Run<T> = { calls: [], retryErrors: [], dead: [], deadErrors: [], w: undefined as never };
  run.w = new BackpressureWritable<T>({
    batchSize: items.length,
    retry: { retries, minDelayMs: 10, maxDelayMs: 10 },
    flush: async (batch) => {
      run.calls.push([...batch]);
      return (run.calls.length === 1 ? first : undefined) as void;
    },
    onDeadLetter: (dead, err) => {
      run.dead.push(...dead);
      run.deadErrors.push(err);
    },
  });
  run.w.on('retry', (e: { error: Error }) => run.retryErrors.push(e.error));
  for (const item of items) run.w.write(item);
  await settle();
  await jest.advanceTimersByTimeAsync(10);
  expectConserved(run.w.getMetrics());
  return run;
}

class ResultLike {
  success = 3;
  failed = 0;
  errors = [];
}

describe('anything but undefined or a valid FlushResult fails the whole batch, coded, and is retried', () => {
  const notResults: [string, () => unknown][] = [
    ['null', () => null],
    ['an Error', () => new Error('down')],
    ['{}', () => ({})],
    ['{ ok: false }', () => ({ ok: false })],
    ['a fetch Response with status 500', () => new Response('oops', { status: 500 })],
    ['a fetch Response with status 200 (not a FlushResult either)', () => new Response('fine', { status: 200 })],
    ['a number', () => 3],
    ['0', () => 0],
    ['a string', () => 'ok'],
    ['true', () => true],
    ['an array', () => []],
    ['a class instance shaped like a FlushResult', () => new ResultLike()],
    ['success as a string', () => ({ success: '3', failed: 0, errors: [] })],
    ['a negative count', () => ({ success: 4, failed: -1, errors: [] })],
    ['a fractional count', () => ({ success: 2.5, failed: 0.5, errors: [] })],
    ['NaN', () => ({ success: NaN, failed: 0, errors: [] })],
    ['counts that do not add up to the batch (fewer)', () => ({ success: 2, failed: 0, errors: [] })],
    ['counts that do not add up to the batch (nothing said)', () => ({ success: 0, failed: 0, errors: [] })],
    ['counts that do not add up to the batch (more)', () => ({ success: 3, failed: 1, errors: [] })],
    ['errors that is not an array', () => ({ success: 3, failed: 0, errors: 'boom' })],
    ['failedItems that is not an array', () => ({ success: 2, failed: 1, errors: [], failedItems: 'b' })],
    [
      'a getter that throws',
      () => ({
        success: 3,
        get failed(): number {
          throw new Error('trap');
        },
        errors: [],
      }),
    ],
  ];

  test.each(notResults)('%s', async (_label, make) => {
    const run = await deliver(['a', 'b', 'c'], make());
    expect(run.retryErrors).toHaveLength(1);
    expect(run.retryErrors[0]).toMatchObject({ code: 'ERR_BACKPRESSURE_INVALID_FLUSH_RESULT' });
    expect(run.calls).toEqual([
      ['a', 'b', 'c'],
      ['a', 'b', 'c'],
    ]); // the whole batch again
    expect(run.w.getMetrics()).toMatchObject({ eventsFlushed: 3, failedFlushes: 1, flushes: 1, eventsRetried: 3 });
    dispose(run.w);
  });

  test('a Response with ok: false never counts as delivered, however many attempts', async () => {
    const w = new BackpressureWritable<string>({
      batchSize: 2,
      retry: { retries: 2, minDelayMs: 10, maxDelayMs: 10 },
      flush: async () => new Response('unavailable', { status: 503 }) as never,
      onDeadLetter: () => {},
    });
    const dead: Error[] = [];
    w.on('dead-letter', (e: { error: Error }) => dead.push(e.error));
    w.write('a');
    w.write('b');
    await jest.advanceTimersByTimeAsync(100);
    expect(w.getMetrics()).toMatchObject({ eventsFlushed: 0, eventsDeadLettered: 2, failedFlushes: 3 });
    expect(dead[0]?.cause).toMatchObject({ code: 'ERR_BACKPRESSURE_INVALID_FLUSH_RESULT' });
    dispose(w);
  });
});

describe('valid results', () => {
  const valid: [string, () => unknown][] = [
    ['undefined', () => undefined],
    ['all succeeded', () => ({ success: 3, failed: 0, errors: [] })],
    ['without errors', () => ({ success: 3, failed: 0 })],
    ['with an empty failedItems', () => ({ success: 3, failed: 0, errors: [], failedItems: [] })],
    ['a null-prototype object', () => Object.assign(Object.create(null) as object, { success: 3, failed: 0 })],
  ];
  test.each(valid)('%s: the batch is delivered once', async (_label, make) => {
    const run = await deliver(['a', 'b', 'c'], make());
    expect(run.calls).toEqual([['a', 'b', 'c']]);
    expect(run.retryErrors).toEqual([]);
    expect(run.w.getMetrics()).toMatchObject({ eventsFlushed: 3, failedFlushes: 0, inFlight: 0 });
    dispose(run.w);
  });

  test('failed without failedItems retries the whole batch, with the first error as the cause', async () => {
    const cause = new Error('2 rejected');
    const run = await deliver(['a', 'b', 'c'], { success: 1, failed: 2, errors: [cause] });
    expect(run.retryErrors).toEqual([cause]);
    expect(run.calls).toEqual([
      ['a', 'b', 'c'],
      ['a', 'b', 'c'],
    ]);
    dispose(run.w);
  });
});

describe('failedItems must be a sub-multiset of the batch with exactly `failed` items', () => {
  test('exactly the named items are retried, in batch order, the rest count as delivered', async () => {
    const run = await deliver(['a', 'b', 'c', 'd'], { success: 2, failed: 2, errors: [], failedItems: ['d', 'b'] });
    expect(run.retryErrors[0]).not.toMatchObject({ code: 'ERR_BACKPRESSURE_INVALID_FLUSH_RESULT' });
    expect(run.calls).toEqual([
      ['a', 'b', 'c', 'd'],
      ['b', 'd'],
    ]);
    expect(run.w.getMetrics()).toMatchObject({ eventsFlushed: 4, eventsRetried: 2 });
    dispose(run.w);
  });

  const invalid: [string, string[], FlushResult<string>][] = [
    ['an item not in the batch', ['a', 'b', 'c'], { success: 2, failed: 1, errors: [], failedItems: ['X'] }],
    [
      'an item named more often than it occurs',
      ['a', 'b', 'c'],
      { success: 1, failed: 2, errors: [], failedItems: ['a', 'a'] },
    ],
    ['fewer items than failed', ['a', 'b', 'c'], { success: 1, failed: 2, errors: [], failedItems: ['a'] }],
    ['more items than failed', ['a', 'b', 'c'], { success: 2, failed: 1, errors: [], failedItems: ['a', 'b'] }],
  ];
  test.each(invalid)('%s: invalid, the whole batch is retried and nothing else', async (_label, batch, result) => {
    const run = await deliver(batch, result);
    expect(run.retryErrors[0]).toMatchObject({ code: 'ERR_BACKPRESSURE_INVALID_FLUSH_RESULT' });
    expect(run.calls).toEqual([batch, batch]);
    expect(run.w.getMetrics()).toMatchObject({ eventsFlushed: batch.length, eventsRetried: batch.length, inFlight: 0 });
    dispose(run.w);
  });

  test('objects are matched by identity: an equal copy is not an item of the batch', async () => {
    const items = [{ id: 1 }, { id: 2 }];
    const run = await deliver(items, { success: 1, failed: 1, errors: [], failedItems: [{ id: 2 }] });
    expect(run.retryErrors[0]).toMatchObject({ code: 'ERR_BACKPRESSURE_INVALID_FLUSH_RESULT' });
    expect(run.calls[1]).toEqual(items);
    expect(run.calls[1]?.[1]).toBe(items[1]);
    dispose(run.w);
  });

  test('an item the batch holds twice may be named twice (multiplicity counts), and NaN matches NaN', async () => {
    const run = await deliver([1, NaN, 1, 2], { success: 1, failed: 3, errors: [], failedItems: [1, 1, NaN] });
    expect(run.retryErrors[0]).not.toMatchObject({ code: 'ERR_BACKPRESSURE_INVALID_FLUSH_RESULT' });
    expect(run.calls).toEqual([
      [1, NaN, 1, 2],
      [1, NaN, 1],
    ]);
    expect(run.w.getMetrics()).toMatchObject({ eventsFlushed: 4, eventsRetried: 3 });
    dispose(run.w);
  });

  test('a failedItems array changed by the sink after it resolved changes nothing', async () => {
    const failedItems = ['b'];
    const calls: string[][] = [];
    const w = new BackpressureWritable<string>({
      batchSize: 3,
      retry: { retries: 1, minDelayMs: 10, maxDelayMs: 10 },
      flush: async (batch): Promise<void | FlushResult<string>> => {
        calls.push([...batch]);
        return calls.length === 1 ? { success: 2, failed: 1, errors: [], failedItems } : undefined;
      },
    });
    // The stream has read the result by the time it announces the retry.
    w.on('retry', () => failedItems.splice(0, 1, 'X', 'Y'));
    for (const item of ['a', 'b', 'c']) w.write(item);
    await settle();
    expect(failedItems).toEqual(['X', 'Y']);
    await jest.advanceTimersByTimeAsync(10);
    expect(calls).toEqual([['a', 'b', 'c'], ['b']]);
    expect(w.getMetrics()).toMatchObject({ eventsFlushed: 3, inFlight: 0 });
    dispose(w);
  });
});
