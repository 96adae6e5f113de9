import type { RunSummary } from '../../lib/cli/stats';
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
/** The built CLI: `npm test` builds first (pretest). */
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');
export const FIXTURES = join(__dirname, '..', 'fixtures');
export const PRODUCE = join(FIXTURES, 'produce.js');
export const CONSUME = join(FIXTURES, 'consume.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Collects a child's output and waits for it to exit. */
export function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function spawnCli(args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...options });
}

/** Runs the CLI with `input` on stdin (ended) and returns what it printed. */
export function runCli(
  args: readonly string[],
  input: string | Buffer = '',
  options: SpawnOptions = {},
): Promise<CliResult> {
  const child = spawnCli(args, options);
  const result = collect(child);
  child.stdin?.on('error', () => undefined); // the CLI may exit (usage error) before reading
  child.stdin?.end(input);
  return result;
}

/** The `--stats` summary: the last stderr line that is a JSON object with a `read` key. */
export type Stats = RunSummary;

export function statsOf(stderr: string): Stats {
  const lines = stderr.split('\n').filter((l) => l.startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    const parsed = JSON.parse(lines[i] as string) as Partial<Stats>;
    if (typeof parsed.read === 'number') return parsed as Stats;
  }
  throw new Error(`no --stats line in stderr:\n${stderr}`);
}

/**
 * The accounting identities every run must satisfy. With --buffer-dir, records recovered from an
 * earlier run enter the account, and damaged ones and those left on disk for the next run leave it.
 */
export function expectBalanced(stats: Stats): void {
  expect(stats.read).toBe(stats.valid + stats.invalid + stats.truncated);
  const { recovered = 0, corrupt = 0, leftOnDisk = 0, itemsOnDisk = 0 } = stats;
  expect(stats.valid + recovered).toBe(stats.flushed + stats.dropped + stats.deadLettered + corrupt + leftOnDisk);
  expect(stats.lost).toBe(0);
  expect(leftOnDisk).toBeLessThanOrEqual(itemsOnDisk);
  const byReason = Object.values(stats.droppedByReason).reduce((a, b) => a + b, 0);
  expect(byReason).toBe(stats.dropped);
}

/** NDJSON with `{"seq":i}` records, from `from` (inclusive) to `to` (exclusive). */
export function seqLines(to: number, from = 0): string {
  let out = '';
  for (let i = from; i < to; i++) out += `{"seq":${i}}\n`;
  return out;
}

export function seqsOf(ndjson: string): number[] {
  return ndjson
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => (JSON.parse(l) as { seq: number }).seq);
}

/** A fresh temp directory, removed by the returned cleanup. */
export function tempDir(prefix = 'bp-cli-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Resolves once `stream` has produced output matching `pattern`. */
/**
 * Resolves once `stream` has carried text matching `pattern`; rejects, with what it did carry, when it
 * ends first (a process that died or exited without saying it), instead of leaving the test to time out.
 */
export function waitForOutput(stream: NodeJS.ReadableStream, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const onData = (chunk: Buffer | string): void => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        stream.off('data', onData);
        stream.off('end', onEnd);
        resolve();
      }
    };
    const onEnd = (): void => {
      stream.off('data', onData);
      reject(new Error(`the output ended without ${String(pattern)}; it was: ${JSON.stringify(seen)}`));
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
  });
}

export interface Chain {
  producer: ChildProcess;
  cli: ChildProcess;
  consumer: ChildProcess;
  /** Lines the producer has had accepted by the pipe so far (from its progress fd). */
  produced: () => number;
  cliResult: Promise<CliResult>;
  consumerResult: Promise<CliResult>;
  producerExit: Promise<number | null>;
}

/**
 * `producer | backpressure ARGS | consumer` with real OS pipes between the three
 * processes. Each pipe is created by spawning the reader first and handing its
 * stdin to the writer, then closing the test's own copy: the test process never
 * holds a read end, so it cannot steal data, and EOF propagates.
 */
export function chain(options: {
  lines: number;
  padBytes?: number;
  cliArgs: readonly string[];
  consumer?: readonly string[];
  consumerEnv?: NodeJS.ProcessEnv;
}): Chain {
  const consumerCommand = options.consumer ?? [process.execPath, CONSUME];
  const consumer = spawn(consumerCommand[0] as string, consumerCommand.slice(1), {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...options.consumerEnv },
  });
  const consumerResult = collect(consumer);
  const cli = spawn(process.execPath, [CLI, ...options.cliArgs], { stdio: ['pipe', consumer.stdin!, 'pipe'] });
  consumer.stdin!.destroy();
  const cliResult = collect(cli);
  const producer = spawn(process.execPath, [PRODUCE, String(options.lines), String(options.padBytes ?? 20)], {
    stdio: ['ignore', cli.stdin!, 'inherit', 'pipe'],
    env: { ...process.env, PROGRESS_FD: '3' },
  });
  cli.stdin!.destroy();
  let produced = 0;
  let progress = '';
  const progressPipe = producer.stdio[3] as Readable;
  progressPipe.setEncoding('utf8');
  progressPipe.on('data', (s: string) => {
    progress += s;
    const lines = progress.split('\n');
    progress = lines.pop() ?? '';
    const last = lines[lines.length - 1];
    if (last !== undefined) produced = Number(last);
  });
  const producerExit = new Promise<number | null>((resolve) => producer.on('close', (code) => resolve(code)));
  return { producer, cli, consumer, produced: () => produced, cliResult, consumerResult, producerExit };
}

/** Waits until `read()` stops changing between two polls `pollMs` apart (or `maxMs` passes); returns its value. */
export async function whenStalled(read: () => number, pollMs = 300, maxMs = 15_000): Promise<number> {
  const deadline = Date.now() + maxMs;
  let last = -1;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    const now = read();
    if ((now === last && now > 0) || Date.now() > deadline) return now;
    last = now;
  }
}

export interface ConsumerReport {
  lines: number;
  increasing: boolean;
  seqs?: number[];
}

export function consumerReport(result: CliResult): ConsumerReport {
  return JSON.parse(result.stdout.trim()) as ConsumerReport;
}
