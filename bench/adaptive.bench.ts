/**
 * npm run bench:adaptive — issue 6: does the adaptive loop find the sink's
 * best throughput without tuning?
 *
 * A simulated sink whose latency per call = overhead + cost per item × batch,
 * multiplied by (active / knee)² once more calls are in flight than its
 * concurrency knee. Two profiles: the knee fixed at 4; and the knee at 8 that
 * drops to 2 mid-run. For each profile, in the same process: the default
 * fixed configuration (batchSize 100, concurrency 1), a sweep of fixed
 * configurations (the best one is reported), and `adaptive: true` started from
 * the defaults. Throughput is measured over the last part of each run
 * (steady state, after the knee moved), the same rule for every candidate;
 * the recovery time is how long after the start (fixed knee) or the move the
 * adaptive run was back within 90 % of that. BENCH_ROUNDS repeats the whole
 * comparison and prints the ratio's min / median / max.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BackpressureWritable } from '../lib';
import { formatSpread, machine, spread } from './harness';

const QUICK = process.env['BENCH_QUICK'] === '1';
/** Rounds of the whole comparison (sweep and adaptive) per profile: the ratio's spread across them. */
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 1);
/** Skip the sweep (for tuning the loop; the table then compares against nothing). */
const ADAPTIVE_ONLY = process.env['BENCH_ADAPTIVE_ONLY'] === '1';
const OVERHEAD_MS = 5;
const PER_ITEM_MS = 0.02;

interface Profile {
  name: string;
  durationMs: number;
  measureFromMs: number;
  knee: (elapsedMs: number) => number;
  kneeMovesAtMs?: number;
}

const PROFILES: Profile[] = [
  { name: 'knee fixed at 4', durationMs: QUICK ? 6000 : 8000, measureFromMs: QUICK ? 3000 : 4000, knee: () => 4 },
  {
    // Measured from 6 s after the knee moves: the recovery itself is reported separately (see below).
    name: 'knee 8 → 2 mid-run',
    durationMs: QUICK ? 14000 : 20000,
    measureFromMs: QUICK ? 11000 : 13000,
    knee: (t) => (t < (QUICK ? 5000 : 7000) ? 8 : 2),
    kneeMovesAtMs: QUICK ? 5000 : 7000,
  },
];

interface Config {
  label: string;
  options: { batchSize?: number; concurrency?: number; adaptive?: boolean };
}

interface RunResult {
  itemsPerSecond: number;
  /** Delivered items/s per 250 ms slice, for the recovery figure. */
  series: number[];
  final: { batchSize: number; concurrency: number };
}

/**
 * A processor-sharing sink: each call needs `workMs` of service; while at most
 * `knee` calls are active each runs at full speed, past the knee each runs at
 * (knee/active)² of it — total throughput falls as the sink thrashes, and
 * recovers as soon as load drops (as a database under lock contention does).
 */
class SimulatedSink {
  readonly #knee: () => number;
  readonly #active = new Set<{ left: number; done: () => void }>();
  #timer: NodeJS.Timeout | null = null;
  #last = 0;

  constructor(knee: () => number) {
    this.#knee = knee;
  }

  call(workMs: number): Promise<void> {
    return new Promise((done) => {
      this.#advance();
      this.#active.add({ left: workMs, done });
      if (this.#timer === null) this.#timer = setInterval(() => this.#advance(), 1);
    });
  }

  #advance(): void {
    const now = performance.now();
    const elapsed = this.#last === 0 ? 0 : now - this.#last;
    this.#last = now;
    const n = this.#active.size;
    const knee = this.#knee();
    const speed = n > knee ? (knee / n) ** 2 : 1;
    for (const call of this.#active) {
      call.left -= elapsed * speed;
      if (call.left <= 0) {
        this.#active.delete(call);
        call.done();
      }
    }
    if (this.#active.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
      this.#last = 0;
    }
  }
}

