/**
 * Shared parts of the fault-injection campaign (fault-*.test.ts): a seeded PRNG,
 * a producer that writes until the pipe closes, the dead-letter file parser, and
 * the ledger that accounts for every input line by its id.
 *
 * Input lines have the same shape as fixtures/produce.js writes, so every test
 * (in-process producer or produce.js) parses the same way: `{"seq":ID,...}` on
 * input line ID + 1.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { FIXTURES, seqsOf } from './cli';

/** A slow consumer that appends every complete line it reads to a file (see the fixture's header). */
export const FAULT_CONSUMER = join(FIXTURES, 'fault-consumer.js');

/** The padding produce.js uses by default (its second argument). */
export const PAD_BYTES = 20;
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** Input line `seq + 1`, byte for byte what fixtures/produce.js writes (newline included). */
export function inputLine(seq: number, padBytes = PAD_BYTES): string {
  const p = seq % 4;
  return `{"seq":${seq},"level":"${LEVELS[p] as string}","priority":${p},"pad":"${'x'.repeat(padBytes)}"}\n`;
}

export { mulberry32 } from './seeded-random';

/** The seed of this run: FAULT_SEED when set (to replay a failure), otherwise a fresh random one. */
export function faultSeed(): number {
  const fromEnv = process.env['FAULT_SEED'];
  if (fromEnv !== undefined && fromEnv !== '') return Number(fromEnv) >>> 0;
  return Math.floor(Math.random() * 2 ** 32) >>> 0;
}

export interface Producer {
  /** Lines handed to `write()` so far: ids 0 .. generated-1 exist, no others. */
  generated: () => number;
  /** Settles when the producer stopped: all `total` lines written, or the pipe closed / failed. */
  stopped: Promise<void>;
}

/**
 * Writes `inputLine(0)`, `inputLine(1)`, … to `stdin` as fast as the pipe takes them
 * (respecting 'drain', 100 lines per write), until `total` lines or until the reader
 * goes away (EPIPE / close). Ends the pipe after the last line when all were written.
 */
export function produceInto(stdin: Writable, total: number): Producer {
  let next = 0;
  let done = false;
  let finish: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (finish = resolve));
  const stop = (): void => {
    if (done) return;
    done = true;
    finish();
  };
  stdin.on('error', stop); // EPIPE once the CLI has exited: the rest was never read
  stdin.on('close', stop);
  const pump = (): void => {
    while (!done && next < total) {
      let chunk = '';
      const end = Math.min(total, next + 100);
      for (; next < end; next++) chunk += inputLine(next);
      if (!stdin.write(chunk)) {
        stdin.once('drain', pump);
        return;
      }
    }
    if (!done && next >= total) stdin.end(stop);
  };
  pump();
  return { generated: () => next, stopped };
}

