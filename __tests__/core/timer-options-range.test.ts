import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BackpressureWritable, MAX_TIMER_MS, type BackpressureWritableOptions } from '../../lib';
import { collect, FIXTURES } from '../helpers/cli';
import { ControlledSink, dispose, range, settle } from '../helpers/core-helpers';

// Node cannot wait longer than 2^31 − 1 ms: a longer setTimeout fires after 1 ms. Every option that
// ends up in a timer is therefore refused above MAX_TIMER_MS (never silently shortened), and the
// deadlines accept Infinity as "no deadline", for which no timer is armed at all.

const flush = async (): Promise<void> => {};
type Options = Partial<BackpressureWritableOptions<number>>;

const TIMER_OPTIONS: [string, (ms: number) => Options][] = [
  ['drainTimeoutMs', (ms) => ({ drainTimeoutMs: ms })],
  ['flushTimeoutMs', (ms) => ({ flushTimeoutMs: ms })],
  ['maxBlockTimeMs', (ms) => ({ maxBlockTimeMs: ms })],
  ['minFlushIntervalMs', (ms) => ({ minFlushIntervalMs: ms, maxFlushIntervalMs: MAX_TIMER_MS })],
  ['maxFlushIntervalMs', (ms) => ({ maxFlushIntervalMs: ms })],
  ['retry.minDelayMs', (ms) => ({ retry: { minDelayMs: ms, maxDelayMs: MAX_TIMER_MS } })],
  ['retry.maxDelayMs', (ms) => ({ retry: { maxDelayMs: ms } })],
  ['circuitBreaker.cooldownMs', (ms) => ({ circuitBreaker: { cooldownMs: ms } })],
];
const DEADLINES = ['drainTimeoutMs', 'flushTimeoutMs', 'maxBlockTimeMs'];

function build(options: Options): BackpressureWritable<number> {
  return new BackpressureWritable<number>({ flush, ...options });
}

describe('a timer option beyond 2^31 − 1 ms is refused with a coded RangeError naming the option and the range', () => {
  test.each(
    TIMER_OPTIONS.flatMap(([name, of]) => [2 ** 31, 3e9, Number.MAX_SAFE_INTEGER].map((ms) => [name, ms, of] as const)),
  )('%s: %d', (name, ms, of) => {
    const attempt = () => build(of(ms));
    expect(attempt).toThrow(RangeError);
    expect(attempt).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    expect(attempt).toThrow(`"${name}"`);
    expect(attempt).toThrow(`${MAX_TIMER_MS}]`);
  });

  test.each(TIMER_OPTIONS)('%s: MAX_TIMER_MS itself is accepted', (_name, of) => {
    dispose(build(of(MAX_TIMER_MS)));
  });

  test.each(TIMER_OPTIONS)('%s: Infinity is accepted only for a deadline', (name, of) => {
    if (DEADLINES.includes(name)) {
      dispose(build(of(Infinity)));
    } else {
      expect(() => build(of(Infinity))).toThrow(
        expect.objectContaining({ name: 'RangeError', code: 'ERR_OUT_OF_RANGE' }),
      );
    }
  });

  test('the deadlines name Infinity as the way to say "no deadline"', () => {
    expect(() => build({ flushTimeoutMs: 3e9 })).toThrow('or Infinity for no deadline');
  });
});

