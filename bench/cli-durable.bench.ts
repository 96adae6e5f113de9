/**
 * The CLI with `--buffer-dir` (durable mode, `--sync batch`: every line through the crash-safe log on
 * disk) against the same CLI in memory, same input, same machine, interleaved rounds (memory, durable,
 * memory, durable, …) so that a noisy machine affects both alike. Target: durable ≥ 0.5× in-memory.
 *
 *   npm run bench:cli-durable     (BENCH_LINES=200000 BENCH_RUNS=7 to change the defaults;
 *                                  BENCH_CLI=/other/checkout/dist/cli/main.js to time another build;
 *                                  BENCH_BUFFER_DIR=/mnt/ssd to put the log on another disk)
 *
 * Input: BENCH_LINES (default 1,000,000) NDJSON lines (~150 bytes each), output /dev/null. The log
 * directory is new for every durable run (empty: no backlog) and removed afterwards. Prints each
 * round's wall times, then the ratio in-memory time / durable time of each round — min, median, max
 * — and one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, median, positiveInt, timeRun, withTempDir, writeInput } from './cli-run';

export interface CliDurableOptions {
  /** @default 1000000 */
  lines?: number;
  /** Interleaved rounds. @default 5 */
  runs?: number;
  /** Where the log directory is made (the disk measured). @default the input's temporary directory */
  bufferParent?: string;
}

export interface CliDurableResult {
  lines: number;
  runs: number;
  memoryMs: number;
  durableMs: number;
  /** In-memory time / durable time, per round: min, median, max. Above 0.5 meets the target. */
  ratio: { min: number; median: number; max: number };
}

/** The measurement, printed as it goes (`log`), for this script and for `npm run bench:durable`. */
export async function measureCliDurable(
  options: CliDurableOptions = {},
  log: (line: string) => void = console.log,
): Promise<CliDurableResult> {
  const LINES = options.lines ?? 1_000_000;
  const RUNS = options.runs ?? 5;
  let result: CliDurableResult | undefined;
  await withTempDir('backpressure-bench-cli-durable-', async (dir) => {
    const path = join(dir, 'input.ndjson');
    const input = { path, bytes: writeInput(path, LINES) };
    const parent = options.bufferParent === undefined ? dir : mkdtempSync(join(options.bufferParent, 'cli-buffer-'));
    const logDir = join(parent, 'buffer');
    log(
      `CLI, ${LINES.toLocaleString('en-US')} NDJSON lines (${(input.bytes / 1e6).toFixed(1)} MB) → /dev/null: --buffer-dir (--sync batch) vs in memory, ${RUNS} interleaved rounds`,
    );
    const memory: number[] = [];
    const durable: number[] = [];
    const ratios: number[] = [];
    // One warm-up of each: page cache, the first segment files' allocation.
    await timeRun(CLI, [], input.path);
    rmSync(logDir, { recursive: true, force: true });
    await timeRun(CLI, ['--buffer-dir', logDir], input.path);
    for (let round = 1; round <= RUNS; round++) {
      const m = await timeRun(CLI, [], input.path);
      rmSync(logDir, { recursive: true, force: true });
      const d = await timeRun(CLI, ['--buffer-dir', logDir, '--sync', 'batch'], input.path);
      memory.push(m);
      durable.push(d);
      ratios.push(m / d);
      log(
        `  round ${round}: in memory ${m.toFixed(0)} ms, --buffer-dir ${d.toFixed(0)} ms, ratio ${(m / d).toFixed(2)}`,
      );
    }
    if (parent !== dir) rmSync(parent, { recursive: true, force: true });
    else rmSync(logDir, { recursive: true, force: true });
    const rate = (ms: number): string => `${Math.round((LINES * 1000) / ms).toLocaleString('en-US')} lines/s`;
    const memoryMs = median(memory);
    const durableMs = median(durable);
    const ratio = {
      min: Number(Math.min(...ratios).toFixed(2)),
      median: Number(median(ratios).toFixed(2)),
      max: Number(Math.max(...ratios).toFixed(2)),
    };
    log(`  in memory:    median ${memoryMs.toFixed(0)} ms  ${rate(memoryMs)}`);
    log(`  --buffer-dir: median ${durableMs.toFixed(0)} ms  ${rate(durableMs)}`);
    log(
      `  ratio (in-memory time / durable time, target >= 0.5): min ${ratio.min}  median ${ratio.median}  max ${ratio.max}`,
    );
    result = { lines: LINES, runs: RUNS, memoryMs: Math.round(memoryMs), durableMs: Math.round(durableMs), ratio };
  });
  return result as CliDurableResult;
}

if (require.main === module) {
  const bufferParent = process.env['BENCH_BUFFER_DIR'];
  measureCliDurable({
    lines: positiveInt(process.env['BENCH_LINES'], 1_000_000),
    runs: positiveInt(process.env['BENCH_RUNS'], 5),
    ...(bufferParent !== undefined && { bufferParent }),
  })
    .then((result) => console.log(JSON.stringify({ bench: 'cli-durable', ...result })))
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
