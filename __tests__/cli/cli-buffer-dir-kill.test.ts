/**
 * kill -9 of `backpressure --buffer-dir` in the middle of a run — a producer feeding it through a real
 * pipe, a slow exec: sink behind it — then a restart on the same directory with empty input.
 *
 * What can be promised for stdin: the pipe's read is no acknowledgement to the producer, so the lines
 * the CLI had read but not yet written to its log, and those still in the pipe, die with it. What it
 * had written to the log survives a kill of the process (under every --sync mode; 'always'/'batch'
 * also a crash of the machine, once synced). So the test reads, once the killed process is gone, the
 * highest record whose frame is complete in the log's files, and checks after the restart:
 *  - the restart exits 0 (the lock of the killed run is taken over), reads nothing, delivers its
 *    backlog and leaves the directory empty; --stats balances (recovered === delivered);
 *  - each run delivered consecutive lines, in order; the restart starts at or before the line after
 *    the first run's last (no gap: duplicates at most, never a hole);
 *  - every line whose record was on disk at the kill was delivered, by one run or the other.
 * Duplicates (lines both runs delivered) are the records the first run had written into the sink's
 * pipe or delivered within its last checkpoint interval: at-least-once.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, collect, expectBalanced, FIXTURES, PRODUCE, spawnCli, statsOf, tempDir } from '../helpers/cli';
import { deliveredSeqs, lastSeqOnDisk, segmentFiles, span, until } from '../helpers/cli-buffer-dir';
import { mulberry32 } from '../helpers/seeded-random';

const SLOW_SINK = join(FIXTURES, 'slow-sink.js');
const LINES = 40_000;

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir('bp-bufdir-kill-')));
afterEach(() => cleanup());

interface KillCase {
  sync: 'always' | 'batch' | 'none';
  /** Kill once the first run has delivered this many lines… */
  afterDelivered: number;
  /** …and, with `wholeInputOnDisk`, once every line of the input is in the log. */
  wholeInputOnDisk?: boolean;
  seed: number;
}

async function killAndRestart(c: KillCase): Promise<void> {
  const buf = join(dir, 'buf');
  const out1 = join(dir, 'first.ndjson');
  const out2 = join(dir, 'second.ndjson');
  const random = mulberry32(c.seed);
  const cli = spawn(
    process.execPath,
    [
      CLI,
      '--buffer-dir',
      buf,
      '--sync',
      c.sync,
      '--max-buffer',
      '500',
      '--sink',
      `exec:${process.execPath} ${SLOW_SINK} ${out1} 2`,
    ],
    { stdio: ['pipe', 'ignore', 'pipe'] },
  );
  const cliExit = collect(cli);
  const producer = spawn(process.execPath, [PRODUCE, String(LINES), '20'], { stdio: ['ignore', cli.stdin!, 'ignore'] });
  const producerExit = new Promise((resolve) => producer.on('close', resolve));
  cli.stdin!.destroy();

  await until(() => deliveredSeqs(out1).length >= c.afterDelivered, `${c.afterDelivered} lines delivered`);
  if (c.wholeInputOnDisk === true) await until(() => lastSeqOnDisk(buf) === LINES - 1, 'the whole input in the log');
  else await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 300)));
  cli.kill('SIGKILL');
  expect((await cliExit).signal).toBe('SIGKILL');
  // Read once the process is gone: what its files hold now is what a kill -9 leaves (the page cache).
  const onDisk = lastSeqOnDisk(buf);
  await producerExit; // EPIPE once the CLI is gone
  await until(() => existsSync(`${out1}.done`), 'the sink child to read what the pipe held and exit');
  const first = deliveredSeqs(out1);
  if (c.wholeInputOnDisk === true) expect(onDisk).toBe(LINES - 1);
  expect(onDisk).toBeGreaterThanOrEqual(first.length - 1); // records are delivered from the log

  // The restart: stdin is /dev/null.
  const restart = spawnCli(['--buffer-dir', buf, '--sink', `file:${out2}`, '--stats'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const r = await collect(restart);
  expect(r.code).toBe(0);
  const second = deliveredSeqs(out2);
  const stats = statsOf(r.stderr);
  expectBalanced(stats);
  expect(stats).toMatchObject({ read: 0, recovered: second.length, flushed: second.length, corrupt: 0 });
  expect(stats).toMatchObject({ leftOnDisk: 0, itemsOnDisk: 0, bytesOnDisk: 0 });
  expect(segmentFiles(buf)).toEqual([]);

  const start = second[0] ?? first.length;
  expect(first).toEqual(span(0, first.length));
  expect(second).toEqual(span(start, start + second.length));
  expect(start).toBeLessThanOrEqual(first.length); // no hole between the runs
  const lastDelivered = Math.max(first.length - 1, start + second.length - 1);
  expect(lastDelivered).toBeGreaterThanOrEqual(onDisk); // nothing that was on disk is lost
}

describe('backpressure --buffer-dir: kill -9 mid-run, then a restart with < /dev/null', () => {
  test.each<KillCase>([
    { sync: 'batch', afterDelivered: 200, seed: 1 },
    { sync: 'batch', afterDelivered: 2000, seed: 2 },
    { sync: 'none', afterDelivered: 500, seed: 3 },
    { sync: 'always', afterDelivered: 100, seed: 4 },
  ])('--sync $sync, killed after $afterDelivered lines delivered (seed $seed)', (c) => killAndRestart(c), 60_000);

  test(
    'the whole input on disk at the kill: the restart delivers every line through the last',
    () => killAndRestart({ sync: 'batch', afterDelivered: 100, wholeInputOnDisk: true, seed: 5 }),
    60_000,
  );
});
