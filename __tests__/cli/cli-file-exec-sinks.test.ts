import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectBalanced, runCli, seqLines, seqsOf, statsOf, tempDir } from '../helpers/cli';

describe('backpressure CLI: --sink file: and exec:', () => {
  test('file:PATH appends every line, in order', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const out = join(dir, 'out.ndjson');
      const first = await runCli(['--sink', `file:${out}`, '--stats'], seqLines(1000));
      expect(first.code).toBe(0);
      expect(first.stdout).toBe('');
      const second = await runCli(['--sink', `file:${out}`], seqLines(1500, 1000));
      expect(second.code).toBe(0);
      expect(seqsOf(readFileSync(out, 'utf8'))).toEqual(Array.from({ length: 1500 }, (_, i) => i));
      expectBalanced(statsOf(first.stderr));
    } finally {
      cleanup();
    }
  });

  test('exec:COMMAND pipes every line into one shell command', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const out = join(dir, 'out.ndjson');
      const r = await runCli(['--sink', `exec:cat > '${out}'`, '--stats'], seqLines(2000));
      expect(r.code).toBe(0);
      expect(seqsOf(readFileSync(out, 'utf8'))).toEqual(Array.from({ length: 2000 }, (_, i) => i));
      expect(statsOf(r.stderr)).toMatchObject({ flushed: 2000, deadLettered: 0 });
    } finally {
      cleanup();
    }
  });

  test('exec: a command that exits early is a sink failure: exit 1, every line accounted for', async () => {
    const r = await runCli(['--sink', 'exec:head -c 100 >/dev/null', '--stats'], seqLines(50_000));
    expect(r.code).toBe(1);
    const stats = statsOf(r.stderr);
    expectBalanced(stats);
    expect(stats.deadLettered).toBeGreaterThan(0);
  });

  test('file: an unwritable path fails the run with exit 1, not a crash', async () => {
    const r = await runCli(['--sink', 'file:/nonexistent-dir/out.ndjson', '--stats'], seqLines(10));
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expectBalanced(statsOf(r.stderr));
  });
});
