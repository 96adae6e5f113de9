/**
 * The NDJSON input of the CLI benchmarks: BENCH_LINES (default 1,000,000) log-like records, about
 * 158 bytes each, in a new temporary directory that is removed when the bench ends — also on an
 * error or Ctrl-C.
 */
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';

export function positiveInt(text: string | undefined, fallback: number): number {
  const n = text === undefined ? fallback : Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`expected a positive integer, got ${text}`);
  return n;
}

export const LINES = positiveInt(process.env['BENCH_LINES'], 1_000_000);

const LEVELS = ['debug', 'info', 'info', 'info', 'warn', 'error'] as const;
const SERVICES = ['api', 'billing', 'auth', 'search'] as const;

export function record(i: number): string {
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

export interface Input {
  path: string;
  bytes: number;
  lines: number;
  dir: string;
}

/** Writes `lines` NDJSON records to `path`; returns the file's size in bytes. */
export function writeInput(path: string, lines: number): number {
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
  return statSync(path).size;
}

/** Runs `measure` with a freshly written input file, and removes it afterwards whatever happens. */
export async function withInput(prefix: string, measure: (input: Input) => Promise<void>): Promise<void> {
  await withTempDir(prefix, async (dir) => {
    const path = join(dir, 'input.ndjson');
    await measure({ path, bytes: writeInput(path, LINES), lines: LINES, dir });
  });
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
