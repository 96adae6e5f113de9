import * as nodeStream from 'node:stream';
import * as readableStream from 'readable-stream';
import { dropNewest, dropOldest, sample, shedByPriority, type SheddingStage } from '../../lib/stages';
import { isBalanced } from '../helpers/stage-helpers';

const pipelines: [string, typeof nodeStream.pipeline][] = [
  ['node:stream', nodeStream.pipeline],
  ['readable-stream', readableStream.pipeline],
];

const makers: [string, () => SheddingStage<number>][] = [
  ['dropOldest', () => dropOldest<number>({ capacity: 50 })],
  ['dropNewest', () => dropNewest<number>({ capacity: 50 })],
  // No pressure source: both shed by their own hold's fill.
  ['sample', () => sample<number>({ capacity: 50, rate: 4 })],
  ['shedByPriority', () => shedByPriority<number>({ capacity: 50, priority: (i) => i % 4 })],
];

const TOTAL = 5000;

/** Lets the sink go on once the whole input has been written. */
let sourceDone: () => void = () => {};

async function* fastSource(): AsyncGenerator<number> {
  for (let i = 0; i < TOTAL; i++) yield i;
  sourceDone();
}

/**
 * A sink that is really behind: after its first item it takes nothing more until the source is done,
 * then a macrotask per item. (One that takes a single event-loop turn per item from the start keeps
 * up with a stage, which yields one turn whenever its hold starts to fill: see
 * __tests__/stages/stage-yields-one-turn.test.ts; a timer per item might too, on a loaded machine.)
 */
function slowSink(received: number[]): nodeStream.Writable {
  let done = false;
  let stalled: (() => void) | null = null;
  sourceDone = () => {
    done = true;
    stalled?.();
  };
  return new nodeStream.Writable({
    objectMode: true,
    highWaterMark: 1,
    write(item: number, _encoding, callback) {
      received.push(item);
      if (done) setImmediate(callback);
      else stalled = () => setImmediate(callback);
    },
  });
}

describe.each(pipelines)('pipeline from %s', (_name, pipeline) => {
  test.each(makers)(
    '%s: async-generator source into a slow sink completes with every item accounted for',
    async (_stage, make) => {
      const stage = make();
      const received: number[] = [];
      let unbalanced = 0;
      let drops = 0;
      stage.on('drop', () => {
        drops++;
        if (!isBalanced(stage.getMetrics())) unbalanced++;
      });
      await new Promise<void>((resolve, reject) =>
        pipeline(fastSource, stage, slowSink(received), (error) => (error ? reject(error) : resolve())),
      );
      const m = stage.getMetrics();
      expect(unbalanced).toBe(0);
      expect(m).toMatchObject({ written: TOTAL, held: 0, passed: received.length, dropped: drops });
      expect(m.passed + m.dropped).toBe(TOTAL);
      expect(drops).toBeGreaterThan(0); // the sink really was too slow
      expect(received).toEqual([...received].sort((a, b) => a - b)); // order preserved
    },
  );
});
