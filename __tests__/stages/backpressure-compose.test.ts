import { BackpressureWritable } from '../../lib/core/backpressure-writable';
import { backpressure, StrategyWritable } from '../../lib/compose/backpressure';
import { DropReason } from '../../lib/stages';
import { isConserved, macrotask, settle } from '../helpers/stage-helpers';
import { strategyOptions } from '../helpers/strategy-options';

/** A flush that never settles until `open()` is called; then every pending and later flush resolves. */
function gate() {
  const pending: (() => void)[] = [];
  const delivered: number[] = [];
  let opened = false;
  return {
    delivered,
    flush: (batch: number[]) =>
      new Promise<void>((resolve) => {
        const done = () => {
          delivered.push(...batch);
          resolve();
        };
        if (opened) done();
        else pending.push(done);
      }),
    open() {
      opened = true;
      for (const done of pending.splice(0)) done();
    },
  };
}

test("'block' (the default) is the BackpressureWritable itself", () => {
  const flush = async () => {};
  expect(backpressure<number>({ flush })).toBeInstanceOf(BackpressureWritable);
  expect(backpressure<number>({ flush, strategy: 'block' })).toBeInstanceOf(BackpressureWritable);
  expect(backpressure<number>({ flush, strategy: 'drop-oldest' })).toBeInstanceOf(StrategyWritable);
});

test('backpressure() rejects an unknown strategy and a priority strategy without priority()', () => {
  const flush = async () => {};
  // @ts-expect-error not a strategy: refused at run time too, for JavaScript callers
  expect(() => backpressure<number>({ flush, strategy: 'drop-everything' })).toThrow(RangeError);
  // @ts-expect-error 'priority' requires `priority`: refused at run time too
  expect(() => backpressure<number>({ flush, strategy: 'priority' })).toThrow(TypeError);
  expect(() => backpressure<number>({ flush, strategy: 'drop-oldest', capacity: 0 })).toThrow(RangeError);
  expect(() => backpressure<number>({ flush: undefined as never, strategy: 'drop-oldest' })).toThrow(TypeError);
});

describe.each(['drop-oldest', 'drop-newest'] as const)('%s composed with a writable', (strategy) => {
  test('drops nothing until both the stage and the writable are full, and never makes the writer wait more than one turn', async () => {
    const sink = gate();
    const capacity = 10;
    const maxBufferSize = 20;
    const batchSize = 5;
    const bp = backpressure<number>(
      strategyOptions(strategy, {
        flush: sink.flush,
        capacity,
        maxBufferSize,
        batchSize,
        minFlushIntervalMs: 0,
      }),
    );
    const drops: number[] = [];
    let unconserved = 0;
    let overBound = 0;
    const check = () => {
      const m = bp.getMetrics();
      if (!isConserved(m)) unconserved++;
      if (m.bufferSize > capacity + maxBufferSize) overBound++;
    };
    bp.on('drop', ({ item }: { item: number }) => {
      drops.push(item);
      check();
    });
    bp.on('state', check);
    bp.on('flush', check);
    await settle();

    // Room: one batch in flight + the writable's buffer + the stage's hold.
    const room = batchSize + maxBufferSize + capacity;
    let refused = 0;
    let drains = 0;
    bp.on('drain', () => drains++);
    for (let i = 0; i < room; i++) {
      if (!bp.write(i)) {
        // Only the item that starts to fill the stage's hold: one event-loop turn, then 'drain'.
        expect({ i, held: bp.getMetrics().stage.held }).toEqual({ i: batchSize + maxBufferSize, held: 1 });
        refused++;
        await macrotask();
        expect(drains).toBe(refused);
      }
      await settle();
    }
    expect(refused).toBe(1);
    expect(drops).toEqual([]);
    expect(bp.state).toBe('blocked');
    expect(bp.getMetrics()).toMatchObject({
      eventsAccepted: room,
      inFlight: batchSize,
      bufferSize: maxBufferSize + capacity,
      eventsDropped: 0,
    });

    for (let i = room; i < room + 7; i++) if (!bp.write(i)) refused++;
    expect(refused).toBe(1); // the stage holds items already: it is not starting to fill
    expect(drops).toEqual(strategy === 'drop-oldest' ? [25, 26, 27, 28, 29, 30, 31] : [35, 36, 37, 38, 39, 40, 41]);
    const m = bp.getMetrics();
    expect(m).toMatchObject({ eventsAccepted: room + 7, eventsDropped: 7, bufferSize: maxBufferSize + capacity });
    expect(m.droppedByReason[strategy === 'drop-oldest' ? DropReason.EVICTED_OLDEST : DropReason.REJECTED_NEWEST]).toBe(
      7,
    );
    expect(m.stage).toMatchObject({ written: room + 7, held: capacity, dropped: 7 });

    // end() drains the stage, then the writable; 'finish' only once the writable has finished.
    const finished = new Promise<boolean>((resolve) =>
      bp.on('finish', () => resolve(bp.backpressureWritable.writableFinished)),
    );
    bp.end();
    sink.open();
    expect(await finished).toBe(true);
    const end = bp.getMetrics();
    expect(end).toMatchObject({
      eventsAccepted: room + 7,
      eventsFlushed: room,
      eventsDropped: 7,
      bufferSize: 0,
      inFlight: 0,
      state: 'closed',
    });
    expect(sink.delivered).toEqual([...sink.delivered].sort((a, b) => a - b));
    expect(unconserved).toBe(0);
    expect(overBound).toBe(0);
  });
});