async function runOnce(profile: Profile, config: Config): Promise<RunResult> {
  const start = Date.now();
  const deliveries: [number, number][] = [];
  const simulated = new SimulatedSink(() => profile.knee(Date.now() - start));
  const sink = new BackpressureWritable<number>({
    maxBufferSize: 20000,
    flushTimeoutMs: 60000,
    ...config.options,
    flush: async (batch) => {
      await simulated.call(OVERHEAD_MS + PER_ITEM_MS * batch.length);
      deliveries.push([Date.now() - start, batch.length]);
    },
  });
  function* producer(): Generator<number> {
    let i = 0;
    for (;;) {
      if ((i & 1023) === 0 && Date.now() - start >= profile.durationMs) return;
      yield i++;
    }
  }
  await pipeline(Readable.from(producer()), sink);
  let measured = 0;
  const slices = new Array<number>(Math.ceil(profile.durationMs / 250)).fill(0);
  for (const [t, n] of deliveries) {
    if (t >= profile.measureFromMs && t < profile.durationMs) measured += n;
    const slice = Math.floor(t / 250);
    if (slice < slices.length) slices[slice] = (slices[slice] ?? 0) + n * 4;
  }
  const m = sink.getMetrics();
  return {
    itemsPerSecond: (measured * 1000) / (profile.durationMs - profile.measureFromMs),
    series: slices,
    final: { batchSize: m.batchSize, concurrency: m.concurrency },
  };
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function main(): Promise<void> {
  console.log(
    `# adaptive benchmark — sink: ${OVERHEAD_MS} ms/call + ${PER_ITEM_MS} ms/item, ×(active/knee)² past the knee`,
  );
  console.log(`# ${machine()}${QUICK ? ' (BENCH_QUICK=1: shorter runs)' : ''}`);
  const sweep: Config[] = [];
  for (const batchSize of QUICK ? [16000] : [4000, 16000]) {
    for (const concurrency of QUICK ? [2, 4] : [1, 2, 4, 8]) {
      sweep.push({ label: `fixed batch ${batchSize} × ${concurrency}`, options: { batchSize, concurrency } });
    }
  }
  const rows: string[] = [
    '| profile | default fixed (100 × 1) | best fixed (sweep) | adaptive | adaptive / best (min / median / max) | recovery | adaptive ended at |',
    '|---|---|---|---|---|---|---|',
  ];
  let allMet = true;
  for (const profile of PROFILES) {
    const ratios: number[] = [];
    const recoveries: number[] = [];
    let last = { defaults: 0, best: 0, bestLabel: '', adaptive: 0, final: '' };
    for (let round = 1; round <= ROUNDS; round++) {
      const defaults = await runOnce(profile, { label: 'default', options: {} });
      let best = { label: '', result: defaults };
      for (const config of ADAPTIVE_ONLY ? [] : sweep) {
        const result = await runOnce(profile, config);
        console.log(`  ${profile.name}: ${config.label}: ${fmt(result.itemsPerSecond)} items/s`);
        if (result.itemsPerSecond > best.result.itemsPerSecond) best = { label: config.label, result };
      }
      const adaptive = await runOnce(profile, { label: 'adaptive', options: { adaptive: true } });
      const ratio = adaptive.itemsPerSecond / best.result.itemsPerSecond;
      const recovery = recoveryMs(profile, adaptive);
      ratios.push(ratio);
      recoveries.push(recovery);
      console.log(
        `  ${profile.name}, round ${round}: default ${fmt(defaults.itemsPerSecond)}, best ${best.label} ${fmt(best.result.itemsPerSecond)}, adaptive ${fmt(adaptive.itemsPerSecond)} (ratio ${ratio.toFixed(2)}), within 90% of its steady state ${recovery < 0 ? 'never' : `${recovery} ms`} after ${profile.kneeMovesAtMs === undefined ? 'the start' : 'the knee moved'}`,
      );
      console.log(`  adaptive items/s per 250 ms: ${adaptive.series.map(fmt).join(' ')}`);
      last = {
        defaults: defaults.itemsPerSecond,
        best: best.result.itemsPerSecond,
        bestLabel: best.label,
        adaptive: adaptive.itemsPerSecond,
        final: `batch ${adaptive.final.batchSize} × ${adaptive.final.concurrency}`,
      };
    }
    if (Math.min(...ratios) < 0.9) allMet = false;
    const rec = recoveries.every((r) => r >= 0) ? `${formatSpread(spread(recoveries), 0)} ms` : 'not always';
    rows.push(
      `| ${profile.name} | ${fmt(last.defaults)} | ${fmt(last.best)} (${last.bestLabel.replace('fixed ', '')}) | ${fmt(last.adaptive)} | ${formatSpread(spread(ratios))} | ${rec} after ${profile.kneeMovesAtMs === undefined ? 'start' : 'the move'} | ${last.final} |`,
    );
  }
  console.log('');
  console.log(`${ROUNDS} round(s); the items/s columns are the last round's`);
  console.log(rows.join('\n'));
  console.log(`\ntarget adaptive >= 0.90 × best fixed on both profiles, every round: ${allMet ? 'met' : 'NOT met'}`);
}

/**
 * How long after the knee moved (or the start) the adaptive run was back within 90 % of its own
 * steady-state throughput, averaged over 1 s (a 250 ms slice holds one or two completions of a
 * large batch, so slices alone swing by half); -1 if never.
 */
function recoveryMs(profile: Profile, adaptive: RunResult): number {
  const fromSlice = (profile.kneeMovesAtMs ?? 0) / 250;
  const target = 0.9 * adaptive.itemsPerSecond;
  for (let s = fromSlice; s + 4 <= adaptive.series.length; s++) {
    const second = adaptive.series.slice(s, s + 4).reduce((a, b) => a + b, 0) / 4;
    if (second >= target) return (s - fromSlice) * 250;
  }
  return -1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
