import fc from 'fast-check';
import { DropReason, dropNewest, dropOldest, sample, shedByPriority, type SheddingStage } from '../../lib/stages';
import type { BackpressureState } from '../../lib/pressure/state';
import { drainToEnd, FakePressure, isBalanced, macrotask, ManualSink, settle } from '../helpers/stage-helpers';

/** Items carry an arrival id and a priority (used by the priority stage only). */
interface Item {
  id: number;
  p: number;
}

type Op =
  | { kind: 'write'; priorities: number[] }
  | { kind: 'release'; n: number }
  | { kind: 'settle' }
  | { kind: 'pressure'; state: BackpressureState };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('write' as const),
      priorities: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 15 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('release' as const), n: fc.integer({ min: 1, max: 6 }) }) },
  { weight: 2, arbitrary: fc.constant({ kind: 'settle' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('pressure' as const),
      state: fc.constantFrom<BackpressureState>('normal', 'elevated', 'critical', 'blocked'),
    }),
  },
);

interface Observed {
  drops: {
    item: Item;
    reason: string;
    balanced: boolean;
    held: number;
    heldBefore: Item[];
    pressure: BackpressureState;
    lastWritten: Item | undefined;
  }[];
  written: Item[];
  received: Item[];
}

/**
 * Runs a random schedule of arrivals, sink completions, pauses and pressure changes, checking after
 * every step that the stage balances, stays within capacity and never refuses a write (write() says
 * false only when its hold starts to fill, until 'drain' one event-loop turn later); then ends it
 * and checks conservation and order. Returns what happened for stage-specific checks.
 */
async function runSchedule(
  stage: SheddingStage<Item>,
  pressure: FakePressure,
  ops: Op[],
  readsPressure = false,
): Promise<Observed> {
  const sink = new ManualSink<Item>();
  const written: Item[] = [];
  const droppedIds = new Set<number>();
  const observed: Observed = { drops: [], written, received: sink.received };
  let lastWritten: Item | undefined;
  stage.on('drop', ({ item, reason }) => {
    const received = new Set(sink.received.map((i) => i.id));
    // Held just before this drop: written, not received, not dropped before, and not the newcomer
    // unless the newcomer is what is being dropped.
    const heldBefore = written.filter((i) => !received.has(i.id) && !droppedIds.has(i.id));
    droppedIds.add(item.id);
    const m = stage.getMetrics();
    observed.drops.push({
      item,
      reason,
      balanced: isBalanced(m),
      held: m.held,
      heldBefore,
      pressure: pressure.state,
      lastWritten,
    });
  });
  // The one-turn yield: after write() said false, 'drain' comes on the next event-loop turn.
  let yielding = false;
  let wasUnderPressure = false;
  stage.on('drain', () => (yielding = false));
  stage.pipe(sink.stream);
  await settle();
  let nextId = 0;
  for (const op of ops) {
    switch (op.kind) {
      case 'write':
        for (const p of op.priorities) {
          lastWritten = { id: nextId++, p };
          written.push(lastWritten);
          const heldBefore = stage.getMetrics().held;
          const ok = stage.write(lastWritten);
          // Never refused: false only from the write that starts to fill an empty hold, or (for a stage
          // that reads the pressure) the first write that finds it above normal, until 'drain'.
          const rose = readsPressure && pressure.state !== 'normal' && !wasUnderPressure;
          if (!ok && !yielding) {
            if (!rose && (heldBefore !== 0 || stage.getMetrics().held === 0))
              throw new Error(`write() said false with held ${heldBefore} → ${stage.getMetrics().held}`);
            yielding = true;
          }
          if (ok && (rose || (heldBefore === 0 && stage.getMetrics().held > 0)))
            throw new Error('the hold started to fill or the pressure rose, and write() did not yield');
          wasUnderPressure = pressure.state !== 'normal';
        }
        break;
      case 'release':
        sink.release(op.n);
        break;
      case 'settle':
        await settle();
        break;
      case 'pressure':
        pressure.set(op.state);
        break;
    }
    const m = stage.getMetrics();
    if (!isBalanced(m)) throw new Error(`unbalanced after ${op.kind}: ${JSON.stringify(m)}`);
    if (m.held > stage.capacity) throw new Error(`held ${m.held} > capacity ${stage.capacity}`);
  }
  await macrotask();
  if (yielding) throw new Error("no 'drain' within one event-loop turn of write() saying false");
  await drainToEnd(stage, sink);
  const m = stage.getMetrics();
  expect(isBalanced(m)).toBe(true);
  expect(m).toMatchObject({
    written: written.length,
    held: 0,
    passed: sink.received.length,
    dropped: observed.drops.length,
  });
  // Conservation: every item passed or was dropped, exactly once.
  const ids = [...sink.received.map((i) => i.id), ...observed.drops.map((d) => d.item.id)].sort((a, b) => a - b);
  expect(ids).toEqual(written.map((i) => i.id));
  // Order: what passes keeps arrival order.
  const passed = sink.received.map((i) => i.id);
  expect(passed).toEqual([...passed].sort((a, b) => a - b));
  expect(observed.drops.every((d) => d.balanced && d.held <= stage.capacity)).toBe(true);
  return observed;
}

