import { DropReason, dropNewest } from '../../lib/stages';
import {
  drainToEnd,
  expectBalanced,
  range,
  readRest,
  recordDrops,
  runAgainstSlowSink,
  runWithSinkThatKeepsUp,
} from '../helpers/stage-helpers';

describe('dropNewest under a sink ten times slower than the producer', () => {
  test('never blocks, keeps what it holds, balances at every step and stays within capacity', async () => {
    const capacity = 5;
    const stage = dropNewest<number>({ capacity });
    const { sink, drops, returned, maxHeld } = await runAgainstSlowSink(stage, 100, (i) => i);
    // Upstream never blocked: it yielded one event-loop turn each time the hold started to fill (the helper checks).
    expect(returned.filter((r) => !r).length).toBeGreaterThan(0);
    expect(maxHeld).toBe(capacity);

    await drainToEnd(stage, sink);
    const m = stage.getMetrics();
    expectBalanced(m);
    // Exact schedule. The sink takes item 0 at once, 1..5 fill the stage (one of them waiting in its
    // readable side), and after that each release frees one slot, which the first write of the next
    // burst of 10 takes; the other 9 are refused. end() delivers what is left.
    expect(sink.received).toEqual([0, 1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(m).toMatchObject({ written: 100, passed: 15, dropped: 85, held: 0 });
    expect(m.droppedByReason).toEqual({ [DropReason.REJECTED_NEWEST]: 85, [DropReason.DESTROYED]: 0 });
    expect([...sink.received, ...drops.map((d) => d.item)].sort((a, b) => a - b)).toEqual(range(100));
    expect(drops.every((d) => d.reason === DropReason.REJECTED_NEWEST && d.balanced && d.held === capacity)).toBe(true);
  });
});

test('dropNewest drops nothing and keeps order when downstream keeps up', async () => {
  const stage = dropNewest<number>({ capacity: 3 });
  const { received, drops } = await runWithSinkThatKeepsUp(stage, 1000);
  expect(received).toEqual(range(1000));
  expect(drops).toEqual([]);
  expect(stage.getMetrics()).toMatchObject({ written: 1000, passed: 1000, dropped: 0, held: 0 });
});

test('dropNewest with a stalled consumer holds exactly the first `capacity` items', async () => {
  const stage = dropNewest<number>({ capacity: 100 });
  const drops = recordDrops(stage);
  for (let i = 0; i < 100_000; i++) stage.write(i);
  expect(stage.getMetrics()).toMatchObject({ written: 100_000, passed: 0, dropped: 99_900, held: 100 });
  expect(drops.every((d) => d.balanced && d.held === 100)).toBe(true);
  expect(drops[0]?.item).toBe(100);
  expect(await readRest(stage)).toEqual(range(100));
});
