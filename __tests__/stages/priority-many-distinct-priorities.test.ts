/**
 * The priority stage with as many distinct priorities as items (a timestamp or an id as priority):
 * its memory stays bounded by `capacity`, and it behaves exactly as documented, which a model of the
 * documented rules checks item by item — with few classes, with every priority distinct, and with
 * holds large enough to grow.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { DropReason, shedByPriority, type ShedByPriorityStage } from '../../lib/stages';
import type { BackpressureState } from '../../lib/pressure/state';
import { FakePressure, isBalanced } from '../helpers/stage-helpers';

interface Item {
  id: number;
  p: number;
}

/** A real full GC, so that heap figures are live objects only (jest does not run node with --expose-gc). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

function heapAfterGc(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

const macrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe.each([
  ['rising, like a timestamp', (id: number) => 1_700_000_000_000 + id],
  ['scattered, like a hashed id', (id: number) => Math.imul(id, 0x9e3779b1) >>> 0],
])('200,000 items, every priority distinct (%s)', (_name, priorityOf) => {
  test('the hold never tracks more than capacity entries and the heap does not grow with the items', async () => {
    const capacity = 2000;
    const total = 200_000;
    const block = 10_000;
    const stage = shedByPriority<Item>({ capacity, priority: (item) => item.p, pressure: new FakePressure('normal') });
    let lastOut = -1;
    let outOfOrder = 0;
    let maxSlots = 0;
    let heapAfterWarmUp = 0;
    for (let start = 0; start < total; start += block) {
      for (let id = start; id < start + block; id++) {
        stage.write({ id, p: priorityOf(id) });
        // A consumer at half the producer's rate: the hold fills, then every write evicts or overflows.
        // read() in paused mode takes one item synchronously (the stage's readable side buffers none).
        if (id % 2 === 0) {
          const out = stage.read() as Item | null;
          if (out !== null) {
            if (out.id <= lastOut) outOfOrder++;
            lastOut = out.id;
          }
        }
      }
      maxSlots = Math.max(maxSlots, stage.allocatedSlots);
      expect(isBalanced(stage.getMetrics())).toBe(true);
      // Let the stream machinery's queued callbacks run, as any real source lets them.
      await macrotask();
      if (start + block === 2 * block) heapAfterWarmUp = heapAfterGc();
    }
    const heapGrowth = heapAfterGc() - heapAfterWarmUp;

    const m = stage.getMetrics();
    expect(m.written).toBe(total);
    expect(m.held).toBe(capacity);
    expect(m.droppedByReason[DropReason.EVICTED_PRIORITY]! + m.droppedByReason[DropReason.OVERFLOW]!).toBe(m.dropped);
    expect(outOfOrder).toBe(0);
    expect(maxSlots).toBeLessThanOrEqual(capacity);
    // What the stage holds is ~2,000 small items (well under 1 MB); before the hold was bounded by
    // capacity it grew by megabytes every 10,000 items. 8 MB leaves room for the test's own noise.
    expect(heapGrowth).toBeLessThan(8 * 1024 * 1024);
    stage.destroy();
  });
});

// ------------------------------------------------------------------------------------------ model

type Op =
  | { kind: 'write'; priorities: number[] }
  | { kind: 'read'; n: number }
  | { kind: 'pressure'; state: BackpressureState };

interface Outcome {
  /** Every item, in the order its fate was decided: ['out', id] or [reason, id]. */
  events: [string, number][];
  held: number;
}

/**
 * The documented rules, written as plainly as possible (arrays, linear scans): shed on arrival below
 * the pressure level's floor; when the hold is full, evict the oldest of the lowest priority held if
 * it is less important than the newcomer, else refuse the newcomer; items leave in arrival order.
 */
