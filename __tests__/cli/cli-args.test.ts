import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runCli } from '../helpers/cli';
import { codeBlocks, readDoc, section } from '../helpers/markdown';

const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('backpressure CLI: flags', () => {
  test('--help prints usage and every flag on stdout, exit 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^backpressure/);
    for (const flag of [
      '--strategy',
      '--max-buffer',
      '--max-buffer-bytes',
      '--batch-size',
      '--flush-interval',
      '--sample-rate',
      '--priority-field',
      '--sink',
      '--dead-letter',
      '--invalid',
      '--max-line-bytes',
      '--retries',
      '--drain-timeout',
      '--buffer-dir',
      '--max-disk-bytes',
      '--sync',
      '--stats',
      '--progress',
      '--no-progress',
      '--help',
      '--version',
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

  test("the README's quick start, as written there: examples/events.ndjson to stdout, with --stats", async () => {
    const quickStart = readmeQuickStart();
    expect(quickStart.args).toEqual(['--stats']);
    expect(quickStart.input).toBe('examples/events.ndjson');
    const input = readFileSync(join(ROOT, quickStart.input));
    const r = await runCli(quickStart.args, input);
    expect(r.code).toBe(0);
    const inputLines = input
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '');
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
    expect(stats).toMatchObject({
      read: 300,
      valid: 298,
      invalid: 2,
      truncated: 0,
      flushed: 298,
      dropped: 0,
      deadLettered: 0,
      lost: 0,
    });
    expect(Object.keys(stats).sort()).toEqual(
      [
        'read',
        'valid',
        'invalid',
        'truncated',
        'flushed',
        'dropped',
        'droppedByReason',
        'deadLettered',
        'retried',
        'lost',
        'possiblyUndelivered',
        'elapsedMs',
        'linesPerSecond',
      ].sort(),
    );
    expect(r.stderr).toMatch(/line 97: invalid-json/);
    expect(r.stderr).toMatch(/line 211: invalid-json/);
    expect(r.stderr).not.toContain('\r'); // no progress line: stderr is not a TTY here

    // What the README shows it printing is what it prints: the same report lines, the same summary keys in the
    // same order and the same counts (only the timings differ from run to run).
    const shown = quickStart.shownStderr.trim().split('\n');
    const printed = r.stderr.trim().split('\n');
    expect(printed.slice(0, -1)).toEqual(shown.slice(0, -1));
    const shownStats = JSON.parse(shown[shown.length - 1] as string) as Record<string, unknown>;
    expect(Object.keys(stats)).toEqual(Object.keys(shownStats));
    const withoutTimings = ({
      elapsedMs: _e,
      linesPerSecond: _l,
      ...rest
    }: Record<string, unknown>): Record<string, unknown> => rest;
    expect(withoutTimings(stats)).toEqual(withoutTimings(shownStats));
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

/**
 * The README's "Quick start (CLI)": its one shell command, split into the CLI's arguments and the file it
 * redirects into stdin, and the stderr it shows that command printing.
 */
function readmeQuickStart(): { args: string[]; input: string; shownStderr: string } {
  const blocks = codeBlocks('README.md', section(readDoc('README.md'), 'Quick start (CLI)'));
  const command = blocks.find((b) => b.lang === 'sh')?.code.trim() ?? '';
  const shownStderr = blocks.find((b) => b.lang === 'text')?.code ?? '';
  const m = /^npx backpressure((?: [^<>\s]+)*) < (\S+) > \S+$/.exec(command);
  if (m === null)
    throw new Error(`the README's quick start is not "npx backpressure [args] < input > output": ${command}`);
  return { args: (m[1] as string).split(' ').filter((a) => a !== ''), input: m[2] as string, shownStderr };
}
