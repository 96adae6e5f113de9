/**
 * The CLI against the hand-written baseline (bench/readline-baseline.ts: readline +
 * JSON.parse + JSON.stringify, respecting stdout's backpressure), same input, same
 * machine, same run, alternating, so that a noisy machine affects both alike.
 *
 *   npm run bench:cli            (BENCH_RUNS=5 BENCH_LINES=200000 to change the defaults,
 *                                 BENCH_CLI=/other/checkout/dist/cli/main.js to time another build)
 *
 * Input: a generated NDJSON file of BENCH_LINES (default 1,000,000) log-like records (153 MB) in
 * a new directory under os.tmpdir(), removed when the bench ends, also on an error or Ctrl-C.
 * Output: /dev/null.
 * Prints the median wall time of each over BENCH_RUNS (default 3) and the ratio
 * baseline / CLI — above 1 means the CLI is faster.
 */
import { join } from 'node:path';
import { CLI, median, positiveInt, timeRun, withTempDir, writeInput } from './cli-run';

const BASELINE = join(__dirname, 'readline-baseline.js');
const LINES = positiveInt(process.env['BENCH_LINES'], 1_000_000);
const RUNS = positiveInt(process.env['BENCH_RUNS'], 3);

async function main(): Promise<void> {
  await withTempDir('backpressure-bench-cli-', (dir) => measure(writeInput(join(dir, 'input.ndjson'), LINES)));
}

async function measure(input: { path: string; bytes: number }): Promise<void> {
  console.log(
    `input: ${input.path} (${LINES.toLocaleString('en-US')} lines, ${(input.bytes / 1e6).toFixed(1)} MB), ${RUNS} runs each, alternating`,
  );
  const cli: number[] = [];
  const baseline: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    cli.push(await timeRun(CLI, [], input.path));
    baseline.push(await timeRun(BASELINE, [], input.path));
    console.log(
      `  run ${run}: backpressure ${cli[run - 1]?.toFixed(0)} ms, readline baseline ${baseline[run - 1]?.toFixed(0)} ms`,
    );
  }
  const cliMs = median(cli);
  const baselineMs = median(baseline);
  const rate = (ms: number): string => `${Math.round((LINES * 1000) / ms).toLocaleString('en-US')} lines/s`;
  console.log(`backpressure (CLI, --strategy block, to /dev/null): median ${cliMs.toFixed(0)} ms  ${rate(cliMs)}`);
  console.log(
    `readline + JSON.parse + JSON.stringify baseline:    median ${baselineMs.toFixed(0)} ms  ${rate(baselineMs)}`,
  );
  console.log(`ratio (baseline / CLI, higher is better, target >= 2.0): ${(baselineMs / cliMs).toFixed(2)}`);
  console.log(
    JSON.stringify({
      lines: LINES,
      runs: RUNS,
      cliMs: Math.round(cliMs),
      baselineMs: Math.round(baselineMs),
      ratio: Number((baselineMs / cliMs).toFixed(2)),
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
