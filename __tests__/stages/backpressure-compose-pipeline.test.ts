import * as nodeStream from 'node:stream';
import * as readableStream from 'readable-stream';
import { backpressure, type Strategy } from '../../lib/compose/backpressure';
import { isConserved } from '../helpers/stage-helpers';
import { strategyOptions } from '../helpers/strategy-options';

const pipelines: [string, typeof nodeStream.pipeline][] = [
  ['node:stream', nodeStream.pipeline],
  ['readable-stream', readableStream.pipeline],
];
const strategies: Strategy[] = ['block', 'drop-oldest', 'drop-newest', 'sample', 'priority'];
const TOTAL = 3000;

/** Opens the sink once the whole input has been written: until then it takes nothing. */
let openSink: () => void = () => {};

async function* source(): AsyncGenerator<number> {
  for (let i = 0; i < TOTAL; i++) yield i;
  openSink();
}

describe.each(pipelines)('await pipeline(source, backpressure(...)) from %s', (_name, pipeline) => {
  test.each(strategies)('%s: the whole setup delivers or accounts for every item, in order', async (strategy) => {
    const delivered: number[] = [];
    // A sink that is really behind: for the drop strategies it takes nothing until the source is
    // done (a stage's one-turn yield lets a sink that is only a little slower keep up, so a timer per
    // batch could be "fast enough" on a loaded machine); then, and for 'block' throughout, a timer per
    // batch of 20.
    let open = strategy === 'block';
    const waiting: (() => void)[] = [];
    openSink = () => {
      open = true;
      for (const go of waiting.splice(0)) go();
    };
    const bp = backpressure<number>(
      strategyOptions(strategy, {
        flush: (batch) =>
          new Promise<void>((resolve) => {
            const go = () =>
              setTimeout(() => {
                delivered.push(...batch);
                resolve();
              }, 1);
            if (open) go();
            else waiting.push(go);
          }),
        priority: (i) => i % 3,
        capacity: 100,
        maxBufferSize: 200,
        batchSize: 20,
        minFlushIntervalMs: 0,
      }),
    );
    let events = 0;
    let unconserved = 0;
    const check = () => {
      events++;
      if (!isConserved(bp.getMetrics())) unconserved++;
    };
    for (const name of ['drop', 'state', 'flush']) bp.on(name, check);

    await new Promise<void>((resolve, reject) => pipeline(source, bp, (error) => (error ? reject(error) : resolve())));

    const m = bp.getMetrics();
    expect(events).toBeGreaterThan(0);
    expect(unconserved).toBe(0);
    expect(m).toMatchObject({ eventsAccepted: TOTAL, bufferSize: 0, inFlight: 0, eventsDeadLettered: 0 });
    expect(m.eventsFlushed).toBe(delivered.length);
    expect(m.eventsFlushed + m.eventsDropped).toBe(TOTAL);
    expect(delivered).toEqual([...delivered].sort((a, b) => a - b));
    if (strategy === 'block') expect(m.eventsDropped).toBe(0);
    else expect(m.eventsDropped).toBeGreaterThan(0); // the sink really was behind, and nobody waited for it
  });
});