const schedules = fc.tuple(fc.integer({ min: 1, max: 8 }), fc.array(opArb, { minLength: 1, maxLength: 40 }));
const RUNS = { numRuns: 60 };

test('dropOldest: conserved, bounded, ordered; evicts only when full', async () => {
  await fc.assert(
    fc.asyncProperty(schedules, async ([capacity, ops]) => {
      const observed = await runSchedule(dropOldest<Item>({ capacity }), new FakePressure(), ops);
      for (const d of observed.drops) {
        expect(d.reason).toBe(DropReason.EVICTED_OLDEST);
        expect(d.held).toBe(capacity);
        // The evicted item is the oldest one that was still held.
        expect(d.item.id).toBe(Math.min(...d.heldBefore.map((i) => i.id)));
      }
    }),
    RUNS,
  );
});

test('dropNewest: conserved, bounded, ordered; refuses only the newcomer, only when full', async () => {
  await fc.assert(
    fc.asyncProperty(schedules, async ([capacity, ops]) => {
      const observed = await runSchedule(dropNewest<Item>({ capacity }), new FakePressure(), ops);
      for (const d of observed.drops) {
        expect(d.reason).toBe(DropReason.REJECTED_NEWEST);
        expect(d.held).toBe(capacity);
        expect(d.item).toBe(d.lastWritten);
      }
    }),
    RUNS,
  );
});

test('sample: conserved, bounded, ordered; keeps exactly ceil(arrived under pressure / rate)', async () => {
  await fc.assert(
    fc.asyncProperty(schedules, fc.integer({ min: 1, max: 6 }), async ([capacity, ops], rate) => {
      const pressure = new FakePressure();
      const stage = sample<Item>({ capacity, rate, pressure });
      const observed = await runSchedule(stage, pressure, ops, true);
      const m = stage.getMetrics();
      const sampledOut = m.droppedByReason[DropReason.SAMPLED_OUT] ?? 0;
      expect(m.arrivedUnderPressure - sampledOut).toBe(Math.ceil(m.arrivedUnderPressure / rate));
      for (const d of observed.drops) {
        if (d.reason === DropReason.SAMPLED_OUT) expect(d.pressure).not.toBe('normal');
        else if (d.reason === DropReason.OVERFLOW) expect(d.held).toBe(capacity);
        else throw new Error(`unexpected reason ${d.reason}`);
      }
    }),
    RUNS,
  );
});

test('shedByPriority: conserved, bounded, ordered; the least important go first', async () => {
  await fc.assert(
    fc.asyncProperty(schedules, async ([capacity, ops]) => {
      const pressure = new FakePressure();
      const stage = shedByPriority<Item>({ capacity, priority: (i) => i.p, pressure });
      const observed = await runSchedule(stage, pressure, ops, true);
      for (const d of observed.drops) {
        const others = d.heldBefore.filter((i) => i !== d.item && i !== d.lastWritten);
        switch (d.reason) {
          case DropReason.SHED_PRIORITY:
            expect(d.pressure).not.toBe('normal');
            expect(d.item).toBe(d.lastWritten);
            break;
          case DropReason.OVERFLOW:
            // Refused only when everything held is at least as important.
            expect(d.item).toBe(d.lastWritten);
            expect(others.every((i) => i.p >= d.item.p)).toBe(true);
            break;
          case DropReason.EVICTED_PRIORITY:
            // Evicted: less important than the newcomer, and the least important held (oldest of its class).
            expect(d.item.p).toBeLessThan((d.lastWritten as Item).p);
            expect(others.every((i) => i.p > d.item.p || (i.p === d.item.p && i.id > d.item.id))).toBe(true);
            break;
          default:
            throw new Error(`unexpected reason ${d.reason}`);
        }
      }
    }),
    RUNS,
  );
});
