/**
 * npm run bench:modes — is there a slow mode? Runs bench/modes-run.ts (pipeline(Readable.from(gen),
 * BackpressureWritable), batch 500, concurrency 4, instant sink) in MODES_RUNS (24) fresh processes
 * per stream implementation, alternating readable-stream and Node core classes (READABLE_STREAM=
 * disable), and prints the distribution of items/s (wall, and per CPU-second: on a shared machine the
 * wall clock also counts waiting for a core) with the garbage collector's work beside it:
 * a bimodal distribution shows as runs far below the median, and the GC columns say whether the
 * collector is why.
 *
 * MODES_RUNNER: another build's build/bench/modes-run.js, to compare a change against the same
 * machine state (run both in turn). MODES_NODE_ARGS: node flags for every run. MODES_ITEMS,
 * MODES_BATCH, MODES_CONCURRENCY pass through.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { formatSpread, machine, spread } from './harness';

const run = promisify(execFile);
const RUNS = Number(process.env['MODES_RUNS'] ?? 24);
const RUNNER = process.env['MODES_RUNNER'] ?? join(__dirname, 'modes-run.js');
/** Extra node flags for every run, e.g. `--max-semi-space-size=1` (a young generation that stays small). */
const NODE_ARGS = (process.env['MODES_NODE_ARGS'] ?? '').split(' ').filter((a) => a !== '');
/** A run slower than this fraction of its implementation's median is counted as the slow mode. */
const SLOW = 0.6;

interface RunResult {
  rate: number;
  cpuRate: number;
  scavenges: number;
  markCompacts: number;
  incremental: number;
  gcPauseMs: number;
  peakHeapMB: number;
  flushes: number;
  partialBatches: number;
}

const IMPLEMENTATIONS = [
  { name: 'readable-stream classes', env: {} as Record<string, string> },
  { name: 'node core classes (READABLE_STREAM=disable)', env: { READABLE_STREAM: 'disable' } },
];

async function once(env: Record<string, string>): Promise<RunResult> {
  const base = { ...process.env };
  delete base['READABLE_STREAM'];
  const { stdout } = await run(process.execPath, [...NODE_ARGS, RUNNER], {
    env: { ...base, ...env },
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as RunResult;
}

function column(results: readonly RunResult[], pick: (r: RunResult) => number, digits = 0): string {
  return formatSpread(spread(results.map(pick)), digits);
}

async function main(): Promise<void> {
  console.log(
    `# modes: pipeline(Readable.from(generator), BackpressureWritable), ${RUNS} fresh processes per stream implementation, alternating`,
  );
  console.log(`# runner ${RUNNER}${NODE_ARGS.length > 0 ? `, node ${NODE_ARGS.join(' ')}` : ''}`);
  console.log(`# ${machine().replace(/, [^,]*classes$/, '')}`);
  const results = IMPLEMENTATIONS.map(() => [] as RunResult[]);
  for (let i = 0; i < RUNS; i++) {
    for (const [k, impl] of IMPLEMENTATIONS.entries()) results[k]?.push(await once(impl.env));
  }
  for (const [k, impl] of IMPLEMENTATIONS.entries()) {
    const rs = results[k] as RunResult[];
    const rates = spread(rs.map((r) => r.cpuRate));
    const slow = rs.filter((r) => r.cpuRate < SLOW * rates.median);
    console.log(`\n${impl.name}:`);
    console.log(`  items/s (wall) min / median / max: ${column(rs, (r) => r.rate)}`);
    console.log(`  items per CPU-second min / median / max: ${column(rs, (r) => r.cpuRate)}`);
    console.log(`  slowest / median (CPU): ${(rates.min / rates.median).toFixed(2)}`);
    console.log(`  runs below ${SLOW} × median (slow mode): ${slow.length} of ${rs.length}`);
    console.log(`  scavenges: ${column(rs, (r) => r.scavenges)}   mark-compacts: ${column(rs, (r) => r.markCompacts)}`);
    console.log(
      `  GC pause ms: ${column(rs, (r) => r.gcPauseMs)}   peak heapUsed MB: ${column(rs, (r) => r.peakHeapMB, 1)}`,
    );
    console.log(`  partial batches: ${column(rs, (r) => r.partialBatches)} of ${column(rs, (r) => r.flushes)} flushes`);
    console.log(
      `  every run, by items per CPU-second (M/s : mark-compacts): ${[...rs]
        .sort((a, b) => a.cpuRate - b.cpuRate)
        .map((r) => `${(r.cpuRate / 1e6).toFixed(1)}:${r.markCompacts}`)
        .join(' ')}`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
