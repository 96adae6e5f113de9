import { backpressure, ErrorCodes, type BackpressureError, type DeadLetterEvent } from '../../lib';
import { expectConserved, settle } from '../helpers/core-helpers';
import { isShedding, strategyOptions } from '../helpers/strategy-options';

// Without onDeadLetter, the stream's error is the only place the user gets undeliverable items back.
// A 'dead-letter' listener that calls destroy() (no error of its own) must not make the stream end
// quietly: the coded error with the items is still emitted. (Fuzz seed 217 found it in a composition.)

const STRATEGIES = ['block', 'drop-oldest', 'drop-newest', 'sample', 'priority'] as const;

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

test.each(STRATEGIES)(
  "%s: destroy() inside the 'dead-letter' listener of a failed batch still emits the error with its items",
  async (strategy) => {
    const w = backpressure<number>(
      strategyOptions(strategy, {
        priority: (n: number) => n,
        batchSize: 2,
        retry: { retries: 0 },
        flush: (batch) => (batch.includes(0) ? Promise.reject(new Error('sink refused')) : Promise.resolve()),
      }),
    );
    const events: number[][] = [];
    w.on('dead-letter', (event: DeadLetterEvent<number>) => {
      events.push([...event.items]);
      w.destroy();
    });
    const errors: BackpressureError<number>[] = [];
    w.on('error', (err: BackpressureError<number>) => errors.push(err));
    w.write(0);
    w.write(1);
    await settle(20);
    await jest.advanceTimersByTimeAsync(1);
    await settle(20);
    expect(w.destroyed).toBe(true);
    expect(events).toEqual([[0, 1]]);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.code).toBe(ErrorCodes.FLUSH_FAILED);
    expect(errors[0]?.items).toEqual([0, 1]);
    expectConserved(w.getMetrics());
    expect(w.getMetrics().eventsDeadLettered).toBe(2);
  },
);

test.each(STRATEGIES.filter(isShedding))(
  "%s: destroy() inside the 'dead-letter' listener of a drain timeout: the one error carries the writable's items and the stage's",
  async (strategy) => {
    const w = backpressure<number>(
      strategyOptions(strategy, {
        priority: () => 1,
        sampleRate: 1, // sample keeps everything: nothing is shed on arrival
        maxBufferSize: 2,
        batchSize: 1,
        capacity: 10,
        drainTimeoutMs: 0,
        flush: () => new Promise<void>(() => undefined),
      }),
    );
    const events: number[][] = [];
    w.on('dead-letter', (event: DeadLetterEvent<number>) => {
      events.push([...event.items]);
      w.destroy();
    });
    const drops: number[] = [];
    w.on('drop', ({ item }: { item: number }) => drops.push(item));
    const errors: BackpressureError<number>[] = [];
    w.on('error', (err: BackpressureError<number>) => errors.push(err));
    const written = [0, 1, 2, 3, 4, 5];
    for (const i of written) w.write(i);
    expect(w.stage.held).toBeGreaterThan(0); // the writable is blocked: the stage holds the rest
    w.end();
    await settle(20);
    await jest.advanceTimersByTimeAsync(1);
    await settle(20);
    expect(w.destroyed).toBe(true);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.code).toBe(ErrorCodes.DRAIN_TIMEOUT);
    expect([...(errors[0]?.items ?? [])].sort()).toEqual(written);
    expect(events.flat().sort()).toEqual(written);
    expect(drops).toEqual([]); // the stage's items were never shed: handed over and dead-lettered
    const m = w.getMetrics();
    expectConserved(m);
    expect(m.eventsDeadLettered).toBe(written.length);
  },
);
