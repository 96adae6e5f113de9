import fc from 'fast-check';
import { CLI_DEFAULTS, parseCliArgs, UsageError } from '../lib/cli/parse-args';

function usageError(argv: string[]): string {
  try {
    parseCliArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error(`no usage error for ${JSON.stringify(argv)}`);
}

describe('parseCliArgs', () => {
  test('defaults: block, stdout, skip, 1 MiB lines, library defaults for the rest', () => {
    expect(parseCliArgs([])).toEqual({
      command: 'run',
      options: {
        strategy: 'block',
        sink: 'stdout',
        invalid: 'skip',
        maxLineBytes: 1024 * 1024,
        drainTimeoutMs: CLI_DEFAULTS.drainTimeoutMs,
        stats: false,
      },
    });
  });

  test('every flag maps to its option', () => {
    const parsed = parseCliArgs([
      '--strategy', 'priority', '--priority-field', 'meta.level', '--max-buffer', '500', '--max-buffer-bytes', '65536',
      '--batch-size', '50', '--flush-interval', '20', '--sink', 'file:/tmp/out', '--dead-letter', '/tmp/dlq',
      '--invalid', 'fail', '--max-line-bytes', '4096', '--retries', '0', '--flush-timeout', '1500', '--drain-timeout', '250', '--stats', '--progress',
    ]);
    expect(parsed).toEqual({
      command: 'run',
      options: {
        strategy: 'priority', priorityField: 'meta.level', maxBuffer: 500, maxBufferBytes: 65536, batchSize: 50,
        flushIntervalMs: 20, sink: 'file:/tmp/out', deadLetter: '/tmp/dlq', invalid: 'fail', maxLineBytes: 4096,
        retries: 0, flushTimeoutMs: 1500, drainTimeoutMs: 250, stats: true, progress: true,
      },
    });
    expect(parseCliArgs(['--strategy', 'sample', '--sample-rate', '7'])).toMatchObject({ options: { sampleRate: 7 } });
    expect(parseCliArgs(['--flush-interval=0'])).toMatchObject({ options: { flushIntervalMs: 0 } });
  });

  test('--help and --version win over everything else that parses', () => {
    expect(parseCliArgs(['--stats', '--help'])).toEqual({ command: 'help' });
    expect(parseCliArgs(['-h'])).toEqual({ command: 'help' });
    expect(parseCliArgs(['-v'])).toEqual({ command: 'version' });
  });

  test('--progress / --no-progress: the last one wins; neither leaves it to the TTY check', () => {
    expect(parseCliArgs(['--progress', '--no-progress'])).toMatchObject({ options: { progress: false } });
    expect(parseCliArgs(['--no-progress', '--progress'])).toMatchObject({ options: { progress: true } });
    const auto = parseCliArgs([]);
    expect(auto.command === 'run' && 'progress' in auto.options).toBe(false);
  });

  test.each([
    [['--bogus'], /Unknown option '--bogus'$/],
    [['positional'], /Unexpected argument 'positional'/],
    [['--strategy'], /argument missing/],
    [['--stats=yes'], /--stats/],
    [['--strategy', 'fastest'], /^--strategy must be one of block\|drop-oldest\|drop-newest\|sample\|priority, got 'fastest'$/],
    [['--max-buffer', '0'], /^--max-buffer must be an integer >= 1, got '0'$/],
    [['--max-buffer-bytes', '-5'], /--max-buffer-bytes/],
    [['--batch-size', 'ten'], /^--batch-size must be an integer >= 1/],
    [['--flush-interval', '5ms'], /^--flush-interval must be an integer >= 0/],
    [['--retries', '1.5'], /^--retries must be an integer >= 0/],
    [['--flush-timeout', '0'], /^--flush-timeout must be an integer >= 1/],
    [['--drain-timeout', ''], /^--drain-timeout must be an integer >= 0/],
    [['--max-line-bytes', '0'], /^--max-line-bytes must be an integer >= 1/],
    [['--max-line-bytes', '99999999999999999999'], /^--max-line-bytes must be an integer/],
    [['--invalid', 'ignore'], /^--invalid must be one of skip\|fail/],
    [['--strategy', 'sample', '--sample-rate', '0'], /^--sample-rate must be an integer >= 1/],
    [['--strategy', 'priority'], /^--strategy priority needs --priority-field PATH$/],
    [['--priority-field', 'level'], /^--priority-field only applies to --strategy priority$/],
    [['--sample-rate', '10'], /^--sample-rate only applies to --strategy sample$/],
    [['--sink', ''], /^--sink must not be empty$/],
    [['--dead-letter', ' '], /^--dead-letter must not be empty$/],
  ])('%j → one-line UsageError', (argv, message) => {
    expect(usageError(argv)).toMatch(message);
  });

  test('integer flags accept exactly the decimal digit strings within range (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), (text) => {
        const isDigits = /^\d+$/.test(text) && Number(text) >= 1;
        let accepted: number | undefined;
        try {
          const parsed = parseCliArgs(['--batch-size', text]);
          if (parsed.command === 'run') accepted = parsed.options.batchSize;
        } catch (err) {
          expect(err).toBeInstanceOf(UsageError);
        }
        expect(accepted).toBe(isDigits ? Number(text) : undefined);
      }),
      { numRuns: 300 },
    );
  });
});
