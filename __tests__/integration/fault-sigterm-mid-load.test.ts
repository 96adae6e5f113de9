/**
 * Fault injection, scenario 2: SIGTERM while a producer is still writing and the
 * sink is slow. The CLI stops reading, keeps delivering for `--drain-timeout`,
 * dead-letters what is left and exits 143. Every id the producer wrote is then
 * exactly one of: delivered, dead-lettered, or never read. A second signal exits
 * at once, and then `lost` is exactly the number of ids in neither place.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { collect, expectBalanced, seqsOf, spawnCli, statsOf, tempDir, waitForOutput } from '../helpers/cli';
import {
  account,
  FAULT_CONSUMER,
  idsInFile,
  lineCount,
  logRun,
  produceInto,
  type Producer,
  range,
  readDeadLetters,
  waitUntil,
} from '../helpers/faults';
import { closeServer, listenLocal } from '../helpers/local-server';

/** More than can be read before the signal: the producer is still writing when it comes. */
const MAX_LINES = 2_000_000;
const BATCH = 20;

/** The CLI in front of `sink`, dead-lettering into `dlq`, with `--stats` for the account. */
function spawnSinkCli(sink: string, maxBuffer: number, drainTimeoutMs: number, dlq: string): ChildProcess {
  const args = ['--max-buffer', String(maxBuffer), '--batch-size', String(BATCH), '--sink', sink];
  return spawnCli([...args, '--drain-timeout', String(drainTimeoutMs), '--dead-letter', dlq, '--stats']);
}

/** What a run left: its summary, its dead-letter file, and where every id the producer wrote ended up. */
function accountsOf(stderr: string, dlq: string, producer: Producer, delivered: number[]) {
  const stats = statsOf(stderr);
  const dead = readDeadLetters(dlq);
  const report = account({
    read: stats.read,
    total: producer.generated(),
    delivered,
    deadLettered: [...dead.undeliverable, ...dead.truncated],
  });
  return { stats, dead, report };
}

