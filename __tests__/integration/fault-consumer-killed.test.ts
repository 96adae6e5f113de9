/**
 * Fault injection, scenario 3: the consumer is SIGKILLed mid-stream — the reader
 * of the CLI's stdout (EPIPE), and the child of an `exec:` sink. The consumer
 * appends every line it reads to a file (synchronously), so after the kill the
 * file is exactly what it received.
 *
 * What the CLI guarantees (lib/sinks/stream-sink.ts): a batch counts as flushed
 * once the OS has taken all of its bytes (the write callback, plus 'drain' when
 * write() returned false). It cannot see what the reader did with them, so:
 * - ids 0 .. flushed-1 were written into the pipe, in order;
 * - the batch whose write failed (EPIPE / child gone) and everything held after
 *   it is dead-lettered: ids flushed .. read-1, a line cut by the stop included;
 * - ids from `read` on were never read;
 * - the consumer read a prefix 0 .. c-1. If c > flushed, the extra ids come from
 *   the batch that failed part-way (at-least-once: also dead-lettered). If
 *   c < flushed, ids c .. flushed-1 were in the pipe when the reader died: the
 *   CLI counts them as flushed, and reports them — the last ≥ 1 MiB it wrote —
 *   in --dead-letter as "possibly-undelivered" (stats: possiblyUndelivered).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chain, collect, expectBalanced, spawnCli, statsOf, tempDir, type Stats } from '../helpers/cli';
import {
  account,
  FAULT_CONSUMER,
  idsInFile,
  inputLine,
  lineCount,
  logRun,
  produceInto,
  range,
  readDeadLetters,
  waitUntil,
  type LedgerReport,
} from '../helpers/faults';

const BATCH = 50;
/** Lines the consumer must have read before it is killed. */
const KILL_AFTER = 2000;
/**
 * Most bytes that can sit between the CLI and a dead reader: the socket pair
 * node's spawn() creates (send + receive buffers, ~208 KiB each by default on
 * Linux) plus one batch in flight. Generous on purpose: it bounds, it does not time.
 */
const IN_PIPE_BOUND_BYTES = 1024 * 1024;

interface Run {
  stats: Stats;
  /** Ids the CLI reported as possibly undelivered (flushed into the pipe of the reader that died). */
  possiblyUndelivered: number[];
  report: LedgerReport;
  consumed: number[];
  deadIds: number[];
  /** Ids flushed by the CLI that the consumer never read (in the pipe when it died). */
  inPipe: number[];
}

function ledgerOf(stderr: string, out: string, dlq: string, total?: number): Run {
  const stats = statsOf(stderr);
  const dead = readDeadLetters(dlq);
  const consumed = idsInFile(out);
  const deadIds = [...dead.undeliverable, ...dead.invalid, ...dead.truncated].sort((a, b) => a - b);
  const report = account({
    read: stats.read,
    ...(total === undefined ? {} : { total }),
    delivered: consumed,
    deadLettered: deadIds,
  });
  expect(dead.undeliverable).toHaveLength(stats.deadLettered);
  expect(dead.invalid).toHaveLength(stats.invalid);
  expect(dead.truncated).toHaveLength(stats.truncated); // the line reading stopped in, if any: not blamed as invalid
  expect(dead.possiblyUndelivered).toHaveLength(stats.possiblyUndelivered);
  return {
    stats,
    report,
    consumed,
    deadIds,
    possiblyUndelivered: dead.possiblyUndelivered,
    inPipe: range(consumed.length, stats.flushed),
  };
}

/** The guarantee above, asserted id by id. */
function expectStreamGuarantee(run: Run): void {
  const { stats, report, consumed, deadIds, inPipe } = run;
  expectBalanced(stats);
  expect(stats.deadLettered).toBeGreaterThan(0); // the write after the kill failed, and more was held
  expect(report.unknown).toEqual([]);
  expect(report.duplicates.size).toBe(0); // nothing retried into a dead sink
  expect(consumed).toEqual(range(0, consumed.length)); // the consumer saw a prefix, in order
  expect(deadIds).toEqual(range(stats.flushed, stats.read)); // dead letters: exactly the rest of what was read
  expect(report.both).toEqual(range(stats.flushed, Math.max(stats.flushed, consumed.length))); // only the batch cut off ...
  expect(report.both.length).toBeLessThanOrEqual(BATCH); // ... which is at most one batch
  expect(report.missing).toEqual(inPipe); // the only ids in neither place: flushed into the pipe, never read ...
  // ... and every one of them is reported, in --dead-letter, as possibly undelivered (at-least-once: the
  // report is the last ≥ 1 MiB written, so it may also hold ids the consumer did read).
  const reported = new Set(run.possiblyUndelivered);
  expect(inPipe.filter((id) => !reported.has(id))).toEqual([]);
  expect(run.possiblyUndelivered).toEqual(range(stats.flushed - run.possiblyUndelivered.length, stats.flushed)); // the tail, in order
  let inPipeBytes = 0;
  for (const id of inPipe) inPipeBytes += inputLine(id).length;
  expect(inPipeBytes).toBeLessThanOrEqual(IN_PIPE_BOUND_BYTES);
}