function model(capacity: number, keepAtLeast: { elevated?: number; critical?: number }, ops: Op[]): Outcome {
  const events: [string, number][] = [];
  const seen: number[] = [];
  let held: Item[] = [];
  let state: BackpressureState = 'normal';
  let nextId = 0;
  for (const op of ops) {
    if (op.kind === 'pressure') state = op.state;
    else if (op.kind === 'read') {
      for (let i = 0; i < op.n && held.length > 0; i++) events.push(['out', (held.shift() as Item).id]);
    } else {
      for (const p of op.priorities) {
        const item = { id: nextId++, p };
        if (!seen.includes(p)) seen.push(p);
        const distinct = [...seen].sort((a, b) => a - b);
        const highest = distinct[distinct.length - 1] as number;
        const elevatedFloor = Math.min(keepAtLeast.elevated ?? distinct[1] ?? Infinity, highest);
        const criticalFloor = Math.max(elevatedFloor, Math.min(keepAtLeast.critical ?? highest, highest));
        const floor = state === 'normal' ? -Infinity : state === 'elevated' ? elevatedFloor : criticalFloor;
        if (p < floor) {
          events.push([DropReason.SHED_PRIORITY, item.id]);
          continue;
        }
        if (held.length < capacity) {
          held.push(item);
          continue;
        }
        const lowest = held.reduce((a, b) => (b.p < a.p ? b : a)); // the first (oldest) of the lowest
        if (lowest.p >= p) {
          events.push([DropReason.OVERFLOW, item.id]);
          continue;
        }
        held = held.filter((i) => i !== lowest);
        held.push(item);
        events.push([DropReason.EVICTED_PRIORITY, lowest.id]);
      }
    }
  }
  return { events, held: held.length };
}

function runStage(
  capacity: number,
  keepAtLeast: { elevated?: number; critical?: number },
  ops: Op[],
): Outcome & { maxSlots: number } {
  const pressure = new FakePressure('normal');
  const stage: ShedByPriorityStage<Item> = shedByPriority<Item>({
    capacity,
    priority: (item) => item.p,
    pressure,
    keepAtLeast,
  });
  const events: [string, number][] = [];
  const onDrop = ({ item, reason }: { item: Item; reason: string }): void => {
    if (!isBalanced(stage.getMetrics())) throw new Error(`unbalanced at the drop of ${item.id}`);
    events.push([reason, item.id]);
  };
  stage.on('drop', onDrop);
  let nextId = 0;
  let maxSlots = 0;
  for (const op of ops) {
    if (op.kind === 'pressure') pressure.set(op.state);
    else if (op.kind === 'read') {
      // Only while something is held: then read() releases exactly the next held item, synchronously.
      for (let i = 0; i < op.n && stage.held > 0; i++) events.push(['out', (stage.read() as Item).id]);
    } else {
      for (const p of op.priorities) stage.write({ id: nextId++, p });
    }
    maxSlots = Math.max(maxSlots, stage.allocatedSlots);
  }
  const held = stage.held;
  stage.off('drop', onDrop); // what destroy() drops is not part of the comparison
  stage.destroy();
  return { events, held, maxSlots };
}

/** Priorities of one run: a few classes, or wide enough that nearly every one is distinct. */
const priorityDomains: fc.Arbitrary<fc.Arbitrary<number>> = fc.constantFrom(
  fc.integer({ min: 0, max: 3 }),
  fc.integer({ min: -1_000_000, max: 1_000_000 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

const scenario = priorityDomains.chain((priority) =>
  fc.record({
    capacity: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 9, max: 80 })),
    keepAtLeast: fc.record({ elevated: priority, critical: priority }, { requiredKeys: [] }),
    ops: fc.array(
      fc.oneof(
        {
          weight: 4,
          arbitrary: fc.record({
            kind: fc.constant('write' as const),
            priorities: fc.array(priority, { minLength: 1, maxLength: 60 }),
          }),
        },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), n: fc.integer({ min: 1, max: 40 }) }) },
        {
          weight: 1,
          arbitrary: fc.record({
            kind: fc.constant('pressure' as const),
            state: fc.constantFrom<BackpressureState>('normal', 'elevated', 'critical', 'blocked'),
          }),
        },
      ),
      { minLength: 1, maxLength: 40 },
    ),
  }),
);

test('every item meets the fate the documented rules give it, in the same order, whatever the priorities', () => {
  fc.assert(
    fc.property(scenario, ({ capacity, keepAtLeast, ops }) => {
      const expected = model(capacity, keepAtLeast, ops);
      const actual = runStage(capacity, keepAtLeast, ops);
      expect(actual.events).toEqual(expected.events);
      expect(actual.held).toBe(expected.held);
      expect(actual.maxSlots).toBeLessThanOrEqual(capacity);
    }),
    { numRuns: 300 },
  );
});
