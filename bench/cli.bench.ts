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
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
/** BENCH_CLI: another build's dist/cli/main.js, to compare a change against the same baseline. */
const CLI = process.env['BENCH_CLI'] ?? join(ROOT, 'dist', 'cli', 'main.js');
const BASELINE = join(__dirname, 'readline-baseline.js');
const LINES = positiveInt(process.env['BENCH_LINES'], 1_000_000);
const RUNS = positiveInt(process.env['BENCH_RUNS'], 3);

function positiveInt(text: string | undefined, fallback: number): number {
  const n = text === undefined ? fallback : Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`expected a positive integer, got ${text}`);
  return n;
}

const LEVELS = ['debug', 'info', 'info', 'info', 'warn', 'error'] as const;
const SERVICES = ['api', 'billing', 'auth', 'search'] as const;

function record(i: number): string {
  const level = LEVELS[i % LEVELS.length] as string;
  return JSON.stringify({
    ts: new Date(1_760_000_000_000 + i).toISOString(),
    level,
    priority: LEVELS.indexOf(level as (typeof LEVELS)[number]),
    service: SERVICES[i % SERVICES.length],
    msg: 'request served',
    meta: { requestId: `req-${i}`, latencyMs: (i * 7919) % 1000 },
  });
}

/** Writes the input file. */
function writeInput(path: string): { path: string; bytes: number } {
  const fd = openSync(path, 'w');
  try {
    let chunk = '';
    for (let i = 0; i < LINES; i++) {
      chunk += `${record(i)}\n`;
      if (chunk.length > 1 << 20) {
        writeSync(fd, chunk);
        chunk = '';
      }
    }
    writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
  return { path, bytes: statSync(path).size };
}

/** Wall time of one `node script args < input > /dev/null`, in ms. */
function timeRun(script: string, args: readonly string[], input: string): Promise<number> {
  const stdin = openSync(input, 'r');
  const stdout = openSync('/dev/null', 'w');
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [script, ...args], { stdio: [stdin, stdout, 'inherit'] });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      closeSync(stdin);
      closeSync(stdout);
      if (code !== 0) reject(new Error(`${script} exited with ${code}`));
      else resolve(Number(process.hrtime.bigint() - started) / 1e6);
    });
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'backpressure-bench-cli-'));
  const removeInput = (): void => rmSync(dir, { recursive: true, force: true });
  // Ctrl-C does not run `finally`: remove the input here too, then exit as the signal would.
  const onSignal = (signal: NodeJS.Signals): void => {
    removeInput();
    process.exit(128 + osConstants.signals[signal]);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await measure(writeInput(join(dir, 'input.ndjson')));
  } finally {
    removeInput();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
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
