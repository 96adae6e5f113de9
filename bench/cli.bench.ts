/**
 * npm run bench:cli — the CLI against Node's own byte pipe, and its file sink against its own
 * stdout redirected to a file, on one generated NDJSON input (bench/ndjson-input.ts: BENCH_LINES,
 * default 1,000,000 log-like records, ~158 MB), in interleaved rounds (BENCH_RUNS, default 5):
 *
 * 1. To /dev/null: `backpressure` (validation on, defaults) against `process.stdin.pipe(process.stdout)`
 *    (bench/byte-pipe.ts) — the ratio per round, target ≥ 0.5 — and, for context, readline +
 *    JSON.parse + JSON.stringify (bench/readline-baseline.ts), `jq -c .` and split2 when installed.
 * 2. To a file: `backpressure --sink file:PATH` against `backpressure > PATH` (target ≥ 1.0).
 *
 * BENCH_CLI: another build's dist/cli/main.js, to time it against the same baselines.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatSpread, machine, spread } from './harness';
import { positiveInt, withInput, type Input } from './ndjson-input';

const ROOT = join(__dirname, '..', '..');
const CLI = process.env['BENCH_CLI'] ?? join(ROOT, 'dist', 'cli', 'main.js');
const RUNS = positiveInt(process.env['BENCH_RUNS'], 5);

interface Candidate {
  name: string;
  command: string;
  args: string[];
  /** Where stdout goes: /dev/null, or a file (truncated first). */
  stdout?: string;
  /** A file to remove before each run (the file sink appends). */
  fresh?: string;
}

/** Wall time of one `command args < input > stdout`, in ms. */
function timeRun(c: Candidate, input: string): Promise<number> {
  if (c.fresh !== undefined) rmSync(c.fresh, { force: true });
  const stdin = openSync(input, 'r');
  const stdout = openSync(c.stdout ?? '/dev/null', 'w');
  const started = process.hrtime.bigint();
  const child = spawn(c.command, c.args, { stdio: [stdin, stdout, 'inherit'] });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      closeSync(stdin);
      closeSync(stdout);
      if (code !== 0) reject(new Error(`${c.name} exited with ${code}`));
      else resolve(Number(process.hrtime.bigint() - started) / 1e6);
    });
  });
}

function has(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Runs the candidates interleaved, RUNS rounds; returns each one's times, in ms. */
async function rounds(candidates: Candidate[], input: Input, check?: (c: Candidate) => void): Promise<number[][]> {
  const times = candidates.map(() => [] as number[]);
  for (let run = 1; run <= RUNS; run++) {
    const line: string[] = [];
    for (const [i, c] of candidates.entries()) {
      const ms = await timeRun(c, input.path);
      check?.(c);
      times[i]?.push(ms);
      line.push(`${c.name} ${ms.toFixed(0)} ms`);
    }
    console.log(`  round ${run}: ${line.join(', ')}`);
  }
  return times;
}

function report(candidates: Candidate[], times: number[][], input: Input): void {
  for (const [i, c] of candidates.entries()) {
    const s = spread(times[i] ?? []);
    const mbps = (input.bytes / 1e6 / s.median) * 1000;
    const lps = Math.round((input.lines * 1000) / s.median).toLocaleString('en-US');
    console.log(`  ${c.name}: median ${s.median.toFixed(0)} ms, ${mbps.toFixed(0)} MB/s, ${lps} lines/s`);
  }
}

/** Throughput of `a` over that of `b`, per round (b's time / a's time). */
function ratio(times: number[][], a: number, b: number): string {
  return formatSpread(spread((times[a] ?? []).map((ms, k) => ((times[b] ?? [])[k] ?? NaN) / ms)));
}

async function measure(input: Input): Promise<void> {
  const node = process.execPath;
  console.log(
    `# CLI benchmark: ${input.lines.toLocaleString('en-US')} lines, ${(input.bytes / 1e6).toFixed(1)} MB, ${RUNS} interleaved rounds`,
  );
  console.log(`# ${machine().replace(/, [^,]*classes$/, '')}; CLI ${CLI}`);

  const toNull: Candidate[] = [
    { name: 'backpressure (validates)', command: node, args: [CLI] },
    { name: 'node byte pipe', command: node, args: [join(__dirname, 'byte-pipe.js')] },
    { name: 'readline + JSON.parse', command: node, args: [join(__dirname, 'readline-baseline.js')] },
  ];
  if (has('jq', ['--version'])) toNull.push({ name: 'jq -c .', command: 'jq', args: ['-c', '.'] });
  else console.log('# jq not installed: left out');
  if (has(node, ['-e', "require.resolve('split2')"]))
    toNull.push({ name: 'split2 + JSON.parse', command: node, args: [join(__dirname, 'split2-baseline.js')] });
  else console.log('# split2 not installed: left out (npm i --no-save split2 to include it)');

  console.log('\n1. stdin → stdout, stdout to /dev/null:');
  const t1 = await rounds(toNull, input);
  report(toNull, t1, input);
  console.log(
    `  ratio backpressure / node byte pipe per round, min / median / max: ${ratio(t1, 0, 1)} (target >= 0.50)`,
  );
  for (let i = 2; i < toNull.length; i++) {
    console.log(`  ratio backpressure / ${toNull[i]?.name}: ${ratio(t1, 0, i)}`);
  }

  const file = join(input.dir, 'out.ndjson');
  const toFile: Candidate[] = [
    { name: 'backpressure --sink file:', command: node, args: [CLI, '--sink', `file:${file}`], fresh: file },
    { name: 'backpressure > file', command: node, args: [CLI], stdout: file },
  ];
  console.log(`\n2. the same into a file (${file}, removed before each run):`);
  const t2 = await rounds(toFile, input, () => {
    const size = statSync(file).size;
    if (size !== input.bytes) throw new Error(`the file holds ${size} bytes, not ${input.bytes}`);
  });
  report(toFile, t2, input);
  console.log(
    `  ratio --sink file: / stdout > file per round, min / median / max: ${ratio(t2, 0, 1)} (target >= 1.00)`,
  );
}

withInput('backpressure-bench-cli-', measure).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