describe('fault injection: SIGTERM mid-load', () => {
  test('slow HTTP sink: drains, dead-letters the rest at --drain-timeout, exits 143; every id delivered, dead-lettered or unread', async () => {
    /** Requests answered after the signal; every later one hangs, so the drain deadline always has work to give up on. */
    const ANSWERED_AFTER_SIGNAL = 2;
    let signalled = false;
    let answeredAfterSignal = 0;
    const delivered: number[][] = [];
    const hung: ServerResponse[] = [];
    let abortedRequests = 0;
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const ids = seqsOf(Buffer.concat(chunks).toString('utf8'));
        if (signalled && answeredAfterSignal >= ANSWERED_AFTER_SIGNAL) {
          hung.push(res);
          res.on('close', () => abortedRequests++); // the CLI gave up on it: never processed
          return;
        }
        setTimeout(() => {
          if (res.destroyed) return;
          if (signalled) answeredAfterSignal++;
          res.writeHead(200).end();
          delivered.push(ids);
        }, 30);
      });
    });
    const url = `http://127.0.0.1:${await listenLocal(server)}/ingest`;
    const { dir, cleanup } = tempDir('bp-fault-term-');
    try {
      const dlq = join(dir, 'dead.ndjson');
      const cli = spawnSinkCli(url, 200, 800, dlq);
      const result = collect(cli);
      const producer = produceInto(cli.stdin!, MAX_LINES);
      await waitUntil('5 batches delivered', () => delivered.length >= 5);
      signalled = true;
      cli.kill('SIGTERM');
      const r = await result;
      await producer.stopped;

      const { stats, dead, report } = accountsOf(r.stderr, dlq, producer, delivered.flat());
      logRun('sigterm-http', {
        exit: r.code,
        generated: producer.generated(),
        read: stats.read,
        delivered: report.delivered,
        deliveredAfterSignal: answeredAfterSignal * BATCH,
        deadLettered: report.deadLettered,
        cutLine: dead.truncated.length,
        unread: report.unread,
        abortedRequests,
      });

      expect(r.code).toBe(143);
      expect(r.stderr).toMatch(/SIGTERM: stopped reading; draining for up to 800 ms/);
      expectBalanced(stats);
      // The hung request was given up on at the deadline: something is always dead-lettered.
      expect(stats.deadLettered).toBeGreaterThan(0);
      expect(r.stderr).toMatch(new RegExp(`${stats.deadLettered} records undeliverable, written to `));
      expect(stats.read).toBeLessThan(producer.generated()); // it stopped reading; the rest is still in the pipe

      // Every id exactly once: delivered, dead-lettered, or unread — and nothing else.
      expect(report.missing).toEqual([]);
      expect(report.unknown).toEqual([]);
      expect(report.duplicates.size).toBe(0); // nothing was retried: no id twice
      expect(dead.undeliverable).toHaveLength(stats.deadLettered);
      // A line cut in half by the stop, if any, is truncated-at-stop — not blamed as invalid.
      expect(dead.truncated).toHaveLength(stats.truncated);
      expect(stats.truncated).toBeLessThanOrEqual(1);
      expect(dead.invalid).toEqual([]);
      expect(stats.invalid).toBe(0);
      // In order: the server processed ids 0 .. d-1; the dead letters are the rest of what was read.
      const d = report.delivered;
      expect(delivered.flat()).toEqual(range(0, d));
      expect([...dead.undeliverable, ...dead.truncated].sort((a, b) => a - b)).toEqual(
        range(stats.flushed, stats.read),
      );
      // The hung request was never processed, so its ids are only dead-lettered. The one allowed overlap
      // (at-least-once) is a batch the server answered while the deadline passed before the CLI read the
      // answer: then the CLI dead-lettered what the server has. On an idle machine d === flushed.
      expect(report.both).toEqual(range(stats.flushed, d));
      expect(d - stats.flushed).toBeLessThanOrEqual(BATCH);
      expect(report.delivered + report.deadLettered - report.both.length + (report.unread ?? -1)).toBe(
        producer.generated(),
      );
    } finally {
      for (const res of hung) res.destroy();
      await closeServer(server);
      cleanup();
    }
  });

  test('a second signal while the drain is stuck: exits 130 at once; `lost` is exactly the ids neither delivered nor dead-lettered', async () => {
    let signalled = false;
    const delivered: number[][] = [];
    const hung: ServerResponse[] = [];
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const ids = seqsOf(Buffer.concat(chunks).toString('utf8'));
        if (signalled) {
          hung.push(res); // after the first signal nothing is answered: the drain cannot finish
          return;
        }
        setTimeout(() => {
          if (res.destroyed) return;
          if (signalled) {
            hung.push(res); // arrived before the signal, answered after it: no more answers
            return;
          }
          res.writeHead(200).end();
          delivered.push(ids);
        }, 30);
      });
    });
    const url = `http://127.0.0.1:${await listenLocal(server)}/ingest`;
    const { dir, cleanup } = tempDir('bp-fault-term2-');
    try {
      const dlq = join(dir, 'dead.ndjson');
      const cli = spawnSinkCli(url, 200, 60_000, dlq);
      const result = collect(cli);
      const producer = produceInto(cli.stdin!, MAX_LINES);
      await waitUntil('3 batches delivered', () => delivered.length >= 3);
      signalled = true;
      cli.kill('SIGTERM');
      await waitForOutput(cli.stderr!, /draining for up to 60000 ms/);
      cli.kill('SIGINT');
      const r = await result;
      await producer.stopped;

      const { stats, dead, report } = accountsOf(r.stderr, dlq, producer, delivered.flat());
      logRun('second-signal', {
        exit: r.code,
        generated: producer.generated(),
        read: stats.read,
        delivered: report.delivered,
        deadLettered: report.deadLettered,
        lost: stats.lost,
        unread: report.unread,
      });

      expect(r.code).toBe(130);
      expect(r.stderr).toMatch(
        new RegExp(`SIGINT: exiting now without draining; ${stats.lost} records neither delivered nor dead-lettered`),
      );
      expect(stats.read).toBe(stats.valid + stats.invalid + stats.truncated);
      expect(stats.valid).toBe(stats.flushed + stats.dropped + stats.deadLettered + stats.lost);
      expect(stats.lost).toBeGreaterThan(0); // the hung batch at least
      expect(report.unknown).toEqual([]);
      expect(report.duplicates.size).toBe(0);
      expect(report.both).toEqual([]);
      expect(dead.undeliverable).toHaveLength(stats.deadLettered);
      expect(dead.truncated).toHaveLength(stats.truncated);
      // The server processed ids 0 .. d-1, in order. The CLI counts as flushed those whose answer it
      // read before it was forced out: all of them, or all but the one batch whose answer was still
      // on its way (at-least-once: that batch is counted as lost although the server has it).
      const d = report.delivered;
      expect(delivered.flat()).toEqual(range(0, d));
      expect(d).toBeGreaterThanOrEqual(stats.flushed);
      expect(d - stats.flushed).toBeLessThanOrEqual(BATCH);
      // Honest accounting: what is in neither place is exactly what the CLI reports as lost
      // (less that one batch, if the server has it).
      expect(report.missing).toEqual(range(d, stats.read).filter((id) => !dead.truncated.includes(id)));
      expect(report.missing.length + (d - stats.flushed)).toBe(stats.lost);
    } finally {
      for (const res of hung) res.destroy();
      await closeServer(server);
      cleanup();
    }
  });

  test('exec: slow consumer: exits 143 once the child has read everything; every id read by the child, dead-lettered, or unread; overlap only in the batch cut off', async () => {
    const { dir, cleanup } = tempDir('bp-fault-term-exec-');
    try {
      const dlq = join(dir, 'dead.ndjson');
      const out = join(dir, 'consumed.ndjson');
      writeFileSync(`${out}.slow`, ''); // the consumer reads 1 KiB per 20 ms until this goes
      const sink = `exec:exec "${process.execPath}" "${FAULT_CONSUMER}" "${out}" 20 1024`;
      const cli = spawnSinkCli(sink, 500, 300, dlq);
      const result = collect(cli);
      const producer = produceInto(cli.stdin!, MAX_LINES);
      await waitUntil('the consumer to have read 500 lines', () => lineCount(out) >= 500);
      cli.kill('SIGTERM');
      // At the drain deadline the CLI gives up on what is left; from then on the child may read at full speed.
      await waitForOutput(cli.stderr!, /not delivered within --drain-timeout 300 ms/);
      rmSync(`${out}.slow`, { force: true });
      const r = await result;
      await producer.stopped;
      // The CLI ended the child's stdin after the last whole line, and waited for it to finish.
      expect(existsSync(`${out}.done`)).toBe(true);
      expect(existsSync(`${out}.partial`)).toBe(false);

      const consumed = idsInFile(out);
      const { stats, dead, report } = accountsOf(r.stderr, dlq, producer, consumed);
      logRun('sigterm-exec', {
        exit: r.code,
        generated: producer.generated(),
        read: stats.read,
        flushed: stats.flushed,
        consumed: consumed.length,
        deadLettered: report.deadLettered,
        alsoConsumed: report.both.length,
        cutLine: dead.truncated.length,
        unread: report.unread,
      });

      expect(r.code).toBe(143);
      expect(r.stderr).toMatch(/SIGTERM: stopped reading; draining for up to 300 ms/);
      expectBalanced(stats);
      expect(stats.read).toBeLessThan(producer.generated());
      expect(stats.deadLettered).toBeGreaterThan(0);
      expect(report.missing).toEqual([]);
      expect(report.unknown).toEqual([]);
      expect(report.duplicates.size).toBe(0);
      // The child read, in order, everything the CLI wrote into its pipe ...
      expect(consumed).toEqual(range(0, consumed.length));
      expect(consumed.length).toBeGreaterThanOrEqual(stats.flushed);
      // ... and the dead letters are exactly the rest of what was read.
      expect([...dead.undeliverable, ...dead.truncated].sort((a, b) => a - b)).toEqual(
        range(stats.flushed, stats.read),
      );
      // At-least-once, bounded: the batch being written at the deadline was dead-lettered, yet part of it
      // may already have been in the pipe. Only that batch may be on both sides.
      expect(report.both).toEqual(range(stats.flushed, consumed.length));
      expect(report.both.length).toBeLessThanOrEqual(BATCH);
    } finally {
      killLeftover(join(dir, 'consumed.ndjson'));
      cleanup();
    }
  });

  test('exec: a child that stops reading during the shutdown is terminated; what it may not have read is reported as possibly-undelivered', async () => {
    const { dir, cleanup } = tempDir('bp-fault-term-exec-stall-');
    try {
      const dlq = join(dir, 'dead.ndjson');
      const out = join(dir, 'consumed.ndjson');
      writeFileSync(`${out}.slow`, ''); // the consumer reads 1 KiB per 2 ms until this goes
      const sink = `exec:exec "${process.execPath}" "${FAULT_CONSUMER}" "${out}" 2 1024`;
      const cli = spawnSinkCli(sink, 500, 300, dlq);
      const result = collect(cli);
      const producer = produceInto(cli.stdin!, MAX_LINES);
      await waitUntil('the consumer to have read 500 lines', () => lineCount(out) >= 500);
      // The consumer stops reading (after at most one more chunk) and never resumes: the pipe stays full.
      writeFileSync(`${out}.stall`, '');
      cli.kill('SIGTERM');
      const r = await result;
      await producer.stopped;
      const consumerPid = Number(readFileSync(`${out}.pid`, 'utf8'));
      expect(() => process.kill(consumerPid, 0)).toThrow(/ESRCH/); // terminated: the CLI did not leave it behind

      const consumed = idsInFile(out);
      const { stats, dead, report } = accountsOf(r.stderr, dlq, producer, consumed);
      logRun('sigterm-exec-stalled', {
        exit: r.code,
        read: stats.read,
        flushed: stats.flushed,
        consumed: consumed.length,
        deadLettered: report.deadLettered,
        possiblyUndelivered: stats.possiblyUndelivered,
      });

      expect(r.code).toBe(143);
      expect(r.stderr).toMatch(/the child stopped reading; terminating it/);
      expectBalanced(stats);
      expect(stats.deadLettered).toBeGreaterThan(0);
      expect(report.unknown).toEqual([]);
      expect(report.duplicates.size).toBe(0);
      expect(consumed).toEqual(range(0, consumed.length)); // whole lines, in order (fault-consumer keeps only complete lines)
      expect([...dead.undeliverable, ...dead.truncated].sort((a, b) => a - b)).toEqual(
        range(stats.flushed, stats.read),
      );
      expect(report.both).toEqual(range(stats.flushed, Math.max(stats.flushed, consumed.length)));
      expect(report.both.length).toBeLessThanOrEqual(BATCH);
      // Flushed into the pipe but never read by the terminated child: each one reported, not silently "delivered".
      const inPipe = range(consumed.length, stats.flushed);
      expect(report.missing).toEqual(inPipe);
      expect(dead.possiblyUndelivered).toHaveLength(stats.possiblyUndelivered);
      const reported = new Set(dead.possiblyUndelivered);
      expect(inPipe.filter((id) => !reported.has(id))).toEqual([]);
    } finally {
      rmSync(join(dir, 'consumed.ndjson.stall'), { force: true });
      killLeftover(join(dir, 'consumed.ndjson'));
      cleanup();
    }
  });
});

/** Safety net when an assertion failed early: the orphaned consumer must not outlive the test. */
function killLeftover(out: string): void {
  if (!existsSync(`${out}.pid`) || existsSync(`${out}.done`)) return;
  try {
    process.kill(Number(readFileSync(`${out}.pid`, 'utf8')), 'SIGKILL');
  } catch {
    // already gone
  }
}
