/**
 * Signals with --buffer-dir: what was accepted is on disk, so a run stopped by SIGTERM/SIGINT delivers
 * for up to --drain-timeout and then leaves the rest in the directory for the next run — instead of
 * dead-lettering it as a run without --buffer-dir does. A second signal exits at once and still
 * leaves what is held on disk (the log is closed first, bounded). The next run, with empty input,
 * delivers that backlog: every line read by the first run reaches the consumer of one run or the
 * other, in order, none lost.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  chain,
  consumerReport,
  expectBalanced,
  runCli,
  seqsOf,
  statsOf,
  tempDir,
  waitForOutput,
  whenStalled,
  type Chain,
} from '../helpers/cli';
import { lastSeqOnDisk, segmentBytes, segmentFiles, span, stopChains, until } from '../helpers/cli-buffer-dir';

let dir: string;
let cleanup: () => void;
let buf: string;
const chains: Chain[] = [];
beforeEach(() => {
  ({ dir, cleanup } = tempDir('bp-bufdir-sig-'));
  buf = join(dir, 'buf');
});
afterEach(() => {
  stopChains(chains.splice(0)); // a failed test must not leave a consumer waiting for SIGUSR1 forever
  cleanup();
});

/** producer | backpressure --buffer-dir (a 256 KiB log unless told) | a consumer that reads nothing until SIGUSR1. */
function stuckChain(cliArgs: string[], lines = 200_000): Chain {
  const c = chain({
    lines,
    cliArgs: [
      '--stats',
      '--buffer-dir',
      buf,
      '--max-line-bytes',
      '1000',
      '--max-buffer',
      '1000',
      '--dead-letter',
      join(dir, 'dead.ndjson'),
      ...(cliArgs.includes('--max-disk-bytes') ? [] : ['--max-disk-bytes', String(256 * 1024)]),
      ...cliArgs,
    ],
    consumer: [process.execPath, require.resolve('../fixtures/consume.js'), '0', '65536'],
    consumerEnv: { WAIT_FOR_SIGNAL: '1', KEEP_SEQS: '1' },
  });
  chains.push(c);
  return c;
}

function deadLetters(): Array<{ reason: string; record?: { seq: number } }> {
  const path = join(dir, 'dead.ndjson');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { reason: string; record?: { seq: number } });
}

/** The restart: empty stdin; returns the seqs it delivered, checked consecutive, and its stats. */
async function restart(): Promise<{ seqs: number[]; recovered: number }> {
  const r = await runCli(['--buffer-dir', buf, '--stats'], '');
  expect(r.code).toBe(0);
  const stats = statsOf(r.stderr);
  expectBalanced(stats);
  const seqs = seqsOf(r.stdout);
  expect(stats).toMatchObject({ read: 0, recovered: seqs.length, flushed: seqs.length, itemsOnDisk: 0 });
  if (seqs.length > 0) expect(seqs).toEqual(span(seqs[0] as number, (seqs[0] as number) + seqs.length));
  expect(segmentFiles(buf)).toEqual([]);
  return { seqs, recovered: stats.recovered as number };
}

