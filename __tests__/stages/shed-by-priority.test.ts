import { DropReason, shedByPriority } from '../../lib/stages';
import type { BackpressureState } from '../../lib/pressure/state';
import {
  drainToEnd,
  expectBalanced,
  FakePressure,
  ManualSink,
  recordDrops,
  runAgainstSlowSink,
} from '../helpers/stage-helpers';

interface Item {
  id: number;
  p: number;
}

const items = (...priorities: number[]): Item[] => priorities.map((p, id) => ({ id, p }));

/** Writes `input` at the given pressure into a stage nobody reads, then ends it and returns what comes out. */
async function through(
  input: Item[],
  state: BackpressureState,
  options: { capacity?: number; keepAtLeast?: { elevated?: number; critical?: number } } = {},
) {
  const pressure = new FakePressure('normal');
  const stage = shedByPriority<Item>({ priority: (item) => item.p, pressure, capacity: 100, ...options });
  const drops = recordDrops(stage);
  // The stage learns the classes as items arrive: "lowest" and "highest" are among those seen so far.
  pressure.set(state);
  for (const item of input) stage.write(item);
  const out: Item[] = [];
  stage.on('data', (item: Item) => out.push(item));
  stage.end();
  await new Promise((resolve) => stage.on('end', resolve));
  expectBalanced(stage.getMetrics());
  return { out: out.map((i) => i.id), drops: drops.map((d) => [d.item.id, d.reason]), stage };
}

const mixed = items(0, 1, 2, 0, 1, 2, 0, 1, 2); // ids 0..8

test('normal keeps every class, in arrival order', async () => {
  const { out, drops } = await through(mixed, 'normal');
  expect(out).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  expect(drops).toEqual([]);
});

test('elevated sheds the lowest class seen', async () => {
  const { out, drops } = await through(mixed, 'elevated');
  // id 0 (priority 0) is the first item ever seen: it is then also the highest, so it is kept.
  expect(out).toEqual([0, 1, 2, 4, 5, 7, 8]);
  expect(drops).toEqual([
    [3, DropReason.SHED_PRIORITY],
    [6, DropReason.SHED_PRIORITY],
  ]);
});

test('critical and blocked keep only the highest class seen', async () => {
  for (const state of ['critical', 'blocked'] as const) {
    const { out } = await through(items(2, 0, 1, 2, 0, 1, 2), state);
    expect(out).toEqual([0, 3, 6]);
  }
});

test('the highest class is never shed on arrival, even as the only class', async () => {
  const { out, drops } = await through(items(5, 5, 5, 5), 'critical');
  expect(out).toEqual([0, 1, 2, 3]);
  expect(drops).toEqual([]);
});

test('keepAtLeast sets the floors, capped at the highest class seen', async () => {
  const input = items(3, 0, 1, 2, 3, 0, 1, 2);
  expect((await through(input, 'elevated', { keepAtLeast: { elevated: 2 } })).out).toEqual([0, 3, 4, 7]);
  // critical keeps priority ≥ max(keepAtLeast.elevated, keepAtLeast.critical), here 1.
  expect((await through(input, 'critical', { keepAtLeast: { elevated: 1, critical: 1 } })).out).toEqual([
    0, 2, 3, 4, 6, 7,
  ]);
  // A floor above every class is capped: the top class (3) still passes.
  expect((await through(input, 'critical', { keepAtLeast: { critical: 99 } })).out).toEqual([0, 4]);
});

test('with a full hold the lowest held class makes room, and the top class goes only when nothing else is held', async () => {
  // capacity 4, pressure normal: nothing is shed on arrival, only the hold's bound applies.
  const { out, drops } = await through(items(0, 1, 2, 0, /* full */ 2, 1, 1, 2, 2, 2, 2), 'normal', { capacity: 4 });
  expect(drops).toEqual([
    [0, DropReason.EVICTED_PRIORITY], // id 4 (p2) evicts the oldest p0
    [3, DropReason.EVICTED_PRIORITY], // id 5 (p1) evicts the other p0
    [6, DropReason.OVERFLOW], // id 6 (p1): lowest held is p1, not less important: the newcomer goes
    [1, DropReason.EVICTED_PRIORITY], // id 7 (p2) evicts the oldest p1
    [5, DropReason.EVICTED_PRIORITY], // id 8 (p2) evicts the last p1: now only p2 is held
    [9, DropReason.OVERFLOW], // id 9 (p2): nothing less important to evict
    [10, DropReason.OVERFLOW],
  ]);
  expect(out).toEqual([2, 4, 7, 8]); // still in arrival order
});

test('an invalid priority drops the item as invalid-priority', async () => {
  const pressure = new FakePressure('normal');
  const stage = shedByPriority<unknown>({
    pressure,
    priority: (item) => {
      if (item === 'throw') throw new Error('bad');
      return item as number;
    },
  });
  const drops = recordDrops(stage);
  for (const item of [1, Number.NaN, Infinity, 'throw', '2', 3]) stage.write(item);
  expect(drops.map((d) => d.reason)).toEqual(Array(4).fill(DropReason.INVALID_PRIORITY));
  expect(stage.getMetrics()).toMatchObject({ written: 6, dropped: 4, held: 2 });
  stage.destroy();
});

test('shedByPriority under a sink ten times slower: never blocks, bounded, ordered, top class protected', async () => {
  const pressure = new FakePressure('elevated');
  const capacity = 5;
  const stage = shedByPriority<Item>({ priority: (item) => item.p, pressure, capacity });
  const sink = new ManualSink<Item>();
  const dropped = new Set<number>();
  const written: Item[] = [];
  stage.on('drop', ({ item, reason }) => {
    dropped.add(item.id);
    if (reason === DropReason.OVERFLOW) {
      // Everything still held is at least as important as what was refused.
      const received = new Set(sink.received.map((i) => i.id));
      const held = written.filter((i) => !received.has(i.id) && !dropped.has(i.id));
      expect(held.every((i) => i.p >= item.p)).toBe(true);
    }
  });
  const { drops, returned, maxHeld } = await runAgainstSlowSink(
    stage,
    300,
    (id) => {
      const item = { id, p: id % 3 };
      written.push(item);
      return item;
    },
    sink,
  );
  expect(returned.filter((r) => !r).length).toBeGreaterThan(0); // one-turn yields only (the helper checks)
  expect(maxHeld).toBe(capacity);
  await drainToEnd(stage, sink);

  const ids = sink.received.map((i) => i.id);
  expect(ids).toEqual([...ids].sort((a, b) => a - b)); // order preserved
  const m = stage.getMetrics();
  expectBalanced(m);
  expect(drops.every((d) => d.balanced)).toBe(true);
  expect(m.written).toBe(300);
  expect(m.passed + m.dropped).toBe(300);
  // elevated: the lowest class is shed on arrival — all but item 0, which arrived when it was the
  // only class seen (and so also the highest). The others compete for the hold.
  expect(m.droppedByReason[DropReason.SHED_PRIORITY]).toBe(99);
  expect(sink.received.filter((i) => i.p === 0).map((i) => i.id)).toEqual([0]);
  // The sink takes one item per release: 30 releases, plus what was held at the end.
  expect(m.passed).toBe(1 + 30 + (capacity - 1));
  // The hold gave its room to the more important class: more p2 than p1 got through.
  const passedTop = sink.received.filter((i) => i.p === 2).length;
  expect(passedTop).toBeGreaterThan(sink.received.length - passedTop);
});
