/**
 * A drop strategy drops only when the sink is really behind — not because items could not move
 * between its parts. The producer here is an async generator: a chain of microtasks that never lets
 * `process.nextTick` callbacks (with which Node's pipe() resumes its flow) run until it is done.
 */
import * as nodeStream from 'node:stream';
import * as readableStream from 'readable-stream';
import { backpressure } from '../../lib/compose/backpressure';
import { BackpressureWritable } from '../../lib/core/backpressure-writable';
import { dropNewest, dropOldest, sample, shedByPriority, type SheddingStage } from '../../lib/stages';
import { microtasks } from '../helpers/settle';
import { isConserved, range, settle } from '../helpers/stage-helpers';
import { strategyOptions } from '../helpers/strategy-options';

const pipelines: [string, typeof nodeStream.pipeline][] = [
  ['node:stream', nodeStream.pipeline],
  ['readable-stream', readableStream.pipeline],
];
type Shedding = 'drop-oldest' | 'drop-newest' | 'sample' | 'priority';
const strategies: Shedding[] = ['drop-oldest', 'drop-newest', 'sample', 'priority'];
const TOTAL = 20_000;
async function* ids(): AsyncGenerator<number> {
  for (let i = 0; i < TOTAL; i++) yield i;
}

function run(pipeline: typeof nodeStream.pipeline, ...streams: nodeStream.Writable[]): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    (pipeline as (...args: unknown[]) => unknown)(ids, ...streams, (error: Error | null | undefined) =>
      error ? reject(error) : resolve(),
    ),
  );
}

describe.each(pipelines)('an async generator into a sink that keeps up (pipeline from %s)', (_name, pipeline) => {
  test.each(strategies)(
    "backpressure({ strategy: '%s' }) delivers every item, in order, and drops none",
    async (strategy) => {
      const delivered: number[] = [];
      const bp = backpressure<number>(
        strategyOptions(strategy, {
          flush: async (batch) => void delivered.push(...batch), // instant: resolves in a microtask
          priority: (i) => i % 4,
        }),
      );
      let unconserved = 0;
      bp.on('drop', () => void (isConserved(bp.getMetrics()) || unconserved++));
      await run(pipeline, bp);
      const m = bp.getMetrics();
      expect({ dropped: m.eventsDropped, flushed: m.eventsFlushed, unconserved }).toEqual({
        dropped: 0,
        flushed: TOTAL,
        unconserved: 0,
      });
      expect(delivered).toEqual(range(TOTAL));
    },
  );

  test.each(strategies)(
    '%s: a source that pushes synchronously (Readable.from(array)) loses nothing to an instant sink',
    async (strategy) => {
      const delivered: number[] = [];
      const bp = backpressure<number>(
        strategyOptions(strategy, {
          flush: async (batch) => void delivered.push(...batch),
          priority: (i) => i % 4,
        }),
      );
      await new Promise<void>((resolve, reject) =>
        pipeline(nodeStream.Readable.from(range(TOTAL)), bp, (error) => (error ? reject(error) : resolve())),
      );
      expect(bp.getMetrics()).toMatchObject({ eventsAccepted: TOTAL, eventsFlushed: TOTAL, eventsDropped: 0 });
      expect(delivered).toEqual(range(TOTAL));
    },
  );

  test.each(strategies)(
    '%s: a sink that never answers does not hold the producer back: it drops, and end() is bounded',
    async (strategy) => {
      const dead: number[] = [];
      const bp = backpressure<number>(
        strategyOptions(strategy, {
          flush: () => new Promise<void>(() => {}),
          onDeadLetter: (items) => void dead.push(...items),
          drainTimeoutMs: 50,
          priority: (i) => i % 4,
        }),
      );
      let drops = 0;
      bp.on('drop', () => drops++);
      await run(pipeline, bp);
      const m = bp.getMetrics();
      expect(m.eventsAccepted).toBe(TOTAL);
      expect(drops).toBeGreaterThan(0);
      expect(m).toMatchObject({
        eventsDropped: drops,
        eventsDeadLettered: dead.length,
        eventsFlushed: 0,
        bufferSize: 0,
        inFlight: 0,
      });
      expect(drops + dead.length).toBe(TOTAL);
    },
  );

  const stages: [string, (writable: BackpressureWritable<number>) => SheddingStage<number>][] = [
    ['dropOldest', () => dropOldest<number>()],
    ['dropNewest', () => dropNewest<number>()],
    ['sample', (writable) => sample<number>({ pressure: writable })],
    ['shedByPriority', (writable) => shedByPriority<number>({ pressure: writable, priority: (i) => i % 4 })],
  ];
  test.each(stages)(
    '%s on its own in front of a BackpressureWritable delivers every item, in order, and drops none',
    async (_stage, make) => {
      const delivered: number[] = [];
      const writable = new BackpressureWritable<number>({ flush: async (batch) => void delivered.push(...batch) });
      const stage = make(writable);
      await run(pipeline, stage, writable);
      expect(stage.getMetrics()).toMatchObject({ written: TOTAL, passed: TOTAL, dropped: 0, held: 0 });
      expect(delivered).toEqual(range(TOTAL));
    },
  );

  test.each(stages)(
    '%s on its own, fed by Readable.from(array), delivers every item, in order, and drops none',
    async (_stage, make) => {
      const delivered: number[] = [];
      const writable = new BackpressureWritable<number>({ flush: async (batch) => void delivered.push(...batch) });
      const stage = make(writable);
      await new Promise<void>((resolve, reject) =>
        pipeline(nodeStream.Readable.from(range(TOTAL)), stage, writable, (error) =>
          error ? reject(error) : resolve(),
        ),
      );
      expect(stage.getMetrics()).toMatchObject({ written: TOTAL, passed: TOTAL, dropped: 0, held: 0 });
      expect(delivered).toEqual(range(TOTAL));
    },
  );
});