test("the composition forwards the writable's events and the stage's drops, and reports the writable's state", async () => {
  const sink = gate();
  const bp = backpressure<number>({
    strategy: 'drop-newest',
    flush: sink.flush,
    capacity: 1,
    maxBufferSize: 4,
    batchSize: 2,
    minFlushIntervalMs: 0,
  });
  const seen: string[] = [];
  for (const name of ['state', 'flush', 'drop']) bp.on(name, () => seen.push(name));
  await settle();
  for (let i = 0; i < 10; i++) {
    bp.write(i);
    await settle();
  }
  expect(bp.state).toBe(bp.backpressureWritable.state);
  expect(bp.state).toBe('blocked');
  sink.open();
  bp.end();
  await new Promise((resolve) => bp.on('finish', resolve));
  expect(seen).toContain('state');
  expect(seen).toContain('flush');
  expect(seen).toContain('drop');
  expect(bp.getMetrics().eventsFlushed + bp.getMetrics().eventsDropped).toBe(10);
});

test('sample and priority compositions shed by the writable’s pressure', async () => {
  for (const strategy of ['sample', 'priority'] as const) {
    const sink = gate();
    const bp = backpressure<number>(
      strategyOptions(strategy, {
        flush: sink.flush,
        sampleRate: 10,
        priority: (i) => (i % 10 === 0 ? 1 : 0),
        capacity: 1000,
        maxBufferSize: 100,
        batchSize: 10,
        minFlushIntervalMs: 0,
      }),
    );
    await settle();
    // 10 go in flight (one batch), 50 fill the writable to its low watermark (50 % of 100): all pass.
    for (let i = 0; i < 60; i++) bp.write(i);
    await settle();
    expect(bp.getMetrics().eventsDropped).toBe(0);
    expect(bp.state).toBe('elevated');
    for (let i = 60; i < 1060; i++) bp.write(i); // above normal: 1 in 10 kept (sample), only priority 1 kept (priority)
    await settle();
    const m = bp.getMetrics();
    expect(isConserved(m)).toBe(true);
    expect(m.eventsDropped).toBe(900);
    expect(m.droppedByReason[strategy === 'sample' ? DropReason.SAMPLED_OUT : DropReason.SHED_PRIORITY]).toBe(900);
    sink.open();
    bp.end();
    await new Promise((resolve) => bp.on('finish', resolve));
    expect(bp.getMetrics()).toMatchObject({ eventsAccepted: 1060, eventsFlushed: 160, eventsDropped: 900 });
  }
});