/** Polls `condition` every `pollMs` until it holds; rejects after `timeoutMs` (a safety net, not a timing assertion). */
export async function waitUntil(what: string, condition: () => boolean, timeoutMs = 8_000, pollMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Complete lines in a file (0 when it does not exist yet). */
export function lineCount(path: string): number {
  if (!existsSync(path)) return 0;
  const text = readFileSync(path, 'latin1');
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** The ids in an NDJSON file, in file order (empty when it does not exist). */
export function idsInFile(path: string): number[] {
  return existsSync(path) ? seqsOf(readFileSync(path, 'utf8')) : [];
}

export interface DeadLetters {
  /** Ids of `undeliverable` entries (`record.seq`), in file order. */
  undeliverable: number[];
  /** Ids of invalid-line entries (from their line number), in file order. */
  invalid: number[];
  /** Ids of `truncated-at-stop` entries: the line reading stopped in the middle of (at most one). */
  truncated: number[];
  /** Ids of `possibly-undelivered` entries: flushed into a pipe whose reader then died (at-least-once). */
  possiblyUndelivered: number[];
  /** The `error` text of each undeliverable entry, deduplicated. */
  errors: string[];
}

/**
 * Parses a `--dead-letter` file and checks each entry against the input it came
 * from: an undeliverable entry's `record` is the line's JSON and its `line` the
 * line number; an invalid entry's `raw` is a prefix of the line it names; a
 * `truncated-at-stop` entry holds a proper prefix of its line (the part read before
 * a stop). Throws on anything else: an entry that names no input line is an unknown id.
 */
export function readDeadLetters(path: string): DeadLetters {
  const result: DeadLetters = { undeliverable: [], invalid: [], truncated: [], possiblyUndelivered: [], errors: [] };
  if (!existsSync(path)) return result;
  const errors = new Set<string>();
  for (const text of readFileSync(path, 'utf8').split('\n')) {
    if (text === '') continue;
    const entry = JSON.parse(text) as {
      line?: unknown;
      reason?: unknown;
      error?: unknown;
      record?: { seq?: unknown };
      raw?: unknown;
      rawBase64?: unknown;
    };
    if (typeof entry.line !== 'number') throw new Error(`dead-letter entry without a line number: ${text}`);
    const id = entry.line - 1;
    if (entry.reason === 'undeliverable' || entry.reason === 'possibly-undelivered') {
      if (entry.record?.seq !== id)
        throw new Error(`dead-letter entry for line ${entry.line} holds another record: ${text}`);
      (entry.reason === 'undeliverable' ? result.undeliverable : result.possiblyUndelivered).push(id);
      errors.add(String(entry.error));
    } else if (entry.reason === 'truncated-at-stop') {
      const raw =
        typeof entry.rawBase64 === 'string'
          ? Buffer.from(entry.rawBase64, 'base64')
          : typeof entry.raw === 'string'
            ? Buffer.from(entry.raw)
            : undefined;
      const line = Buffer.from(inputLine(id));
      if (raw === undefined || raw.length >= line.length || !line.subarray(0, raw.length).equals(raw)) {
        throw new Error(`truncated-at-stop entry for line ${entry.line} is not a proper prefix of that line: ${text}`);
      }
      result.truncated.push(id);
    } else {
      if (typeof entry.raw !== 'string' || !inputLine(id).startsWith(entry.raw)) {
        throw new Error(`invalid-line entry for line ${entry.line} is not a prefix of that line: ${text}`);
      }
      result.invalid.push(id);
    }
  }
  result.errors = [...errors];
  return result;
}

/** What one run did with every id. */
export interface Ledger {
  /** Lines the CLI read (`--stats` read): ids 0 .. read-1. */
  read: number;
  /** Lines produced, when known: ids read .. total-1 were never read. */
  total?: number;
  /** Every delivery of every id (an id delivered twice appears twice). */
  delivered: readonly number[];
  /** Every dead-letter entry's id (undeliverable and invalid). */
  deadLettered: readonly number[];
}

export interface LedgerReport {
  /** Distinct ids delivered at least once. */
  delivered: number;
  /** Ids delivered more than once, with how often. */
  duplicates: Map<number, number>;
  /** Distinct ids dead-lettered. */
  deadLettered: number;
  /** Ids both delivered and dead-lettered. */
  both: number[];
  /** Ids never read (total - read), when total is known. */
  unread: number | undefined;
  /** Ids the CLI read that are neither delivered nor dead-lettered. */
  missing: number[];
  /** Ids that should not appear anywhere: never read (or never produced), or dead-lettered twice. */
  unknown: number[];
}

/** Sorts every id of a run into delivered / dead-lettered / unread, and lists what does not fit. */
export function account(ledger: Ledger): LedgerReport {
  const deliveredCount = new Map<number, number>();
  for (const id of ledger.delivered) deliveredCount.set(id, (deliveredCount.get(id) ?? 0) + 1);
  const deadCount = new Map<number, number>();
  for (const id of ledger.deadLettered) deadCount.set(id, (deadCount.get(id) ?? 0) + 1);
  const unknown = new Set<number>();
  const isRead = (id: number): boolean => Number.isInteger(id) && id >= 0 && id < ledger.read;
  for (const id of deliveredCount.keys()) if (!isRead(id)) unknown.add(id);
  for (const [id, n] of deadCount) if (!isRead(id) || n > 1) unknown.add(id);
  const duplicates = new Map<number, number>();
  for (const [id, n] of deliveredCount) if (n > 1) duplicates.set(id, n);
  const both: number[] = [];
  for (const id of deadCount.keys()) if (deliveredCount.has(id)) both.push(id);
  const missing: number[] = [];
  for (let id = 0; id < ledger.read; id++) if (!deliveredCount.has(id) && !deadCount.has(id)) missing.push(id);
  return {
    delivered: deliveredCount.size,
    duplicates,
    deadLettered: deadCount.size,
    both: both.sort((a, b) => a - b),
    unread: ledger.total === undefined ? undefined : ledger.total - ledger.read,
    missing,
    unknown: [...unknown].sort((a, b) => a - b),
  };
}

/** `from` .. `to`-1. */
export function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = from; i < to; i++) out.push(i);
  return out;
}

/** One line per run for the test log: the counts a reader of the campaign wants to see. */
export function logRun(name: string, fields: Record<string, unknown>): void {
  const text = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');
  console.log(`[fault] ${name}: ${text}`);
}
