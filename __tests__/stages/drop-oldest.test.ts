import { DropReason, dropOldest } from '../../lib/stages';
import {
  drainToEnd,
  expectBalanced,
  range,
  readRest,
  recordDrops,
  runAgainstSlowSink,
  runWithSinkThatKeepsUp,
} from '../helpers/stage-helpers';

describe('dropOldest under a sink ten times slower than the producer', () => {
  test('never blocks, keeps the newest, balances at every step and stays within capacity', async () => {
    const capacity = 5;
    const stage = dropOldest<number>({ capacity });
    const { sink, drops, returned, maxHeld } = await runAgainstSlowSink(stage, 100, (i) => i);

    // Upstream never blocked: it yielded one event-loop turn each time the hold started to fill (the helper checks).
    expect(returned.filter((r) => !r).length).toBeGreaterThan(0);
    expect(maxHeld).toBe(capacity); // the bound is reached and never exceeded
    const beforeEnd = stage.getMetrics();
    expectBalanced(beforeEnd);

    await drainToEnd(stage, sink);
    const m = stage.getMetrics();
    expectBalanced(m);
    // Exact schedule. The sink takes item 0 at once, then one item per release. Before release k
    // (after write 10k - 1) the hold has the newest 5, [10k - 5 … 10k - 1] — everything older was
    // evicted — and the release sends its oldest; end() delivers the 4 left after the last release.
    expect(sink.received).toEqual([0, 5, 15, 25, 35, 45, 55, 65, 75, 85, 95, 96, 97, 98, 99]);
    expect(m).toMatchObject({ written: 100, passed: 15, dropped: 85, held: 0 });
    expect(m.droppedByReason).toEqual({ [DropReason.EVICTED_OLDEST]: 85, [DropReason.DESTROYED]: 0 });
    expect(drops.every((d) => d.balanced && d.held === capacity)).toBe(true); // drops only when full
    // Every item either passed or was announced as dropped, never both.
    expect([...sink.received, ...drops.map((d) => d.item)].sort((a, b) => a - b)).toEqual(range(100));
    expect(drops.every((d) => d.reason === DropReason.EVICTED_OLDEST)).toBe(true);
    // Evictions take the oldest first: dropped items come out in increasing order.
    const dropped = drops.map((d) => d.item);
    expect(dropped).toEqual([...dropped].sort((a, b) => a - b));
  });
});

test('dropOldest drops nothing and keeps order when downstream keeps up', async () => {
  const stage = dropOldest<number>({ capacity: 3 });
  const { received, drops } = await runWithSinkThatKeepsUp(stage, 1000);
  expect(received).toEqual(range(1000));
  expect(drops).toEqual([]);
  expect(stage.getMetrics()).toMatchObject({ written: 1000, passed: 1000, dropped: 0, held: 0 });
});

test('dropOldest with a stalled consumer holds exactly the newest `capacity` items', async () => {
  const stage = dropOldest<number>({ capacity: 100 });
  const drops = recordDrops(stage);
  for (let i = 0; i < 100_000; i++) stage.write(i); // nobody reads
  expect(stage.getMetrics()).toMatchObject({ written: 100_000, passed: 0, dropped: 99_900, held: 100 });
  expect(drops.length).toBe(99_900);
  expect(drops.every((d) => d.balanced && d.held === 100)).toBe(true);
  expect(await readRest(stage)).toEqual(range(100).map((i) => 99_900 + i));
});

test('dropOldest rejects a capacity that is not an integer ≥ 1', () => {
  for (const capacity of [0, -1, 1.5, Number.NaN]) expect(() => dropOldest({ capacity })).toThrow(RangeError);
});
