/**
 * A reader that is alive but never reads — an exec: child, or the process behind stdout — must not
 * keep the CLI running once everything has been given up on: the CLI exits non-zero with its
 * summary. A child is terminated (SIGTERM to its process group); stdout's reader is left alone.
 * Signal handlers stay installed until the summary is out, so Ctrl-C while the sink closes still
 * reports.
 *
 * Each stuck reader here lives for 10 minutes: if the CLI waited for it, the test would time out.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, collect, expectBalanced, spawnCli, statsOf, tempDir } from '../helpers/cli';
import { waitUntil } from '../helpers/faults';

/** `n` lines of about 1 KiB: far more than a pipe holds. */
function kiloLines(n: number): string {
  let out = '';
  for (let seq = 0; seq < n; seq++) out += `{"seq":${seq},"pad":"${'x'.repeat(1000)}"}\n`;
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('backpressure CLI: a reader that never reads', () => {
  test('exec: a child that never reads is terminated once everything is dead-lettered: exit 1, --stats, every record accounted for', async () => {
    const { dir, cleanup } = tempDir('bp-stuck-exec-');
    try {
      const dlq = join(dir, 'dead.ndjson');
      const pidFile = join(dir, 'child.pid');
      const cli = spawnCli([
        '--sink',
        `exec:echo $$ > '${pidFile}'; exec sleep 600`,
        '--flush-timeout',
        '200',
        '--retries',
        '0',
        '--stats',
        '--dead-letter',
        dlq,
      ]);
      const result = collect(cli);
      cli.stdin!.end(kiloLines(2000));
      const r = await result;

      expect(r.code).toBe(1);
      const stats = statsOf(r.stderr);
      expectBalanced(stats);
      expect(stats.read).toBe(2000);
      expect(stats.deadLettered).toBeGreaterThan(0);
      expect(r.stderr).toMatch(/the child stopped reading; terminating it/);
      expect(r.stderr).toMatch(/stopped reading and was terminated \(signal SIGTERM\)/);
      // What went into the pipe but was never read is reported, not counted as delivered and forgotten.
      expect(stats.possiblyUndelivered).toBe(stats.flushed);
      const entries = readFileSync(dlq, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { reason: string });
      expect(entries.filter((e) => e.reason === 'undeliverable')).toHaveLength(stats.deadLettered);
      expect(entries.filter((e) => e.reason === 'possibly-undelivered')).toHaveLength(stats.possiblyUndelivered);
      // The child is gone: the CLI did not leave it behind.
      const pid = Number(readFileSync(pidFile, 'utf8'));
      await waitUntil('the child to be reaped', () => !alive(pid));
    } finally {
      cleanup();
    }
  });

  test('stdout read by a process that never reads (| sleep 600): exit 1 with --stats once everything is dead-lettered, the reader still alive', async () => {
    const reader = spawn('sleep', ['600'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const readerExit = new Promise<void>((resolve) => reader.on('close', () => resolve()));
    try {
      const cli = spawn(process.execPath, [CLI, '--flush-timeout', '200', '--retries', '0', '--stats'], {
        stdio: ['pipe', reader.stdin!, 'pipe'],
      });
      reader.stdin!.destroy();
      const result = collect(cli);
      cli.stdin!.end(kiloLines(2000));
      const r = await result;

      expect(reader.exitCode).toBeNull(); // the CLI did not wait for it
      expect(r.code).toBe(1);
      const stats = statsOf(r.stderr);
      expectBalanced(stats);
      expect(stats.read).toBe(2000);
      expect(stats.deadLettered).toBeGreaterThan(0);
      expect(r.stderr).toMatch(/stdout: its reader did not take .* within 5000 ms; not waiting for it any longer/);
      expect(r.stderr).toMatch(new RegExp(`${stats.deadLettered} records undeliverable and discarded`));
    } finally {
      reader.kill('SIGKILL');
      await readerExit;
    }
  });

  test('Ctrl-C while an exec: child finishes after its EOF: the summary is still printed, the child ended at --drain-timeout, exit 130', async () => {
    const { dir, cleanup } = tempDir('bp-stuck-close-');
    try {
      const out = join(dir, 'out.ndjson');
      const done = join(dir, 'read-all');
      // Reads everything, then keeps running: the CLI has ended its stdin and waits for its exit.
      const cli = spawnCli([
        '--sink',
        `exec:cat > '${out}'; touch '${done}'; exec sleep 600`,
        '--drain-timeout',
        '300',
        '--stats',
      ]);
      const result = collect(cli);
      cli.stdin!.end(kiloLines(100));
      await waitUntil('the child to have read everything', () => existsSync(done));
      cli.kill('SIGINT');
      const r = await result;

      expect(r.code).toBe(130);
      expect(r.stderr).toMatch(/SIGINT: stopped reading; draining for up to 300 ms/);
      expect(r.stderr).toMatch(/did not finish within --drain-timeout 300 ms; terminating it/);
      const stats = statsOf(r.stderr);
      expectBalanced(stats);
      expect(stats).toMatchObject({ read: 100, flushed: 100, deadLettered: 0 });
      expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(100);
    } finally {
      cleanup();
    }
  });
});