async function killExecConsumerMidStream(dir: string) {
  const dlq = join(dir, 'dead.ndjson');
  const out = join(dir, 'consumed.ndjson');
  writeFileSync(`${out}.slow`, '');
  const sink = `exec:exec "${process.execPath}" "${FAULT_CONSUMER}" "${out}" 2 1024`;
  const cli = spawnCli([
    '--batch-size',
    String(BATCH),
    '--max-buffer',
    '1000',
    '--sink',
    sink,
    '--dead-letter',
    dlq,
    '--stats',
  ]);
  const result = collect(cli);
  const producer = produceInto(cli.stdin!, 2_000_000);
  await waitUntil(`the consumer to have read ${KILL_AFTER} lines`, () => lineCount(out) >= KILL_AFTER);
  const pid = Number(readFileSync(`${out}.pid`, 'utf8'));
  process.kill(pid, 'SIGKILL');
  const r = await result;
  await producer.stopped;
  return { r, out, dlq, total: producer.generated() };
}

describe('fault injection: the consumer is killed mid-stream', () => {
  test('stdout | consumer, consumer SIGKILLed: EPIPE, exit 1; every id consumed, dead-lettered, unread, or in the dead pipe', async () => {
    const { dir, cleanup } = tempDir('bp-fault-kill-');
    try {
      const dlq = join(dir, 'dead.ndjson');
      const out = join(dir, 'consumed.ndjson');
      writeFileSync(`${out}.slow`, '');
      const c = chain({
        lines: 200_000,
        cliArgs: ['--batch-size', String(BATCH), '--max-buffer', '1000', '--dead-letter', dlq, '--stats'],
        consumer: [process.execPath, FAULT_CONSUMER, out, '2', '1024'],
      });
      await waitUntil(`the consumer to have read ${KILL_AFTER} lines`, () => lineCount(out) >= KILL_AFTER);
      c.consumer.kill('SIGKILL');
      const [cli] = await Promise.all([c.cliResult, c.consumerResult, c.producerExit]);
      const run = ledgerOf(cli.stderr, out, dlq);
      logRun('kill-stdout-consumer', {
        exit: cli.code,
        read: run.stats.read,
        flushed: run.stats.flushed,
        consumed: run.consumed.length,
        inPipeAtKill: run.inPipe.length,
        alsoConsumed: run.report.both.length,
        deadLettered: run.stats.deadLettered,
        cutLine: run.stats.truncated,
      });

      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(/sink stdout is gone: .*\((EPIPE|ECONNRESET)\)/);
      expect(cli.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(run.stats.read).toBeLessThan(200_000); // it stopped reading
      expectStreamGuarantee(run);
    } finally {
      cleanup();
    }
  });

  test('exec: child SIGKILLed: sink gone, exit 1; every id consumed, dead-lettered, unread, or in the dead pipe', async () => {
    const { dir, cleanup } = tempDir('bp-fault-kill-exec-');
    try {
      const { r, out, dlq, total } = await killExecConsumerMidStream(dir);
      const run = ledgerOf(r.stderr, out, dlq, total);
      logRun('kill-exec-child', {
        exit: r.code,
        generated: total,
        read: run.stats.read,
        flushed: run.stats.flushed,
        consumed: run.consumed.length,
        inPipeAtKill: run.inPipe.length,
        alsoConsumed: run.report.both.length,
        deadLettered: run.stats.deadLettered,
        cutLine: run.stats.truncated,
        unread: run.report.unread,
      });

      expect(r.code).toBe(1);
      // The exit status normally arrives with the EPIPE; if it is late (> 1 s), the sink reports the closed stdin.
      expect(r.stderr).toMatch(
        /sink exec:.* is gone: .*(child exited before close\(\) \(signal SIGKILL\)|child closed its stdin)/,
      );
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(run.stats.read).toBeLessThan(total);
      expectStreamGuarantee(run);
    } finally {
      cleanup();
    }
  });
});
