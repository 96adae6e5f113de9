import { BackpressureWritable, type RetryEvent } from '../../lib';
import { backoffDelayMs } from '../../lib/resilience/backoff';
import { ControlledSink, dispose, range, settle } from '../helpers/core-helpers';

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

describe('backoffDelayMs: exponential with equal jitter', () => {
  const opts = { retries: 5, minDelayMs: 100, maxDelayMs: 1000 };
  test.each([
    [1, 50, 100],
    [2, 100, 200],
    [3, 200, 400],
    [4, 400, 800],
    [5, 500, 1000],
    [9, 500, 1000],
  ])('retry %d is in [%d, %d]', (n, lo, hi) => {
    expect(backoffDelayMs(n, opts, () => 0)).toBe(lo);
    expect(backoffDelayMs(n, opts, () => 1)).toBe(hi);
  });
});

describe('a rejected or throwing flush is retried with backoff, in order, with ctx.attempt counting up', () => {
  test('rejections then success: delivered once, retries counted, order kept', async () => {
    const sink = new ControlledSink<number>();
    const retries: RetryEvent[] = [];
    const w = new BackpressureWritable<number>({
      batchSize: 3,
      retry: { retries: 3, minDelayMs: 100, maxDelayMs: 1000 },
      flush: sink.flush,
    });
    w.on('retry', (e: RetryEvent) => retries.push(e));
    for (const i of range(6)) w.write(i);
    sink.pending.reject(new Error('boom 1'));
    await settle();
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ items: 3, attempt: 1 });
    expect(retries[0]?.delayMs).toBeGreaterThanOrEqual(50);
    expect(retries[0]?.delayMs).toBeLessThanOrEqual(100);
    expect(sink.calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(100);
    expect(sink.calls).toHaveLength(2);
    expect(sink.pending).toMatchObject({ batch: [0, 1, 2], attempt: 2 });
    sink.pending.reject(new Error('boom 2'));
    await settle();
    await jest.advanceTimersByTimeAsync(200);
    expect(sink.pending.attempt).toBe(3);
    sink.pending.resolve();
    await settle();
    expect(sink.pending.batch).toEqual([3, 4, 5]); // the next batch only after the first got through
    sink.pending.resolve();
    await settle();
    expect(sink.delivered).toEqual(range(6));
    expect(w.getMetrics()).toMatchObject({
      eventsFlushed: 6,
      eventsRetried: 6,
      failedFlushes: 2,
      eventsDeadLettered: 0,
    });
    dispose(w);
  });

  test('a synchronous throw is a failure like a rejection', async () => {
    let calls = 0;
    const w = new BackpressureWritable<number>({
      batchSize: 1,
      retry: { retries: 1, minDelayMs: 10 },
      flush: () => {
        calls++;
        if (calls === 1) throw new Error('sync');
        return Promise.resolve();
      },
    });
    w.write(1);
    await settle();
    await jest.advanceTimersByTimeAsync(10);
    await settle();
    expect(calls).toBe(2);
    expect(w.getMetrics()).toMatchObject({ eventsFlushed: 1, eventsRetried: 1 });
    dispose(w);
  });

  test('errors with retryable: false are dead-lettered at once; retryAfterMs is honoured', async () => {
    const sink = new ControlledSink<number>();
    const dead: number[][] = [];
    const w = new BackpressureWritable<number>({
      batchSize: 1,
      retry: { retries: 5, minDelayMs: 10, maxDelayMs: 5000 },
      onDeadLetter: (items) => void dead.push(items),
      flush: sink.flush,
    });
    const retries: RetryEvent[] = [];
    w.on('retry', (e: RetryEvent) => retries.push(e));
    w.write(1);
    sink.pending.reject(Object.assign(new Error('400 bad request'), { retryable: false }));
    await settle();
    expect(dead).toEqual([[1]]);
    expect(retries).toHaveLength(0);
    w.write(2);
    sink.pending.reject(Object.assign(new Error('429'), { retryAfterMs: 3000 }));
    await settle();
    expect(retries[0]?.delayMs).toBe(3000);
    await jest.advanceTimersByTimeAsync(2999);
    expect(sink.calls).toHaveLength(2);
    await jest.advanceTimersByTimeAsync(1);
    expect(sink.calls).toHaveLength(3);
    dispose(w);
  });
});
