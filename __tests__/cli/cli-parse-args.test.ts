import fc from 'fast-check';
import { CLI_DEFAULTS, effectiveBatchSize, parseCliArgs, UsageError } from '../../lib/cli/parse-args';

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
        source: 'stdin',
        invalid: 'skip',
        maxLineBytes: 1024 * 1024,
        drainTimeoutMs: CLI_DEFAULTS.drainTimeoutMs,
        stats: false,
      },
    });
  });

  test('every flag maps to its option', () => {
    const parsed = parseCliArgs([
      '--strategy',
      'priority',
      '--priority-field',
      'meta.level',
      '--max-buffer',
      '500',
      '--max-buffer-bytes',
      '65536',
      '--batch-size',
      '50',
      '--flush-interval',
      '20',
      '--sink',
      'file:/tmp/out',
      '--source',
      'redis://127.0.0.1:6379/jobs?group=g',
      '--exit-when-idle',
      '3000',
      '--dead-letter',
      '/tmp/dlq',
      '--invalid',
      'fail',
      '--max-line-bytes',
      '4096',
      '--retries',
      '0',
      '--flush-timeout',
      '1500',
      '--drain-timeout',
      '250',
      '--stats',
      '--progress',
    ]);
    expect(parsed).toEqual({
      command: 'run',
      options: {
        strategy: 'priority',
        priorityField: 'meta.level',
        maxBuffer: 500,
        maxBufferBytes: 65536,
        batchSize: 50,
        flushIntervalMs: 20,
        sink: 'file:/tmp/out',
        source: 'redis://127.0.0.1:6379/jobs?group=g',
        exitWhenIdleMs: 3000,
        deadLetter: '/tmp/dlq',
        invalid: 'fail',
        maxLineBytes: 4096,
        retries: 0,
        flushTimeoutMs: 1500,
        drainTimeoutMs: 250,
        stats: true,
        progress: true,
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
    [
      ['--strategy', 'fastest'],
      /^--strategy must be one of block\|drop-oldest\|drop-newest\|sample\|priority, got 'fastest'$/,
    ],
    [['--max-buffer', '0'], /^--max-buffer is out of range: must be an integer >= 1, got '0'$/],
    [['--max-buffer-bytes', '-5'], /--max-buffer-bytes/],
    [['--batch-size', 'ten'], /^--batch-size must be an integer >= 1/],
    [['--flush-interval', '5ms'], /^--flush-interval must be an integer from 0 to 2147483647, got '5ms'$/],
    [['--retries', '1.5'], /^--retries must be an integer >= 0/],
    [['--flush-timeout', '0'], /^--flush-timeout is out of range: must be an integer from 1 to 2147483647, got '0'$/],
    [['--drain-timeout', ''], /^--drain-timeout must be an integer from 0 to 2147483647, got ''$/],
    [['--max-line-bytes', '0'], /^--max-line-bytes is out of range: must be an integer >= 1/],
    [
      ['--max-line-bytes', '99999999999999999999'],
      /^--max-line-bytes is out of range: must be an integer >= 1 \(at most 9007199254740991\)/,
    ],
    [['--invalid', 'ignore'], /^--invalid must be one of skip\|fail/],
    [['--strategy', 'sample', '--sample-rate', '0'], /^--sample-rate is out of range: must be an integer >= 1/],
    [['--strategy', 'priority'], /^--strategy priority needs --priority-field PATH$/],
    [['--priority-field', 'level'], /^--priority-field only applies to --strategy priority$/],
    [['--sample-rate', '10'], /^--sample-rate only applies to --strategy sample$/],
    [['--sink', ''], /^--sink must not be empty$/],
    [['--dead-letter', ' '], /^--dead-letter must not be empty$/],
    // Negative numbers are out of range, whether the value is joined or separate (util.parseArgs alone calls `-5` "ambiguous").
    [['--max-buffer', '-5'], /^--max-buffer is out of range: must be an integer >= 1, got '-5'$/],
    [['--max-buffer=-5'], /^--max-buffer is out of range: must be an integer >= 1, got '-5'$/],
    [['--retries', '-1'], /^--retries is out of range: must be an integer >= 0, got '-1'$/],
    [['--max-buffer-bytes', '-0.5'], /^--max-buffer-bytes is out of range: must be an integer >= 1, got '-0.5'$/],
    // Timers: setTimeout turns anything above 2^31-1 ms into 1 ms, so it is refused, not silently changed.
    [
      ['--drain-timeout', '2147483648'],
      /^--drain-timeout is out of range: must be an integer from 0 to 2147483647, got '2147483648'$/,
    ],
    [
      ['--flush-timeout', '3000000000'],
      /^--flush-timeout is out of range: must be an integer from 1 to 2147483647, got '3000000000'$/,
    ],
    [
      ['--flush-interval', '3000000000'],
      /^--flush-interval is out of range: must be an integer from 0 to 2147483647, got '3000000000'$/,
    ],
    // An explicit batch larger than the buffer (the user's, or the default 10000) can never fill.
    [
      ['--batch-size', '20000'],
      /^--batch-size is out of range: must be an integer from 1 to the default --max-buffer \(10000\), got '20000'$/,
    ],
    [
      ['--max-buffer', '50', '--batch-size', '60'],
      /^--batch-size is out of range: must be an integer from 1 to --max-buffer \(50\), got '60'$/,
    ],
    [
      ['--strategy', 'priority', '--priority-field', 'a..b'],
      /^--priority-field must be a dotted path of non-empty field names .*got 'a\.\.b'$/,
    ],
    [['--strategy', 'priority', '--priority-field', '.'], /^--priority-field must be a dotted path/],
    [['--strategy', 'priority', '--priority-field', 'a.'], /^--priority-field must be a dotted path/],
    [['--sink', '--stats'], /^Option '--sink' argument is ambiguous$/],
  ])('%j → one-line UsageError', (argv, message) => {
    expect(usageError(argv)).toMatch(message);
  });

  test('the largest timer values Node can represent are accepted', () => {
    expect(
      parseCliArgs([
        '--drain-timeout',
        '2147483647',
        '--flush-timeout',
        '2147483647',
        '--flush-interval',
        '2147483647',
      ]),
    ).toMatchObject({
      options: { drainTimeoutMs: 2147483647, flushTimeoutMs: 2147483647, flushIntervalMs: 2147483647 },
    });
  });

  test('a small --max-buffer alone shrinks the default batch instead of being refused', () => {
    const parsed = parseCliArgs(['--max-buffer', '50']);
    expect(parsed).toMatchObject({ options: { maxBuffer: 50 } });
    expect(parsed.command === 'run' && effectiveBatchSize(parsed.options)).toBe(50);
    const explicit = parseCliArgs(['--max-buffer', '50', '--batch-size', '20']);
    expect(explicit.command === 'run' && effectiveBatchSize(explicit.options)).toBe(20);
    const large = parseCliArgs(['--max-buffer', '500']);
    expect(large.command === 'run' && effectiveBatchSize(large.options)).toBeUndefined(); // the library's default (100)
  });

  test('integer flags accept exactly the decimal digit strings within range (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 8 }), (text) => {
        // 1 .. the default --max-buffer (10000): a batch larger than the buffer could never fill.
        const isDigits = /^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 10_000;
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
