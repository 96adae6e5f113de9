/**
 * The CLI against the hand-written baseline (bench/readline-baseline.ts: readline +
 * JSON.parse + JSON.stringify, respecting stdout's backpressure), same input, same
 * machine, same run, alternating, so that a noisy machine affects both alike.
 *
 *   npm run bench:cli            (BENCH_RUNS=5 BENCH_LINES=200000 to change the defaults,
 *                                 BENCH_CLI=/other/checkout/dist/cli/main.js to time another build)
 *
 * Input: a generated NDJSON file of BENCH_LINES (default 1,000,000) log-like records in
 * os.tmpdir() (reused across runs when it already has the right size). Output: /dev/null.
 * Prints the median wall time of each over BENCH_RUNS (default 3) and the ratio
 * baseline / CLI — above 1 means the CLI is faster.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

/** Writes the input file once; later runs reuse it (its size is recorded next to it). */
function ensureInput(): { path: string; bytes: number } {
  const path = join(tmpdir(), `backpressure-bench-${LINES}.ndjson`);
  const sizeFile = `${path}.size`;
  if (existsSync(path) && existsSync(sizeFile) && Number(readFileSync(sizeFile, 'utf8')) === statSync(path).size) {
    return { path, bytes: statSync(path).size };
  }
  const fd = openSync(path, 'w');
  let chunk = '';
  for (let i = 0; i < LINES; i++) {
    chunk += `${record(i)}\n`;
    if (chunk.length > 1 << 20) {
      writeSync(fd, chunk);
      chunk = '';
    }
  }
  writeSync(fd, chunk);
  closeSync(fd);
  const bytes = statSync(path).size;
  const sizeFd = openSync(sizeFile, 'w');
  writeSync(sizeFd, String(bytes));
  closeSync(sizeFd);
  return { path, bytes };
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
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function main(): Promise<void> {
  const input = ensureInput();
  console.log(`input: ${input.path} (${LINES.toLocaleString('en-US')} lines, ${(input.bytes / 1e6).toFixed(1)} MB), ${RUNS} runs each, alternating`);
  const cli: number[] = [];
  const baseline: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    cli.push(await timeRun(CLI, [], input.path));
    baseline.push(await timeRun(BASELINE, [], input.path));
    console.log(`  run ${run}: backpressure ${cli[run - 1]?.toFixed(0)} ms, readline baseline ${baseline[run - 1]?.toFixed(0)} ms`);
  }
  const cliMs = median(cli);
  const baselineMs = median(baseline);
  const rate = (ms: number): string => `${Math.round((LINES * 1000) / ms).toLocaleString('en-US')} lines/s`;
  console.log(`backpressure (CLI, --strategy block, to /dev/null): median ${cliMs.toFixed(0)} ms  ${rate(cliMs)}`);
  console.log(`readline + JSON.parse + JSON.stringify baseline:    median ${baselineMs.toFixed(0)} ms  ${rate(baselineMs)}`);
  console.log(`ratio (baseline / CLI, higher is better, target >= 2.0): ${(baselineMs / cliMs).toFixed(2)}`);
  console.log(JSON.stringify({ lines: LINES, runs: RUNS, cliMs: Math.round(cliMs), baselineMs: Math.round(baselineMs), ratio: Number((baselineMs / cliMs).toFixed(2)) }));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
