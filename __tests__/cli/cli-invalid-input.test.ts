import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectBalanced, runCli, seqLines, seqsOf, statsOf, tempDir } from '../helpers/cli';

/** One of each kind of bad line, at known line numbers (1-based): 3 bad JSON, 5 too long, 7 invalid UTF-8. */
function mixedInput(): Buffer {
  return Buffer.concat([
    Buffer.from('{"seq":0}\n{"seq":1}\n{"seq":2,\n{"seq":3}\n'),
    Buffer.from(`{"seq":4,"pad":"${'y'.repeat(200)}"}\n`),
    Buffer.from('{"seq":5}\n'),
    Buffer.from([0x7b, 0x22, 0x73, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d, 0x0a]), // {"s":"\xff\xfe"}
    Buffer.from('{"seq":6}\n'),
  ]);
}

describe('backpressure CLI: invalid input', () => {
  test('skip: bad JSON, over-long and invalid UTF-8 lines are counted, reported with line number and excerpt, and dead-lettered', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const dlq = join(dir, 'dead.ndjson');
      const r = await runCli(['--stats', '--max-line-bytes', '100', '--dead-letter', dlq], mixedInput());
      expect(r.code).toBe(0);
      expect(seqsOf(r.stdout)).toEqual([0, 1, 3, 5, 6]);
      const stats = statsOf(r.stderr);
      expect(stats).toMatchObject({ read: 8, valid: 5, invalid: 3, flushed: 5, deadLettered: 0 });
      expectBalanced(stats);
      expect(r.stderr).toMatch(/line 3: invalid-json: "\{\\"seq\\":2,"/);
      expect(r.stderr).toMatch(/line 5: line-too-long: "\{\\"seq\\":4,\\"pad\\":\\"yyy/);
      expect(r.stderr).toMatch(/line 7: invalid-utf8: /);
      const entries = readFileSync(dlq, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(entries.map((e) => [e['line'], e['reason']])).toEqual([
        [3, 'invalid-json'],
        [5, 'line-too-long'],
        [7, 'invalid-utf8'],
      ]);
      expect(entries[0]).toMatchObject({ raw: '{"seq":2,' });
      expect(Buffer.from(entries[2]?.['rawBase64'] as string, 'base64')).toEqual(
        Buffer.from([0x7b, 0x22, 0x73, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]),
      );
      expect(typeof entries[1]?.['excerpt']).toBe('string');
    } finally {
      cleanup();
    }
  });

  test('skip: a flood of bad lines is rate-limited on stderr (first 10, then summaries) but fully counted', async () => {
    const bad = 'not json\n'.repeat(20_000);
    const r = await runCli(['--stats'], `${seqLines(10)}${bad}${seqLines(20, 10)}`);
    expect(r.code).toBe(0);
    expect(seqsOf(r.stdout)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    const stats = statsOf(r.stderr);
    expect(stats).toMatchObject({ read: 20_020, valid: 20, invalid: 20_000 });
    expectBalanced(stats);
    const reportLines = r.stderr.split('\n').filter((l) => l.startsWith('backpressure: line '));
    expect(reportLines).toHaveLength(10);
    expect(reportLines[0]).toBe('backpressure: line 11: invalid-json: "not json"');
    // The rest is summarized ("N more invalid lines (invalid-json: N)"), adding up to the total.
    const summarized = [...r.stderr.matchAll(/(\d+) more invalid lines \(invalid-json: (\d+)\)/g)].map((m) =>
      Number(m[1]),
    );
    expect(summarized.reduce((a, b) => a + b, 0)).toBe(19_990);
    expect(r.stderr.split('\n').length).toBeLessThan(40);
  });

  test('fail: every valid line before the bad one is delivered, nothing after it; exit 1 with the line number', async () => {
    const input = `${seqLines(1000)}{"seq":oops}\n${seqLines(2000, 1000)}`;
    const r = await runCli(['--invalid', 'fail', '--stats'], input);
    expect(r.code).toBe(1);
    expect(seqsOf(r.stdout)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(r.stderr).toMatch(/stopped at line 1001: invalid-json \(--invalid fail\)/);
    const stats = statsOf(r.stderr);
    expect(stats).toMatchObject({ valid: 1000, invalid: 1, flushed: 1000 });
    expectBalanced(stats);
  });

  test('fail: an over-long line stops the run too, and is dead-lettered', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const dlq = join(dir, 'dead.ndjson');
      const input = `${seqLines(3)}${'z'.repeat(5000)}\n${seqLines(6, 3)}`;
      const r = await runCli(['--invalid', 'fail', '--max-line-bytes', '1000', '--dead-letter', dlq], input);
      expect(r.code).toBe(1);
      expect(seqsOf(r.stdout)).toEqual([0, 1, 2]);
      expect(r.stderr).toMatch(/line 4: line-too-long/);
      expect(JSON.parse(readFileSync(dlq, 'utf8'))).toMatchObject({ line: 4, reason: 'line-too-long' });
    } finally {
      cleanup();
    }
  });

  test('a last line without a newline is still read; empty input is a clean no-op', async () => {
    const r = await runCli(['--stats'], '{"seq":0}\n{"seq":1}');
    expect(r.code).toBe(0);
    expect(seqsOf(r.stdout)).toEqual([0, 1]);
    const empty = await runCli(['--stats'], '');
    expect(empty.code).toBe(0);
    expect(empty.stdout).toBe('');
    expect(statsOf(empty.stderr)).toMatchObject({ read: 0, valid: 0, invalid: 0, flushed: 0 });
  });

  test('an unwritable --dead-letter path is a runtime failure (exit 1) before anything is read', async () => {
    const r = await runCli(['--dead-letter', '/nonexistent-dir/x/dead.ndjson'], seqLines(3));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/cannot open --dead-letter file/);
  });
});
