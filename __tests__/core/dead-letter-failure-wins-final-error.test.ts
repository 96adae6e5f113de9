import {
  backpressure,
  ErrorCodes,
  type BackpressureError,
  type BackpressureWritable,
  type BackpressureWritableOptions,
  type StrategyWritable,
} from '../../lib';
import { expectConserved, settle } from '../helpers/core-helpers';
import { strategyOptions, type StrategyExtras } from '../helpers/strategy-options';

// When onDeadLetter fails, the items it was given can only come back through the stream's error. So the
// stream's one 'error' is ERR_BACKPRESSURE_DEAD_LETTER_FAILED carrying them — whatever else the stream
// was failing with: your own destroy(err) (which stays in `errored`) or its own failure (a block
// timeout). Same for a plain BackpressureWritable and for every composition (docs/writable.md, "Ending
// and destroying"). Fuzz seeds 295, 504 (destroy(err)) and 613 (block timeout) found it in compositions.

const STRATEGIES = ['block', 'drop-oldest', 'drop-newest', 'sample', 'priority'] as const;

function create(
  strategy: (typeof STRATEGIES)[number],
  options: BackpressureWritableOptions<number> & StrategyExtras<number>,
): BackpressureWritable<number> | StrategyWritable<number> {
  return backpressure<number>(strategyOptions(strategy, { ...options, priority: (n: number) => n % 3 }));
}

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

describe.each(STRATEGIES)('%s', (strategy) => {
  test("destroy(err) while items are held and onDeadLetter fails: 'error' is DEAD_LETTER_FAILED with every item; errored is your error", async () => {
    const handed: number[] = [];
    const w = create(strategy, {
      maxBufferSize: 100,
      batchSize: 100,
      minFlushIntervalMs: 1000,
      flush: () => new Promise<void>(() => undefined),
      onDeadLetter: async (items) => {
        handed.push(...items);
        throw new Error('dead-letter queue down');
      },
    });
    const errors: Error[] = [];
    w.on('error', (err: Error) => errors.push(err));
    for (const i of [0, 1, 2, 3]) w.write(i);
    const mine = new Error('shutting down');
    const closed = new Promise((resolve) => w.once('close', resolve));
    w.destroy(mine);
    await closed;
    expect(errors).toHaveLength(1);
    const err = errors[0] as BackpressureError<number>;
    expect(err.code).toBe(ErrorCodes.DEAD_LETTER_FAILED);
    expect((err.cause as Error).message).toBe('dead-letter queue down');
    expect([...(err.items ?? [])].sort()).toEqual([0, 1, 2, 3]);
    expect([...handed].sort()).toEqual([0, 1, 2, 3]);
    expect(w.errored).toBe(mine);
    const m = w.getMetrics();
    expectConserved(m);
    expect(m.eventsDeadLettered).toBe(4);
  });

  test("a block timeout whose onDeadLetter fails: 'error' is DEAD_LETTER_FAILED with every item", async () => {
    const w = create(strategy, {
      maxBufferSize: 2,
      batchSize: 1,
      maxBlockTimeMs: 50,
      capacity: 10,
      flush: () => new Promise<void>(() => undefined),
      onDeadLetter: () => {
        throw new Error('dead-letter queue down');
      },
    });
    const errors: Error[] = [];
    w.on('error', (err: Error) => errors.push(err));
    const written: number[] = [];
    for (let i = 0; i < 6; i++) {
      w.write(i);
      written.push(i);
    }
    await settle();
    await jest.advanceTimersByTimeAsync(60);
    await settle();
    expect(w.destroyed).toBe(true);
    await jest.advanceTimersByTimeAsync(1);
    await settle();
    expect(errors).toHaveLength(1);
    const err = errors[0] as BackpressureError<number>;
    expect(err.code).toBe(ErrorCodes.DEAD_LETTER_FAILED);
    const m = w.getMetrics();
    expectConserved(m);
    // Every item is dropped by the strategy or in the error, exactly once.
    const dropped = m.eventsDropped;
    expect(dropped + (err.items ?? []).length).toBe(written.length);
    expect(new Set(err.items).size).toBe((err.items ?? []).length);
  });
});
