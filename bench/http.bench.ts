/**
 * npm run bench:http — HTTP delivery: the CLI (`--sink http://…`, validation on) against a
 * hand-written node:http keep-alive client (bench/http-client-baseline.ts) that sends the same
 * requests — BENCH_HTTP_BATCH (500) lines per POST, BENCH_HTTP_IN_FLIGHT (4) requests in flight —
 * once validating every line with JSON.parse and once raw, to a local collector
 * (bench/http-collector.ts, its own process) that answers each request after 1 ms. Every run
 * must deliver every line (the collector counts them). Interleaved rounds (BENCH_RUNS, 5), ratio
 * per round, min / median / max. BENCH_CLI: another build's dist/cli/main.js.
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { formatSpread, machine, spread } from './harness';
import { positiveInt, withInput, type Input } from './ndjson-input';

const ROOT = join(__dirname, '..', '..');
const CLI = process.env['BENCH_CLI'] ?? join(ROOT, 'dist', 'cli', 'main.js');
const RUNS = positiveInt(process.env['BENCH_RUNS'], 5);
const BATCH = positiveInt(process.env['BENCH_HTTP_BATCH'], 500);
const IN_FLIGHT = positiveInt(process.env['BENCH_HTTP_IN_FLIGHT'], 4);

interface Stats {
  lines: number;
  requests: number;
  maxInFlight: number;
}

function get(port: number, path: string): Promise<Stats> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(JSON.parse(body) as Stats));
      })
      .on('error', reject);
  });
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
      if (code !== 0) reject(new Error(`${script} ${args.join(' ')} exited with ${code}`));
      else resolve(Number(process.hrtime.bigint() - started) / 1e6);
    });
  });
}

/** The CLI's flags for the same requests: `--concurrency` only if this build has it. */
function cliArgs(url: string): string[] {
  const help = execFileSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
  const args = ['--sink', url, '--batch-size', String(BATCH)];
  if (help.includes('--concurrency')) args.push('--concurrency', String(IN_FLIGHT));
  return args;
}

async function measure(input: Input): Promise<void> {
  const collector = fork(join(__dirname, 'http-collector.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve) =>
    collector.once('message', (m: { port: number }) => resolve(m.port)),
  );
  const url = `http://127.0.0.1:${port}/ingest`;
  const baseline = join(__dirname, 'http-client-baseline.js');
  const candidates = [
    { name: 'backpressure CLI (validates)', script: CLI, args: cliArgs(url) },
    {
      name: 'node:http client, JSON.parse per line',
      script: baseline,
      args: [url, String(BATCH), String(IN_FLIGHT), 'validate'],
    },
    { name: 'node:http client, raw', script: baseline, args: [url, String(BATCH), String(IN_FLIGHT), 'raw'] },
  ];
  console.log(
    `# HTTP delivery: ${input.lines.toLocaleString('en-US')} lines (${(input.bytes / 1e6).toFixed(1)} MB), ${BATCH} lines per request, ${IN_FLIGHT} in flight, collector answers after 1 ms`,
  );
  console.log(`# ${machine().replace(/, [^,]*classes$/, '')}; CLI: ${candidates[0]?.args.join(' ')}`);
  const rates = candidates.map(() => [] as number[]);
  const seenInFlight = candidates.map(() => 0);
  try {
    for (let run = 1; run <= RUNS; run++) {
      const line: string[] = [];
      for (const [i, c] of candidates.entries()) {
        await get(port, '/reset');
        const ms = await timeRun(c.script, c.args, input.path);
        const stats = await get(port, '/stats');
        if (stats.lines !== input.lines)
          throw new Error(`${c.name}: collector got ${stats.lines} of ${input.lines} lines`);
        seenInFlight[i] = Math.max(seenInFlight[i] ?? 0, stats.maxInFlight);
        rates[i]?.push((input.lines * 1000) / ms);
        line.push(`${c.name} ${ms.toFixed(0)} ms`);
      }
      console.log(`  round ${run}: ${line.join(', ')}`);
    }
  } finally {
    collector.disconnect();
  }
  for (const [i, c] of candidates.entries()) {
    const s = spread(rates[i] ?? []);
    console.log(
      `${c.name}: median ${Math.round(s.median).toLocaleString('en-US')} lines/s (most requests in flight seen: ${seenInFlight[i]})`,
    );
  }
  const ratio = (a: number, b: number): string =>
    formatSpread(spread((rates[a] ?? []).map((r, k) => r / ((rates[b] ?? [])[k] ?? NaN))));
  console.log(`ratio CLI / validating client per round, min / median / max: ${ratio(0, 1)} (target >= 1.00)`);
  console.log(`ratio CLI / raw client per round, min / median / max: ${ratio(0, 2)}`);
}

withInput('backpressure-bench-http-', measure).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