describe('backpressure --buffer-dir: SIGTERM and SIGINT leave the backlog on disk', () => {
  // SIGINT takes the same path (lib/cli/shutdown.ts traps both alike): the log-full case below sends it.
  test.each(['SIGTERM'] as const)(
    '%s with a stuck consumer: drain for --drain-timeout, then leave the rest on disk, nothing dead-lettered; the next run delivers it',
    async (signal) => {
      // A log large enough for the whole input: the run reads it all, then the signal comes.
      const c = stuckChain(['--drain-timeout', '300', '--max-disk-bytes', String(64 * 1024 * 1024)], 20_000);
      await until(() => lastSeqOnDisk(buf) === 19_999, 'the whole input in the log');
      c.cli.kill(signal);
      const cli = await c.cliResult;
      c.consumer.kill('SIGUSR1');
      const consumer = consumerReport(await c.consumerResult);
      await c.producerExit;

      expect(cli.code).toBe(143);
      expect(cli.stderr).toMatch(
        new RegExp(`${signal}: stopped reading; draining for up to 300 ms, then leaving the rest in --buffer-dir`),
      );
      const stats = statsOf(cli.stderr);
      expectBalanced(stats);
      expect(stats.valid).toBe(20_000);
      expect(stats.leftOnDisk).toBeGreaterThan(0);
      expect(stats.itemsOnDisk).toBe(stats.leftOnDisk);
      // Nothing was dead-lettered: what was not delivered stayed on disk.
      expect(stats.deadLettered).toBe(0);
      expect(deadLetters()).toEqual([]);
      expect(cli.stderr).toContain(`${stats.itemsOnDisk} records left in --buffer-dir ${buf}`);

      const second = await restart();
      expect(second.recovered).toBe(stats.leftOnDisk);
      // Every line reached a consumer, in order: the first run's delivered a prefix, the restart carries
      // on from there (at-least-once: the batch being written at the stop may come twice).
      const first = consumer.seqs ?? [];
      expect(first).toEqual(span(0, first.length));
      const start = second.seqs[0] ?? first.length;
      expect(start).toBeLessThanOrEqual(first.length);
      expect(start + second.seqs.length).toBe(20_000);
    },
    60_000,
  );

  test('SIGINT while the log is full: what is on disk stays there; only the records still waiting for room (no copy on disk) are dead-lettered', async () => {
    const c = stuckChain(['--drain-timeout', '300']);
    // Blocked: the 256 KiB log is full, the consumer reads nothing. Full within two of the longest frames
    // (--max-line-bytes 1000 + a 24-byte header): the record that did not fit at the end of a segment, and
    // the one that does not fit now (with ~100-byte frames the two could leave more than 200 bytes).
    await until(() => segmentBytes(buf) > 256 * 1024 - 2 * (1000 + 24), 'the log to fill up');
    await whenStalled(c.produced);
    c.cli.kill('SIGINT');
    const cli = await c.cliResult;
    c.consumer.kill('SIGUSR1');
    const consumer = consumerReport(await c.consumerResult);
    await c.producerExit;

    expect(cli.code).toBe(130);
    const stats = statsOf(cli.stderr);
    expectBalanced(stats);
    expect(stats.read).toBeLessThan(200_000);
    expect(stats.leftOnDisk).toBeGreaterThan(0);
    // The newest records, which have no copy on disk: the one waiting in the stream for room, and those the
    // splitter still held from the last read of stdin (the stream was blocked).
    const dead = deadLetters()
      .filter((e) => e.reason === 'undeliverable')
      .map((e) => e.record?.seq as number);
    expect(dead).toHaveLength(stats.deadLettered);
    // (The record waiting for room goes through the stream's destroy, after the splitter's leftovers: sorted.)
    expect([...dead].sort((a, b) => a - b)).toEqual(span(stats.valid - stats.deadLettered, stats.valid));

    const second = await restart();
    expect(second.recovered).toBe(stats.leftOnDisk);
    const first = consumer.seqs ?? [];
    expect(first).toEqual(span(0, first.length));
    const start = second.seqs[0] ?? first.length;
    expect(start).toBeLessThanOrEqual(first.length);
    expect(start + second.seqs.length).toBe(stats.valid - stats.deadLettered);
  }, 60_000);

  test('a second signal exits without draining, and still leaves what is held on disk; the next run delivers it', async () => {
    const c = stuckChain(['--drain-timeout', '60000']);
    await whenStalled(c.produced);
    c.cli.kill('SIGTERM');
    await waitForOutput(c.cli.stderr!, /stopped reading/);
    c.cli.kill('SIGTERM');
    const cli = await c.cliResult;
    c.consumer.kill('SIGUSR1');
    const consumer = consumerReport(await c.consumerResult);
    await c.producerExit;

    expect(cli.code).toBe(143);
    expect(cli.stderr).toMatch(
      /SIGTERM: exiting now without draining; \d+ records neither delivered nor dead-lettered, \d+ left in --buffer-dir for the next run/,
    );
    const stats = statsOf(cli.stderr);
    expect(stats.read).toBe(stats.valid + stats.invalid + stats.truncated);
    expect(stats.leftOnDisk).toBeGreaterThan(0);
    // lost: read and never handed to the stream — at most what one read of stdin (64 KiB) held, ≥ 60-byte lines.
    expect(stats.lost).toBeGreaterThanOrEqual(0);
    expect(stats.lost).toBeLessThanOrEqual(Math.ceil(65_536 / 60));
    expect(stats.valid + (stats.recovered as number)).toBe(
      stats.flushed +
        stats.dropped +
        stats.deadLettered +
        (stats.corrupt as number) +
        (stats.leftOnDisk as number) +
        stats.lost,
    );

    const second = await restart();
    expect(second.recovered).toBe(stats.leftOnDisk);
    const first = consumer.seqs ?? [];
    expect(first).toEqual(span(0, first.length));
    // The line being written at the stop and the batch it was in may have reached the consumer too.
    const possibly = deadLetters()
      .filter((e) => e.reason === 'undeliverable' || e.reason === 'possibly-undelivered')
      .map((e) => e.record?.seq as number);
    const start = second.seqs[0] ?? first.length;
    const seen = new Set([...first, ...second.seqs, ...possibly]);
    for (const seq of span(0, stats.valid - stats.lost)) if (!seen.has(seq)) throw new Error(`seq ${seq} was lost`);
    // The newest records had no copy on disk: those the splitter still held are lost (a forced exit does
    // not wait for them), the one waiting in the stream for room is dead-lettered.
    expect(start + second.seqs.length).toBe(stats.valid - stats.lost - stats.deadLettered);
  }, 60_000);
});
