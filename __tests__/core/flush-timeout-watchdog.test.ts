/**
 * flushTimeoutMs is enforced by one watchdog timer shared by every running
 * attempt (concurrency > 1). Two things must hold however the attempts
 * overlap: each attempt is aborted exactly flushTimeoutMs after it started
 * (not later because another attempt re-armed the watchdog), and once a
 * timeout has failed and closed the stream no timer is left behind (a live
 * timer keeps the process up for up to flushTimeoutMs more).
 * Fake clock: the times below are exact, not measured.
 *
 * Regression tests: the watchdog once re-armed only when no watchdog was armed
 * (so a fresh attempt's later deadline hid an older one's) and could re-arm on
 * a stream a timeout had just closed.
 */
import { BackpressureWritable, ErrorCodes, isBackpressureError } from '../../lib';
import { settle } from '../helpers/settle';

beforeEach(() => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
});

afterEach(() => {
  jest.useRealTimers();
});

test('each attempt is aborted flushTimeoutMs after it started, even when another attempt timed out and a new one started meanwhile', async () => {
  const t0 = Date.now();
  const abortedAt: Record<string, number> = {};
  const startedAt: Record<string, number> = {};
  const w = new BackpressureWritable<string>({
    batchSize: 1,
    concurrency: 2,
    flushTimeoutMs: 100,
    retry: { retries: 0 },
    onDeadLetter: () => undefined,
    // A sink that never answers; it notes when each attempt started and was aborted.
    flush: (batch, ctx) => {
      const item = batch[0] as string;
      startedAt[item] = Date.now() - t0;
      ctx.signal.addEventListener('abort', () => (abortedAt[item] = Date.now() - t0));
      return new Promise<void>(() => undefined);
    },
  });
  w.write('A'); // starts at 0
  await jest.advanceTimersByTimeAsync(50);
  w.write('B'); // starts at 50
  await jest.advanceTimersByTimeAsync(10);
  w.write('C'); // buffered (both slots taken); starts at 100 when A times out and is dead-lettered
  await jest.advanceTimersByTimeAsync(300);
  await settle(8);
  expect(startedAt).toEqual({ A: 0, B: 50, C: 100 });
  expect(abortedAt).toEqual({ A: 100, B: 150, C: 200 });
  w.destroy();
});

test('a flush timeout that fails the stream leaves no watchdog timer armed', async () => {
  const errors: unknown[] = [];
  const w = new BackpressureWritable<number>({
    batchSize: 1,
    concurrency: 2,
    flushTimeoutMs: 100,
    retry: { retries: 0 },
    flush: () => new Promise<void>(() => undefined), // a sink that never answers
  });
  w.on('error', (err) => errors.push(err));
  w.write(0); // attempt A, deadline t=100
  await jest.advanceTimersByTimeAsync(50);
  w.write(1); // attempt B, deadline t=150
  await jest.advanceTimersByTimeAsync(50); // A times out; no retries, no onDeadLetter: the stream fails
  await settle(8);
  expect(w.destroyed).toBe(true);
  expect(errors).toHaveLength(1);
  expect(isBackpressureError(errors[0], ErrorCodes.FLUSH_FAILED)).toBe(true);
  expect(w.getMetrics()).toMatchObject({ eventsDeadLettered: 2, inFlight: 0, state: 'closed' });
  expect(jest.getTimerCount()).toBe(0);
});
