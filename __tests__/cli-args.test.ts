import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCli } from './helpers/cli';

const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('backpressure CLI: flags', () => {
  test('--help prints usage and every flag on stdout, exit 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^backpressure/);
    for (const flag of [
      '--strategy', '--max-buffer', '--max-buffer-bytes', '--batch-size', '--flush-interval', '--sample-rate',
      '--priority-field', '--sink', '--dead-letter', '--invalid', '--max-line-bytes', '--retries', '--drain-timeout',
      '--stats', '--progress', '--no-progress', '--help', '--version',
    ]) {
      expect(r.stdout).toContain(flag);
    }
    expect(r.stderr).toBe('');
  });

  test('--version prints the package version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${version}\n`);
  });

  test.each([
    [['--bogus'], /unknown option '--bogus'/i],
    [['--strategy'], /argument missing/i],
    [['--max-buffer', '1e3'], /--max-buffer must be an integer/],
    [['--strategy', 'priority'], /--strategy priority needs --priority-field/],
    [['--sink', 'ftp://example.com'], /--sink: unknown sink/],
  ])('%j is a one-line usage error on stderr, exit 2, nothing on stdout', async (args, message) => {
    const r = await runCli(args, '{"a":1}\n');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toHaveLength(2); // one line + the final newline
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain('usage: backpressure');
  });

  test('the quick start: examples/events.ndjson to stdout, with --stats', async () => {
    const input = readFileSync(join(ROOT, 'examples', 'events.ndjson'));
    const r = await runCli(['--stats'], input);
    expect(r.code).toBe(0);
    const inputLines = input.toString('utf8').split('\n').filter((l) => l !== '');
    const valid = inputLines.filter((l) => {
      try {
        JSON.parse(l);
        return true;
      } catch {
        return false;
      }
    });
    expect(inputLines).toHaveLength(300);
    expect(valid).toHaveLength(298);
    // Delivered byte for byte, in order.
    expect(r.stdout).toBe(valid.map((l) => `${l}\n`).join(''));
    const stats = JSON.parse(r.stderr.trim().split('\n').pop() as string) as Record<string, unknown>;
    expect(stats).toMatchObject({ read: 300, valid: 298, invalid: 2, truncated: 0, flushed: 298, dropped: 0, deadLettered: 0, lost: 0 });
    expect(Object.keys(stats).sort()).toEqual(
      ['read', 'valid', 'invalid', 'truncated', 'flushed', 'dropped', 'droppedByReason', 'deadLettered', 'retried', 'lost', 'possiblyUndelivered', 'elapsedMs', 'linesPerSecond'].sort(),
    );
    expect(r.stderr).toMatch(/line 97: invalid-json/);
    expect(r.stderr).toMatch(/line 211: invalid-json/);
    expect(r.stderr).not.toContain('\r'); // no progress line: stderr is not a TTY here
  });

  test('--no-progress after --progress wins; neither prints a status line when off', async () => {
    const r = await runCli(['--progress', '--no-progress'], '{"a":1}\n');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('{"a":1}\n');
  });

  test('--progress draws a \\r status line on stderr even when stderr is not a TTY', async () => {
    const r = await runCli(['--progress'], '{"a":1}\n{"a":2}\n');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/\r2 lines .*buffer .*dropped 0/);
    expect(r.stdout).toBe('{"a":1}\n{"a":2}\n');
  });
});
