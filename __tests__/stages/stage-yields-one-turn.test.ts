/**
 * A stage on its own never makes its writer wait longer than one event-loop turn: when its hold
 * starts to fill, write() says false and 'drain' follows on the next setImmediate, whatever the
 * consumer does. That one turn lets Node's pipe() machinery (process.nextTick) move items a
 * microtask-chain producer would otherwise starve; a consumer that is really behind gets no more.
 */
import * as nodeStream from 'node:stream';
import * as readableStream from 'readable-stream';
import { DropReason, dropNewest, dropOldest, sample, shedByPriority, type SheddingStage } from '../../lib/stages';
import { FakePressure, isBalanced, macrotask, settle } from '../helpers/stage-helpers';

const makers: [string, () => SheddingStage<number>][] = [
  ['dropOldest', () => dropOldest<number>({ capacity: 3 })],
  ['dropNewest', () => dropNewest<number>({ capacity: 3 })],
  // No pressure source: both shed by their own hold's fill.
  ['sample', () => sample<number>({ capacity: 3, rate: 1 })],
  ['shedByPriority', () => shedByPriority<number>({ capacity: 3, priority: () => 1 })],
];

describe.each(makers)('%s on its own', (_name, make) => {
  test("with nobody reading: false when the hold starts to fill, 'drain' one turn later, never a refused item", async () => {
    const stage = make();
    let drains = 0;
    stage.on('drain', () => drains++);
    expect(stage.write(0)).toBe(false); // the hold starts to fill
    expect(stage.write(1)).toBe(false); // the same turn: still yielding, but accepted
    expect(stage.getMetrics()).toMatchObject({ written: 2, held: 2 });
    await settle();
    expect(drains).toBe(0); // not before the turn is over
    await macrotask();
    expect(drains).toBe(1); // although nobody read anything
    // The hold is not empty, so it is not starting to fill: no more waiting, the policy decides.
    for (let i = 2; i < 10; i++) expect(stage.write(i)).toBe(true);
    const m = stage.getMetrics();
    expect(m).toMatchObject({ written: 10, held: 3, dropped: 7 });
    expect(isBalanced(m)).toBe(true);
    await macrotask();
    expect(drains).toBe(1);
    stage.destroy();
  });

  test('destroy() during the yield cancels it: no timer left, no late drain', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    try {
      const stage = make();
      let drains = 0;
      stage.on('drain', () => drains++);
      expect(stage.write(0)).toBe(false);
      expect(jest.getTimerCount()).toBe(1);
      stage.destroy();
      await settle();
      expect(jest.getTimerCount()).toBe(0);
      await jest.runAllTimersAsync();
      expect(drains).toBe(0);
      expect(stage.getMetrics()).toMatchObject({ written: 1, dropped: 1, held: 0 });
      expect(stage.getMetrics().droppedByReason[DropReason.DESTROYED]).toBe(1);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe.each([
  ['sample', (pressure: FakePressure) => sample<number>({ rate: 2, pressure })],
  ['shedByPriority', (pressure: FakePressure) => shedByPriority<number>({ priority: (i) => i % 2, pressure })],
] as const)('%s with a pressure source', (_name, make) => {
  test('yields one turn when the pressure rises above normal, not again while it stays up', async () => {
    const pressure = new FakePressure('normal');
    const stage = make(pressure);
    stage.on('data', () => {}); // a consumer that keeps up: the hold never fills
    await settle();
    let drains = 0;
    stage.on('drain', () => drains++);
    const returned = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => stage.write(from + i));
    expect(returned(0, 4)).toEqual([true, true, true, true]);
    pressure.set('elevated');
    expect(returned(4, 6)).toEqual([false, false]); // the first write under pressure starts the yield
    await macrotask();
    expect(drains).toBe(1);
    pressure.set('critical');
    expect(returned(6, 10)).toEqual([true, true, true, true]); // still above normal: no second yield
    pressure.set('normal');
    expect(returned(10, 11)).toEqual([true]);
    pressure.set('blocked');
    expect(returned(11, 12)).toEqual([false]); // a new rise
    await macrotask();
    expect(drains).toBe(2);
    expect(stage.getMetrics()).toMatchObject({ written: 12, held: 0 });
    stage.destroy();
  });
});

const pipelines: [string, typeof nodeStream.pipeline][] = [
  ['node:stream', nodeStream.pipeline],
  ['readable-stream', readableStream.pipeline],
];
const TOTAL = 5000;

async function* ids(): AsyncGenerator<number> {
  for (let i = 0; i < TOTAL; i++) yield i;
}

describe.each(pipelines)('pipeline from %s', (_name, pipeline) => {
  test.each(makers)(
    '%s keeps up with a consumer that takes one event-loop turn per item: nothing dropped',
    async (_stage, make) => {
      const stage = make();
      const received: number[] = [];
      const sink = new nodeStream.Writable({
        objectMode: true,
        highWaterMark: 1,
        write(item: number, _encoding, callback) {
          received.push(item);
          setImmediate(callback);
        },
      });
      await new Promise<void>((resolve, reject) =>
        pipeline(ids, stage, sink, (error) => (error ? reject(error) : resolve())),
      );
      expect(stage.getMetrics()).toMatchObject({ written: TOTAL, passed: TOTAL, dropped: 0, held: 0 });
      expect(received).toEqual(Array.from({ length: TOTAL }, (_, i) => i));
    },
  );
});
