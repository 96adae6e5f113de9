import { BackpressureWritable, StrategyWritable } from '../../lib';
import { buildOutput } from '../../lib/cli/build-output';
import { CLI_DEFAULTS, UsageError, type CliOptions } from '../../lib/cli/parse-args';

const base: CliOptions = {
  strategy: 'block',
  sink: 'stdout',
  source: 'stdin',
  invalid: 'skip',
  maxLineBytes: CLI_DEFAULTS.maxLineBytes,
  drainTimeoutMs: CLI_DEFAULTS.drainTimeoutMs,
  stats: false,
};
const flush = async (): Promise<void> => undefined;
const onDeadLetter = (): void => undefined;

function usageMessage(options: Partial<CliOptions>): string {
  try {
    buildOutput({ ...base, ...options }, flush, onDeadLetter, 1000).destroy();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('no usage error');
}

describe('buildOutput: what the library refuses is a usage error naming the flag', () => {
  test.each([
    [{ batchSize: 0 }, /^--batch-size: option "batchSize" must be an integer > 0 \(got 0\)$/],
    [{ maxBuffer: 1.5 }, /^--max-buffer: option "maxBufferSize" must be an integer > 0/],
    [{ retries: -1 }, /^--retries: option "retry.retries" must be an integer >= 0/],
    [{ flushTimeoutMs: 0 }, /^--flush-timeout: option "flushTimeoutMs"/],
    [{ strategy: 'sample', sampleRate: 0 }, /^--sample-rate: option "sampleRate" must be an integer >= 1 \(got 0\)$/],
    [
      { strategy: 'priority', priorityField: 'a..b' },
      /^--priority-field: option "path" must be a dotted path of non-empty field names/,
    ],
    // parseArgs refuses these first; a caller that skips it gets the same answers.
    [{ strategy: 'priority' }, /^--strategy priority needs --priority-field PATH$/],
    [{ strategy: 'drop-everything' }, /^invalid option value: option "strategy" must be one of 'block', /],
  ] as const)('%j', (options, message) => {
    expect(usageMessage(options as Partial<CliOptions>)).toMatch(message);
  });

  test('--concurrency and --adaptive reach the library: the lanes in flight, the loop that moves them', () => {
    const fixed = buildOutput({ ...base, concurrency: 4 }, flush, onDeadLetter, 1000);
    expect(fixed.getMetrics().concurrency).toBe(4);
    fixed.destroy();
    const dropping = buildOutput({ ...base, strategy: 'drop-oldest', concurrency: 3 }, flush, onDeadLetter, 1000);
    expect(dropping.getMetrics().concurrency).toBe(3);
    dropping.destroy();
    // Adaptive starts from the given values; its bounds are the library's (maxConcurrency ≥ 16).
    const adaptive = buildOutput({ ...base, adaptive: true, concurrency: 2, batchSize: 50 }, flush, onDeadLetter, 1000);
    expect(adaptive.getMetrics()).toMatchObject({ concurrency: 2, batchSize: 50, adaptiveAdjustments: 0 });
    adaptive.destroy();
  });

  test('a small buffer alone shrinks the default batch; valid options build a stream', () => {
    const output = buildOutput({ ...base, maxBuffer: 10 }, flush, onDeadLetter, 1000);
    expect(output.getMetrics().state).toBe('normal');
    output.destroy();
  });

  test.each([
    [{ strategy: 'block' }, BackpressureWritable],
    [{ strategy: 'drop-oldest' }, StrategyWritable],
    [{ strategy: 'drop-newest' }, StrategyWritable],
    [{ strategy: 'sample', sampleRate: 3 }, StrategyWritable],
    [{ strategy: 'priority', priorityField: 'meta.level' }, StrategyWritable],
  ] as const)('%j builds the strategy it names, with its own options', (options, type) => {
    const output = buildOutput({ ...base, ...options }, flush, onDeadLetter, 1000);
    expect(output).toBeInstanceOf(type);
    if (output instanceof StrategyWritable) {
      expect(output.strategy).toBe(options.strategy);
      if (options.strategy === 'sample') expect(output.stage).toMatchObject({ rate: 3 });
    }
    output.destroy();
  });
});
