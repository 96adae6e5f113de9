import fc from 'fast-check';
import { BackpressureWritable } from '../../lib';
import { ControlledSink, dispose, expectConserved, range, settle } from '../helpers/core-helpers';

describe('concurrency: several batches in flight', () => {
  test('batches enter flush in FIFO order, up to `concurrency` at once; completions may come out of order', async () => {
    const sink = new ControlledSink<number>();
    const w = new BackpressureWritable<number>({ batchSize: 2, maxBufferSize: 100, concurrency: 3, flush: sink.flush });
    for (const i of range(10)) w.write(i);
    expect(sink.calls.map((c) => c.batch)).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    expect(w.getMetrics()).toMatchObject({ inFlight: 6, inFlightBatches: 3, bufferSize: 4, concurrency: 3 });
    expectConserved(w.getMetrics());
    sink.calls[2]?.resolve(); // the third completes first
    await settle();
    expect(sink.calls[3]?.batch).toEqual([6, 7]);
    expect(w.getMetrics()).toMatchObject({ eventsFlushed: 2, inFlight: 6 });
    expectConserved(w.getMetrics());
    dispose(w);
  });

  test('property: with random completion order and failures, every item is delivered or dead-lettered, the invariant holds, in-flight ≤ batchSize × concurrency', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.tuple(fc.nat(), fc.boolean()), { minLength: 1, maxLength: 60 }),
        async (concurrency, batchSize, script) => {
          const sink = new ControlledSink<number>();
          const dead: number[] = [];
          const w = new BackpressureWritable<number>({
            batchSize,
            maxBufferSize: 20,
            concurrency,
            retry: { retries: 1, minDelayMs: 0, maxDelayMs: 0 },
            onDeadLetter: (items) => void dead.push(...items),
            flush: sink.flush,
          });
          const total = 40;
          for (const i of range(total)) w.write(i);
          const settled = new Set<number>();
          let step = 0;
          while (sink.delivered.length + dead.length < total && step < 500) {
            const open = sink.calls.map((c, i) => i).filter((i) => !settled.has(i));
            if (open.length === 0) {
              await new Promise((resolve) => setTimeout(resolve, 1)); // a retry timer is due
              step++;
              continue;
            }
            const [pick, ok] = script[step % script.length] as [number, boolean];
            const index = open[pick % open.length] as number;
            settled.add(index);
            if (ok) sink.calls[index]?.resolve();
            else sink.calls[index]?.reject(new Error('x'));
            await settle();
            const m = w.getMetrics();
            expectConserved(m);
            expect(m.inFlight).toBeLessThanOrEqual(batchSize * concurrency);
            expect(m.inFlightBatches).toBeLessThanOrEqual(concurrency);
            step++;
          }
          expect([...sink.delivered, ...dead].sort((a, b) => a - b)).toEqual(range(total));
          dispose(w);
        },
      ),
      { numRuns: 60 },
    );
  });
});
