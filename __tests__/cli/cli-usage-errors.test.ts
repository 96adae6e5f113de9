/**
 * Every bad flag value is one line on stderr naming the flag and what is allowed, exit 2 — and
 * nothing is created or read: not the file sink, not the dead-letter file, not a line of stdin.
 * (The parser's messages in detail: cli-parse-args.test.ts.)
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, seqLines, statsOf, tempDir } from '../helpers/cli';

describe('backpressure CLI: bad values are usage errors, before any side effect', () => {
  test.each([
    [
      ['--batch-size', '20000'],
      /--batch-size is out of range: must be an integer from 1 to the default --max-buffer \(10000\)/,
    ],
    [
      ['--max-buffer', '50', '--batch-size', '60'],
      /--batch-size is out of range: must be an integer from 1 to --max-buffer \(50\)/,
    ],
    [
      ['--strategy', 'priority', '--priority-field', 'a..b'],
      /--priority-field must be a dotted path of non-empty field names/,
    ],
    [['--strategy', 'priority', '--priority-field', '.'], /--priority-field must be a dotted path/],
    [['--strategy', 'priority', '--priority-field', 'a.'], /--priority-field must be a dotted path/],
    [['--max-buffer', '-5'], /--max-buffer is out of range: must be an integer >= 1, got '-5'/],
    [['--max-buffer=-5'], /--max-buffer is out of range: must be an integer >= 1, got '-5'/],
    [['--retries', '-1'], /--retries is out of range: must be an integer >= 0, got '-1'/],
    [['--drain-timeout', '3000000000'], /--drain-timeout is out of range: must be an integer from 0 to 2147483647/],
    [['--flush-timeout', '3000000000'], /--flush-timeout is out of range: must be an integer from 1 to 2147483647/],
    [['--flush-interval', '3000000000'], /--flush-interval is out of range: must be an integer from 0 to 2147483647/],
    [['--sink', 'ftp://host/x'], /--sink: unknown sink/],
    [['--concurrency', '0'], /--concurrency is out of range: must be an integer from 1 to 1024, got '0'/],
    [['--concurrency', '1025'], /--concurrency is out of range: must be an integer from 1 to 1024, got '1025'/],
    [['--concurrency', 'four'], /--concurrency must be an integer from 1 to 1024, got 'four'/],
    [['--adaptive=yes'], /--adaptive/],
  ])(
    '%j: one line, exit 2, no file sink or dead-letter file created, no summary (nothing read)',
    async (args, message) => {
      const { dir, cleanup } = tempDir('bp-usage-');
      try {
        const out = join(dir, 'out.ndjson');
        const dlq = join(dir, 'dead.ndjson');
        const sinkArgs = args.includes('--sink') ? [] : ['--sink', `file:${out}`];
        const r = await runCli([...args, ...sinkArgs, '--dead-letter', dlq, '--stats'], seqLines(10));
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(message);
        expect(r.stderr.split('\n')).toHaveLength(2); // one line + the final newline
        expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
        expect(r.stderr).not.toMatch(/"read":/); // nothing was read: no summary
        expect(r.stdout).toBe('');
        expect(existsSync(out)).toBe(false);
        expect(existsSync(dlq)).toBe(false);
      } finally {
        cleanup();
      }
    },
  );

  test.each([[['--max-buffer', '50']], [['--strategy', 'drop-oldest', '--max-buffer', '99']], [['--max-buffer', '1']]])(
    '%j: a default that conflicts only with another default (batch 100 > buffer) is adjusted, not refused',
    async (args) => {
      const r = await runCli([...args, '--stats'], seqLines(500));
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(seqLines(500));
      expect(statsOf(r.stderr)).toMatchObject({ read: 500, flushed: 500, dropped: 0, lost: 0 });
    },
  );
});
