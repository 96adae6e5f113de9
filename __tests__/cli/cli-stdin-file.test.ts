import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collect, expectBalanced, spawnCli, statsOf, tempDir } from '../helpers/cli';

/**
 * With stdin redirected from a regular file the CLI reads it in 1 MiB chunks (its own file stream,
 * not Node's stdin) and its records share those chunks: every line must still come out whole, in
 * order — lines across chunk boundaries, CRLF endings and invalid lines included.
 */
describe('backpressure CLI: stdin from a regular file', () => {
  test('every valid line comes out once, in order, whatever the chunk boundaries cut', async () => {
    const { dir, cleanup } = tempDir('bp-stdin-file-');
    try {
      const lines: string[] = [];
      const expected: string[] = [];
      for (let i = 0; i < 30_000; i++) {
        // ~100 bytes a line: 1 MiB chunk boundaries land in the middle of lines.
        const line = JSON.stringify({ seq: i, pad: 'x'.repeat(i % 97) });
        if (i % 1000 === 999) lines.push('not json');
        lines.push(i % 7 === 0 ? `${line}\r` : line);
        expected.push(line);
      }
      const input = join(dir, 'input.ndjson');
      writeFileSync(input, `${lines.join('\n')}\n`);
      const fd = openSync(input, 'r');
      try {
        const r = await collect(spawnCli(['--stats'], { stdio: [fd, 'pipe', 'pipe'] }));
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(`${expected.join('\n')}\n`);
        const stats = statsOf(r.stderr);
        expect(stats).toMatchObject({ valid: 30_000, invalid: 30, flushed: 30_000 });
        expectBalanced(stats);
      } finally {
        closeSync(fd);
      }
    } finally {
      cleanup();
    }
  });
});
