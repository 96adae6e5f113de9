/**
 * npm run bench:priority — does the priority stage's cost per write grow with the number of distinct
 * priorities it has seen? (A timestamp or an id as `--priority-field` makes every priority distinct.)
 *
 * Each scenario writes ITEMS items, in blocks of BLOCK, into a `shedByPriority` stage of CAPACITY with
 * downstream pressure 'normal' (nothing is shed on arrival: all the work is in the hold) and a consumer
 * that takes one item for every READ_EVERY written, so the hold fills up and then stays full: every
 * write after that is a release, a hold, or a full-hold eviction/overflow. It prints the time of each
 * block (the fastest of ROUNDS runs: a block takes milliseconds, so a busy machine only ever adds to
 * it, and the minimum is the figure least disturbed) and, with --expose-gc, the heap after it (median
 * over the runs); then, for each scenario, its growth (median of its last 5 blocks / median of its
 * first 5: flat ≈ 1.00 means no growth) and its cost relative to one class (the baseline, run
 * interleaved with the others, round by round).
 *
 *   npm run bench:priority
 *   (= npm run build && tsc -p tsconfig.bench.json && node --expose-gc build/bench/priority.bench.js)
 *
 * Environment (optional): BENCH_ITEMS (default 200,000), BENCH_ROUNDS (default 7),
 * BENCH_CAPACITY (default 2,000).
 */
import { shedByPriority, type ShedByPriorityStage } from '../lib/stages';
import type { PressureSource } from '../lib/pressure/state';
import { machine, median } from './harness';

const ITEMS = positiveInt('BENCH_ITEMS', 200_000);
const ROUNDS = positiveInt('BENCH_ROUNDS', 7);
const CAPACITY = positiveInt('BENCH_CAPACITY', 2_000);
const BLOCK = 10_000;
const READ_EVERY = 2;
const MB = 1024 * 1024;

function positiveInt(name: string, fallback: number): number {
  const text = process.env[name];
  const n = text === undefined || text === '' ? fallback : Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, got ${text}`);
  return n;
}

interface Item {
  id: number;
  p: number;
}

interface Scenario {
  name: string;
  priority: (id: number) => number;
}

/** A fixed permutation-like spread of ids, so "random" priorities are distinct and reproducible. */
const scrambled = (id: number): number => Math.imul(id, 0x9e3779b1) >>> 0;

const SCENARIOS: Scenario[] = [
  { name: '1 class', priority: () => 0 },
  { name: '4 classes', priority: (id) => id & 3 },
  { name: 'distinct, rising', priority: (id) => 1_700_000_000_000 + id },
  { name: 'distinct, random', priority: scrambled },
];

/** A downstream that is never under pressure: the stage sheds only when its own hold is full. */
const calm: PressureSource = { state: 'normal', on: () => calm, off: () => calm };

interface Run {
  blockMs: number[];
  heapMb: number[];
}

async function run(scenario: Scenario, items: number): Promise<Run> {
  const stage: ShedByPriorityStage<Item> = shedByPriority<Item>({
    capacity: CAPACITY,
    pressure: calm,
    priority: (item) => item.p,
  });
  const blockMs: number[] = [];
  const heapMb: number[] = [];
  for (let start = 0; start < items; start += BLOCK) {
    const end = Math.min(items, start + BLOCK);
    const t0 = process.hrtime.bigint();
    for (let id = start; id < end; id++) {
      stage.write({ id, p: scenario.priority(id) });
      // Paused mode: read() takes one item synchronously (readableHighWaterMark 0).
      if (id % READ_EVERY === 0) stage.read();
    }
    blockMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    // Outside the timed part: let the stream machinery's queued nextTicks run (a real source yields
    // too), so that the heap figure is the stage's, not a backlog of callbacks.
    await new Promise((resolve) => setImmediate(resolve));
    if (global.gc) {
      global.gc();
      heapMb.push(process.memoryUsage().heapUsed / MB);
    }
  }
  const m = stage.getMetrics();
  if (m.written !== items || m.written !== m.passed + m.dropped + m.held || m.held > CAPACITY) {
    throw new Error(`${scenario.name}: account does not balance: ${JSON.stringify(m)}`);
  }
  stage.destroy();
  return { blockMs, heapMb };
}

const fmt = (n: number, digits = 2): string => n.toFixed(digits);
/** Medians of the first and the last few blocks (5, or fewer so that they do not overlap). */
function firstLast(values: number[]): [number, number] {
  const k = Math.max(1, Math.min(5, Math.floor(values.length / 2)));
  return [median(values.slice(0, k)), median(values.slice(-k))];
}

async function main(): Promise<void> {
  console.log(
    `# priority stage: ${ITEMS.toLocaleString('en-US')} writes in blocks of ${BLOCK.toLocaleString('en-US')}, capacity ${CAPACITY}, one read per ${READ_EVERY} writes; ms: fastest of ${ROUNDS} rounds`,
  );
  console.log(`# ${machine()}${global.gc ? '' : ' (no --expose-gc: heap not measured)'}`);
  for (const scenario of SCENARIOS) await run(scenario, Math.min(ITEMS, 4 * BLOCK)); // warm-up (JIT)

  const runs = SCENARIOS.map(() => [] as Run[]);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, scenario] of SCENARIOS.entries()) runs[i]?.push(await run(scenario, ITEMS));
  }
  const blocks = Math.ceil(ITEMS / BLOCK);
  const perBlock = (i: number, key: keyof Run, statistic: (values: number[]) => number): number[] =>
    Array.from({ length: blocks }, (_, b) => statistic((runs[i] ?? []).map((r) => r[key][b] ?? Number.NaN)));
  const times = SCENARIOS.map((_, i) => perBlock(i, 'blockMs', (values) => Math.min(...values)));
  const heaps = SCENARIOS.map((_, i) => perBlock(i, 'heapMb', median));

  const header = [
    'writes',
    ...SCENARIOS.map((s) => `${s.name} ms`),
    ...SCENARIOS.slice(1).map((s) => `${s.name} / 1 class`),
  ];
  if (global.gc) header.push(...SCENARIOS.map((s) => `heap MB ${s.name}`));
  console.log(`| ${header.join(' | ')} |`);
  console.log(`|${header.map(() => '---').join('|')}|`);
  for (let b = 0; b < blocks; b++) {
    const row = [`${((b + 1) * BLOCK).toLocaleString('en-US')}`, ...times.map((t) => fmt(t[b] ?? Number.NaN))];
    for (let i = 1; i < SCENARIOS.length; i++)
      row.push(fmt((times[i]?.[b] ?? Number.NaN) / (times[0]?.[b] ?? Number.NaN)));
    if (global.gc) row.push(...heaps.map((h) => fmt(h[b] ?? Number.NaN, 1)));
    console.log(`| ${row.join(' | ')} |`);
  }
  console.log('');
  const [oneFirst, oneLast] = firstLast(times[0] ?? []);
  for (const [i, scenario] of SCENARIOS.entries()) {
    const [first, last] = firstLast(times[i] ?? []);
    const heap = heaps[i] ?? [];
    const heapNote = global.gc
      ? `, heap ${fmt(heap[0] ?? Number.NaN, 1)} → ${fmt(heap[heap.length - 1] ?? Number.NaN, 1)} MB`
      : '';
    console.log(
      `${scenario.name.padEnd(18)} growth (last blocks / first): ${fmt(last / first)}` +
        `   vs 1 class: ${fmt(first / oneFirst)} (first blocks), ${fmt(last / oneLast)} (last)${heapNote}`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
