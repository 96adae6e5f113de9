/**
 * What the CLI benchmarks share: a generated NDJSON input file of log-like records, the wall time of
 * one CLI run over it (stdout to /dev/null), and a temporary directory removed at the end — also on an
 * error or Ctrl-C.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
/** BENCH_CLI: another build's dist/cli/main.js, to compare a change against the same baseline. */
export const CLI = process.env['BENCH_CLI'] ?? join(ROOT, 'dist', 'cli', 'main.js');

export function positiveInt(text: string | undefined, fallback: number): number {
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

/** Writes `lines` NDJSON records (~150 bytes each) to `path`. */
export function writeInput(path: string, lines: number): { path: string; bytes: number } {
  const fd = openSync(path, 'w');
  try {
    let chunk = '';
    for (let i = 0; i < lines; i++) {
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
export function timeRun(script: string, args: readonly string[], input: string): Promise<number> {
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

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Runs `body` with a new temporary directory, removed afterwards, on an error, and on SIGINT/SIGTERM. */
export async function withTempDir(prefix: string, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = (): void => rmSync(dir, { recursive: true, force: true });
  // Ctrl-C does not run `finally`: remove it here too, then exit as the signal would.
  const onSignal = (signal: NodeJS.Signals): void => {
    remove();
    process.exit(128 + osConstants.signals[signal]);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await body(dir);
  } finally {
    remove();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
