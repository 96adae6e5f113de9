/**
 * A full disk with --buffer-dir blocks reading stdin — the pipe pushes back on the producer — and never
 * crashes or drops: the bound (--max-disk-bytes), and a real ENOSPC on a small tmpfs (mounted for the
 * test: needs root, as in CI; elsewhere skipped, and the test's name says why). Once the consumer reads,
 * everything arrives, in order, exit 0.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chain, consumerReport, expectBalanced, statsOf, tempDir, whenStalled, type Chain } from '../helpers/cli';
import { segmentBytes, segmentFiles, stopChains, until } from '../helpers/cli-buffer-dir';

const LINES = 60_000; // ~4 MiB of NDJSON

let dir: string;
let cleanup: () => void;
const chains: Chain[] = [];
beforeEach(() => ({ dir, cleanup } = tempDir('bp-bufdir-full-')));
afterEach(() => {
  stopChains(chains.splice(0)); // a failed test must not leave a consumer waiting for SIGUSR1 forever
  cleanup();
});

function mountTmpfs(at: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', at], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const probe = tempDir('bp-tmpfs-probe-');
const canMount = process.getuid?.() === 0 && mountTmpfs(probe.dir, '1m');
if (canMount) execFileSync('umount', [probe.dir]);
probe.cleanup();
const whyNot = canMount ? '' : ' (SKIPPED: mounting a tmpfs needs root with CAP_SYS_ADMIN)';

/**
 * producer | backpressure --buffer-dir BUF | a consumer that reads nothing until SIGUSR1: waits until the
 * run is blocked with the disk full (`isFull`), checks it is alive and the producer held back, then
 * lets the consumer read and checks that every line arrived.
 */
async function blockThenResume(
  buf: string,
  cliArgs: string[],
  isFull: () => boolean,
  whileHeld: () => void = () => undefined,
): Promise<void> {
  const c = chain({
    lines: LINES,
    cliArgs: ['--stats', '--buffer-dir', buf, '--max-line-bytes', '1000', '--max-buffer', '1000', ...cliArgs],
    consumer: [process.execPath, require.resolve('../fixtures/consume.js'), '0', '65536'],
    consumerEnv: { WAIT_FOR_SIGNAL: '1' },
  });
  chains.push(c);
  await until(isFull, 'the disk to fill up');
  // Until the consumer's pipe is full too, delivering frees a segment now and then (the stream stays
  // blocked above its low watermark, so the log need not fill to the byte again): wait until it is held.
  const held = await whenStalled(c.produced);
  expect(held).toBeLessThan(LINES); // the producer is held back by the pipe: stdin is not being read
  expect(c.produced()).toBe(held);
  expect(c.cli.exitCode).toBeNull(); // blocked, not crashed
  whileHeld();

  c.consumer.kill('SIGUSR1');
  const consumer = consumerReport(await c.consumerResult);
  const cli = await c.cliResult;
  expect(await c.producerExit).toBe(0);
  expect(cli.code).toBe(0);
  expect(consumer).toEqual({ lines: LINES, increasing: true });
  const stats = statsOf(cli.stderr);
  expectBalanced(stats);
  expect(stats).toMatchObject({ read: LINES, flushed: LINES, deadLettered: 0, leftOnDisk: 0, itemsOnDisk: 0 });
  expect(segmentFiles(buf)).toEqual([]);
}

describe('backpressure --buffer-dir: a full disk blocks the producer, then everything arrives', () => {
  test('--max-disk-bytes reached: reading stops with the log within its bound; it resumes as the consumer reads', async () => {
    const buf = join(dir, 'buf');
    const max = 128 * 1024;
    await blockThenResume(
      buf,
      ['--max-disk-bytes', String(max)],
      () => segmentBytes(buf) > max - 200,
      () => expect(segmentBytes(buf)).toBeLessThanOrEqual(max),
    );
  }, 60_000);

  (canMount ? test : test.skip)(
    `a real ENOSPC (a 1 MiB tmpfs, --max-disk-bytes far above it): blocked, never a crash; it resumes as the consumer reads${whyNot}`,
    async () => {
      const mnt = join(dir, 'mnt');
      mkdirSync(mnt);
      if (!mountTmpfs(mnt, '1m')) throw new Error('mounting the tmpfs failed');
      try {
        const buf = join(mnt, 'buf');
        // Full: the segment stopped growing short of what the filesystem holds (its last commit refused).
        let last = -1;
        await blockThenResume(buf, ['--max-disk-bytes', String(64 * 1024 * 1024)], () => {
          const now = segmentBytes(buf);
          const full = now > 900 * 1024 && now === last;
          last = now;
          return full;
        });
      } finally {
        execFileSync('umount', [mnt]);
      }
    },
    60_000,
  );
});
