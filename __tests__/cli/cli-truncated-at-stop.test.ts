/**
 * A run that stops reading early (here: `| head -n 2`, the reader goes away) leaves one line read
 * only in part. That line is not invalid input: it is reported as `truncated-at-stop`, counted in
 * `truncated` (not in `invalid`), and its bytes are kept in --dead-letter.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, collect, expectBalanced, statsOf, tempDir } from '../helpers/cli';

/**
 * 100-byte lines: reads always end inside a line — the CLI reads a file on stdin in 1 MiB chunks
 * (1048576 = 10485 * 100 + 76), a pipe in 64 KiB ones (65536 = 655 * 100 + 36).
 */
const LINES = 30_000;
function line(seq: number): string {
  const head = `{"seq":${seq},"pad":"`;
  return `${head}${'x'.repeat(100 - head.length - 3)}"}\n`;
}

describe('backpressure CLI: the line reading stopped in is truncated-at-stop, not invalid', () => {
  test('| head -n 2: exit 1 (the reader went away), no invalid-json, the cut line kept as a prefix of itself', async () => {
    const { dir, cleanup } = tempDir('bp-truncated-');
    try {
      const inputPath = join(dir, 'input.ndjson');
      let text = '';
      for (let seq = 0; seq < LINES; seq++) text += line(seq);
      writeFileSync(inputPath, text);
      const dlq = join(dir, 'dead.ndjson');

      const head = spawn('head', ['-n', '2'], { stdio: ['pipe', 'pipe', 'inherit'] });
      const headResult = collect(head);
      const inputFd = openSync(inputPath, 'r');
      // A small buffer: reading blocks long before EOF, so the stop comes in the middle of the input.
      const cli = spawn(process.execPath, [CLI, '--max-buffer', '100', '--stats', '--dead-letter', dlq], {
        stdio: [inputFd, head.stdin!, 'pipe'],
      });
      closeSync(inputFd);
      head.stdin!.destroy();
      const [r, h] = await Promise.all([collect(cli), headResult]);

      expect(h.stdout).toBe(line(0) + line(1));
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/sink stdout is gone/);
      expect(r.stderr).not.toMatch(/invalid-json/);
      const stats = statsOf(r.stderr);
      expectBalanced(stats);
      expect(stats.read).toBeLessThan(LINES);
      expect(stats).toMatchObject({ invalid: 0, truncated: 1 });
      const cutLine = stats.read; // the last line read, in part
      expect(r.stderr).toMatch(
        new RegExp(`line ${cutLine}: truncated-at-stop: reading stopped after \\d+ bytes of it`),
      );

      const entries = readFileSync(dlq, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { line: number; reason: string; raw?: string });
      const cut = entries.filter((e) => e.reason === 'truncated-at-stop');
      expect(cut).toHaveLength(1);
      expect(cut[0]?.line).toBe(cutLine);
      const raw = cut[0]?.raw as string;
      expect(raw.length).toBeGreaterThan(0);
      expect(line(cutLine - 1).startsWith(raw)).toBe(true);
      expect(raw.length).toBeLessThan(line(cutLine - 1).length - 1);
      expect(entries.some((e) => e.reason === 'invalid-json')).toBe(false);
    } finally {
      cleanup();
    }
  });
});