describe('timers at the limit wait as long as asked', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
  afterEach(() => jest.useRealTimers());

  test('drainTimeoutMs: MAX_TIMER_MS dead-letters only once it has passed', async () => {
    const sink = new ControlledSink<number>();
    const dead: number[] = [];
    const w = new BackpressureWritable<number>({
      drainTimeoutMs: MAX_TIMER_MS,
      flushTimeoutMs: Infinity,
      batchSize: 2,
      flush: sink.flush,
      onDeadLetter: (items) => void dead.push(...items),
    });
    for (const i of range(4)) w.write(i);
    w.end();
    await jest.advanceTimersByTimeAsync(MAX_TIMER_MS - 1);
    expect(dead).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(dead).toEqual(range(4));
  });

  test('a Retry-After beyond the limit waits retry.maxDelayMs, never 1 ms', async () => {
    const retries: number[] = [];
    let attempts = 0;
    const w = new BackpressureWritable<number>({
      batchSize: 1,
      retry: { retries: 2, minDelayMs: 1, maxDelayMs: MAX_TIMER_MS },
      flush: async () => {
        attempts++;
        throw Object.assign(new Error('503'), { retryAfterMs: attempts === 1 ? 3e9 : Infinity });
      },
    });
    w.on('retry', (e: { delayMs: number }) => retries.push(e.delayMs));
    w.write(1);
    await settle();
    expect(retries).toEqual([MAX_TIMER_MS]);
    await jest.advanceTimersByTimeAsync(MAX_TIMER_MS - 1);
    expect(attempts).toBe(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(attempts).toBe(2);
    expect(retries).toEqual([MAX_TIMER_MS, MAX_TIMER_MS]);
    dispose(w);
  });
});

describe('Infinity means no deadline: no timer is armed for it', () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
  afterEach(() => jest.useRealTimers());
  const YEAR_MS = 365 * 24 * 3600 * 1000;

  test('flushTimeoutMs and drainTimeoutMs: Infinity wait for a slow sink for as long as it takes', async () => {
    const sink = new ControlledSink<number>();
    const dead: number[] = [];
    const w = new BackpressureWritable<number>({
      flushTimeoutMs: Infinity,
      drainTimeoutMs: Infinity,
      batchSize: 3,
      flush: sink.flush,
      onDeadLetter: (items) => void dead.push(...items),
    });
    for (const i of range(3)) w.write(i);
    w.end();
    await settle();
    expect(sink.calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(YEAR_MS);
    expect(jest.getTimerCount()).toBe(0); // no watchdog, no drain timer
    expect(sink.pending.signal.aborted).toBe(false);
    expect(dead).toEqual([]);
    const finished = new Promise((resolve) => w.on('finish', resolve));
    sink.pending.resolve();
    await finished;
    expect(sink.delivered).toEqual(range(3));
    expect(w.getMetrics()).toMatchObject({ eventsFlushed: 3, eventsDeadLettered: 0, failedFlushes: 0 });
  });

  test('maxBlockTimeMs: Infinity never fails a blocked writer', async () => {
    const sink = new ControlledSink<number>();
    const errors: Error[] = [];
    const w = new BackpressureWritable<number>({
      maxBlockTimeMs: Infinity,
      flushTimeoutMs: Infinity,
      maxBufferSize: 2,
      batchSize: 1,
      flush: sink.flush,
    });
    w.on('error', (err) => errors.push(err));
    for (const i of range(4)) w.write(i);
    await settle();
    expect(w.state).toBe('blocked');
    await jest.advanceTimersByTimeAsync(YEAR_MS);
    expect(errors).toEqual([]);
    expect(w.state).toBe('blocked');
    dispose(w);
  });
});

describe('no timer ever overflows (a real process, watching for TimeoutOverflowWarning)', () => {
  const SCRIPT = join(FIXTURES, 'timer-extremes.js');
  async function run(...args: string[]): Promise<{ warnings: string[]; events: string[] }> {
    const result = await collect(spawn(process.execPath, [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as { warnings: string[]; events: string[] };
  }

  test('control: an overflowing timer is seen (warning, fires at once)', async () => {
    expect(await run('control')).toEqual({ warnings: ['TimeoutOverflowWarning'], events: ['control: fired'] });
  });

  test('every timer armed with the most extreme accepted values: no warning, nothing fires early', async () => {
    const { warnings, events } = await run();
    expect(warnings).toEqual([]);
    // Only the first failed attempts happen; each retry waits the longest delay Node can wait.
    expect(events.sort()).toEqual([
      `circuit: retry after ${MAX_TIMER_MS} ms`,
      `retry-after: retry after ${MAX_TIMER_MS} ms`,
    ]);
  });
});
