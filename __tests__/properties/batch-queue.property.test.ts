/**
 * BatchQueue holds every item the writable accepted and hands batches over as the very arrays it
 * filled, so it must behave exactly as a plain array used as a queue, whatever the mix of pushes
 * and takes of changing sizes (chunks cut at one size, taken at another) — and an array it handed
 * over must be the caller's for good: nothing the queue does afterwards may change it.
 */
import fc from 'fast-check';
import { BatchQueue } from '../../lib/util/batch-queue';

type Op = { push: number } | { take: number } | { drain: true };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 1, max: 40 }).map((push) => ({ push })) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 30 }).map((take) => ({ take })) },
  { weight: 1, arbitrary: fc.constant({ drain: true as const }) },
);

describe('BatchQueue', () => {
  it('behaves as an array queue, and every array it hands over stays as it was handed over', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const queue = new BatchQueue<number>();
        const model: number[] = [];
        const handedOver: { array: number[]; snapshot: number[] }[] = [];
        let next = 0;
        for (const o of ops) {
          if ('push' in o) {
            for (let i = 0; i < o.push; i++) {
              queue.push(next);
              model.push(next++);
            }
          } else {
            const count = 'take' in o ? o.take : model.length;
            const expected = model.splice(0, count);
            const got = 'take' in o ? queue.take(o.take) : queue.drain();
            expect(got).toEqual(expected);
            expect(got.length).toBe(expected.length);
            handedOver.push({ array: got, snapshot: [...got] });
          }
          expect(queue.size).toBe(model.length);
        }
        expect(queue.drain()).toEqual(model);
        expect(queue.size).toBe(0);
        for (const { array, snapshot } of handedOver) expect(array).toEqual(snapshot);
        // No two hand-overs share an array (the caller of each may keep and change it).
        const arrays = handedOver.filter((h) => h.array.length > 0).map((h) => h.array);
        expect(new Set(arrays).size).toBe(arrays.length);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps order when the batch size changes between takes (chunks cut at one size, taken at another)', () => {
    const queue = new BatchQueue<number>();
    for (let i = 0; i < 5; i++) queue.push(i);
    expect(queue.take(5)).toEqual([0, 1, 2, 3, 4]);
    // Ten more at the same batch size: two chunks of five, each taken whole, in order.
    for (let i = 5; i < 15; i++) queue.push(i);
    expect(queue.take(5)).toEqual([5, 6, 7, 8, 9]);
    expect(queue.take(5)).toEqual([10, 11, 12, 13, 14]);
    // A batch size that straddles chunks.
    for (let i = 15; i < 27; i++) queue.push(i);
    expect(queue.take(7)).toEqual([15, 16, 17, 18, 19, 20, 21]);
    expect(queue.take(3)).toEqual([22, 23, 24]);
    expect(queue.drain()).toEqual([25, 26]);
    expect(queue.take(3)).toEqual([]);
  });
});