/** A flush per call that settles only when the test says so. */
function gatedSink() {
  const pending: { batch: number[]; resolve: () => void }[] = [];
  const delivered: number[] = [];
  return {
    pending,
    delivered,
    flush: (batch: number[]) =>
      new Promise<void>(
        (resolve) =>
          void pending.push({
            batch: [...batch],
            resolve: () => {
              delivered.push(...batch);
              resolve();
            },
          }),
      ),
  };
}

test.each(strategies)(
  '%s: once the writable leaves blocked, held items move into it within microtasks, oldest first',
  async (strategy) => {
    const sink = gatedSink();
    const bp = backpressure<number>(
      strategyOptions(strategy, {
        flush: sink.flush,
        priority: () => 1,
        sampleRate: 1, // keep everything: this is about moving, not shedding
        capacity: 10,
        maxBufferSize: 4,
        batchSize: 2,
        hysteresis: 0,
        minFlushIntervalMs: 0,
      }),
    );
    await settle();
    // 0, 1 in flight; 2–5 fill the writable (blocked); 6–11 wait in the stage. write() says false from
    // 6 on (the stage's hold starts to fill) — for sample and priority, which read the writable's
    // pressure, from 3 on (3 takes the writable above normal): the writer is asked to wait one turn.
    const firstYield = strategy === 'sample' || strategy === 'priority' ? 3 : 6;
    expect(range(12).map((i) => bp.write(i))).toEqual(range(12).map((i) => i < firstYield));
    expect(bp.state).toBe('blocked');
    expect(bp.getMetrics()).toMatchObject({ inFlight: 2, eventsDropped: 0, stage: { held: 6 } });

    let tickRan = false;
    process.nextTick(() => (tickRan = true));
    sink.pending.shift()?.resolve();
    await microtasks(50);
    expect(tickRan).toBe(false); // nothing below needed a nextTick (or anything later) to happen
    // The flush of 0, 1 settled; 2, 3 went in flight; two held items (6, 7) moved in; blocked again.
    expect(sink.delivered).toEqual([0, 1]);
    expect(sink.pending.map((call) => call.batch)).toEqual([[2, 3]]);
    expect(bp.getMetrics()).toMatchObject({ inFlight: 2, bufferSize: 8, stage: { held: 4, passed: 6 + 2 } });
    expect(bp.state).toBe('blocked');

    // Deliver everything; order holds across the stage and the writable.
    const finished = new Promise((resolve) => bp.on('finish', resolve));
    bp.end();
    for (let i = 0; sink.delivered.length < 12 && i < 100; i++) {
      for (const call of sink.pending.splice(0)) call.resolve();
      await settle();
    }
    await finished;
    expect(sink.delivered).toEqual(range(12));
    expect(bp.getMetrics()).toMatchObject({ eventsAccepted: 12, eventsFlushed: 12, eventsDropped: 0 });
  },
);

test.each(['drop-oldest', 'drop-newest'] as const)(
  '%s: drops only while the writable is blocked and the stage is full',
  async (strategy) => {
    const sink = gatedSink();
    const bp = backpressure<number>(
      strategyOptions(strategy, {
        flush: sink.flush,
        capacity: 5,
        maxBufferSize: 10,
        batchSize: 5,
        minFlushIntervalMs: 0,
      }),
    );
    const statesAtDrop: string[] = [];
    bp.on('drop', () => statesAtDrop.push(`${bp.state}/${bp.getMetrics().stage.held}`));
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 30; i++) bp.write(round * 30 + i);
      for (const call of sink.pending.splice(0)) call.resolve();
      await settle();
    }
    expect(statesAtDrop.length).toBeGreaterThan(0);
    expect(new Set(statesAtDrop)).toEqual(new Set(['blocked/5']));
    bp.on('error', () => {});
    bp.destroy();
  },
);
