/**
 * A composition whose writable destroys itself inside its own write() — an item whose size cannot be
 * measured, and no onDeadLetter — loses nothing: the bad item and everything the writable held are in
 * the error's items, everything the stage held is dropped as 'destroyed' (an event each), and nothing
 * is written into the destroyed writable afterwards. Every id, exactly once.
 */
import { backpressure, type StrategyWritable } from '../../lib/compose/backpressure';
import { ErrorCodes, isBackpressureError } from '../../lib/core/errors';
import type { DropEvent } from '../../lib/stages';
import { isConserved, settle } from '../helpers/stage-helpers';
import { strategyOptions } from '../helpers/strategy-options';

type Shedding = 'drop-oldest' | 'drop-newest' | 'sample' | 'priority';
const strategies: Shedding[] = ['drop-oldest', 'drop-newest', 'sample', 'priority'];

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

interface Outcome {
  flushed: number[];
  dropped: Map<number, string>;
  deadLettered: number[];
  errorItems: number[];
  error: unknown;
  /** Events whose listener saw getMetrics() out of balance. */
  unconserved: string[];
  /** Ids whose write() was refused by Node (after the composition was destroyed), with the error. */
  refused: number[];
  bp: StrategyWritable<number>;
}

async function run(strategy: Shedding, maxBufferSize: number, badId: number, writes: number): Promise<Outcome> {
  const flushed: number[] = [];
  const bp = backpressure<number>(
    strategyOptions(strategy, {
      maxBufferSize,
      batchSize: 1,
      maxBufferBytes: 1000,
      sizeOf: (id) => {
        if (id === badId) throw new Error(`cannot measure ${id}`);
        return 1;
      },
      // 20 ms per batch; an attempt the stream gave up on (aborted) does not count as delivered.
      flush: (batch, { signal }) =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            if (!signal.aborted) flushed.push(...batch);
            resolve();
          }, 20),
        ),
      priority: () => 1,
      sampleRate: 1,
      minFlushIntervalMs: 0,
    }),
  );
  const outcome: Outcome = {
    flushed,
    dropped: new Map(),
    deadLettered: [],
    errorItems: [],
    error: undefined,
    unconserved: [],
    refused: [],
    bp,
  };
  const check = (name: string) => () => {
    if (!isConserved(bp.getMetrics())) outcome.unconserved.push(name);
  };
  for (const name of ['state', 'flush', 'retry', 'circuit']) bp.on(name, check(name));
  bp.on('drop', ({ item, reason }: DropEvent<number>) => {
    outcome.dropped.set(item, reason);
    check('drop')();
  });
  bp.on('dead-letter', ({ items }) => {
    outcome.deadLettered.push(...(items as number[]));
    check('dead-letter')();
  });
  const closed = new Promise<void>((resolve) => bp.on('close', resolve));
  bp.on('error', (error) => {
    outcome.error = error;
    if (isBackpressureError(error)) outcome.errorItems.push(...((error.items ?? []) as number[]));
  });
  for (let id = 0; id < writes; id++) {
    bp.write(id, (error?: Error | null) => {
      if (error) outcome.refused.push(id);
    });
  }
  await jest.advanceTimersByTimeAsync(1000);
  await closed;
  await settle();
  return outcome;
}

describe.each(strategies)('%s composition', (strategy) => {
  test('the item after a bad size, waiting in the stage, is dropped as destroyed, not lost (issue 10, defect 3)', async () => {
    // maxBufferSize 2: 0 in flight, 1 and 2 fill the writable, 3–7 wait in the stage; id 5 fails when it moves in.
    const o = await run(strategy, 2, 5, 8);
    expect(isBackpressureError(o.error, ErrorCodes.INVALID_ITEM_SIZE)).toBe(true);
    expect(o.refused).toEqual([]);
    expect(o.unconserved).toEqual([]);
    // Every id exactly once: flushed, in the error's items (dead-lettered), or dropped as 'destroyed'.
    const seen = [...o.flushed, ...o.errorItems, ...o.dropped.keys()].sort((a, b) => a - b);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(o.errorItems).toContain(5);
    expect(o.deadLettered.sort((a, b) => a - b)).toEqual([...o.errorItems].sort((a, b) => a - b));
    expect([...o.dropped.keys()]).toEqual([6, 7]);
    expect(new Set(o.dropped.values())).toEqual(new Set(['destroyed']));
    const m = o.bp.getMetrics();
    expect(isConserved(m)).toBe(true);
    expect(m).toMatchObject({
      eventsAccepted: 8,
      bufferSize: 0,
      inFlight: 0,
      eventsDropped: 2,
      eventsDeadLettered: o.errorItems.length,
    });
  });

  test('a bad size written straight into the writable destroys the whole at once: later writes are refused, never swallowed', async () => {
    // maxBufferSize 100: every item goes straight into the writable; id 3 fails inside that write.
    const o = await run(strategy, 100, 3, 8);
    expect(isBackpressureError(o.error, ErrorCodes.INVALID_ITEM_SIZE)).toBe(true);
    expect(o.bp.destroyed).toBe(true);
    expect(o.unconserved).toEqual([]);
    // 0–3 were accepted (0 in flight, 1–2 buffered, 3 the bad one): all in the error. 4–7 reached a
    // destroyed stream: Node refused them (their callbacks got the error), nothing counted them.
    expect([...o.errorItems].sort((a, b) => a - b)).toEqual([0, 1, 2, 3]);
    expect(o.refused).toEqual([4, 5, 6, 7]);
    expect(o.flushed).toEqual([]);
    expect(o.dropped.size).toBe(0);
    expect(o.bp.getMetrics()).toMatchObject({ eventsAccepted: 4, eventsDeadLettered: 4, bufferSize: 0, inFlight: 0 });
  });

  test('a writable destroyed while blocked destroys the whole at once; what the stage held is dropped as destroyed', async () => {
    const dead: number[] = [];
    const bp = backpressure<number>(
      strategyOptions(strategy, {
        maxBufferSize: 2,
        batchSize: 1,
        flush: () => new Promise<void>(() => {}),
        onDeadLetter: (items) => void dead.push(...items),
        priority: () => 1,
        sampleRate: 1,
      }),
    );
    const dropped: number[] = [];
    bp.on('drop', ({ item }: DropEvent<number>) => dropped.push(item));
    bp.on('error', () => {});
    for (let id = 0; id < 6; id++) bp.write(id); // 0 in flight, 1–2 buffered (blocked), 3–5 in the stage
    expect(bp.state).toBe('blocked');
    bp.backpressureWritable.destroy(new Error('gone'));
    expect(bp.destroyed).toBe(true); // at once, not on a later tick
    let refused: Error | null | undefined;
    bp.write(6, (error?: Error | null) => (refused = error));
    await settle();
    expect((refused as NodeJS.ErrnoException | undefined)?.code).toBe('ERR_STREAM_DESTROYED');
    expect(dropped).toEqual([3, 4, 5]);
    expect(dead).toEqual([0, 1, 2]);
    expect(bp.getMetrics()).toMatchObject({
      eventsAccepted: 6,
      eventsDropped: 3,
      eventsDeadLettered: 3,
      bufferSize: 0,
      inFlight: 0,
    });
  });
});
