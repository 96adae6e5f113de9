/**
 * Every entry point refuses a bad option the same way: a TypeError (wrong kind of value) or a
 * RangeError (outside the allowed range) with Node's code (ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE),
 * whose message names the option exactly as the caller spelled it (`sampleRate` through
 * `backpressure()`, `rate` on the stage itself). The NDJSON splitter keeps its documented
 * ERR_NDJSON_INVALID_OPTION but words its message the same way.
 */
import { BackpressureWritable } from '../../lib/core/backpressure-writable';
import {
  backpressure,
  StrategyWritable,
  type BackpressureOptions,
  type Strategy,
} from '../../lib/compose/backpressure';
import { dropNewest, dropOldest, sample, shedByPriority } from '../../lib/stages';
import { fieldPriority } from '../../lib/ndjson/field-priority';
import { NdjsonSplitter } from '../../lib/ndjson/ndjson-splitter';
import { NdjsonErrorCodes } from '../../lib/ndjson/ndjson-errors';
import { sinkFlush } from '../../lib/sinks/sink-flush';
import { RateLimitedLog } from '../../lib/cli/rate-limited-log';
import type { LineSink } from '../../lib/sinks/line-sink';
import { isOptionError } from '../../lib/util/validate';

const flush = async (): Promise<void> => {};
const TYPE = { kind: TypeError, code: 'ERR_INVALID_ARG_TYPE' } as const;
const RANGE = { kind: RangeError, code: 'ERR_OUT_OF_RANGE' } as const;

function thrown(build: () => unknown): unknown {
  let made: unknown;
  try {
    made = build();
  } catch (err) {
    return err;
  }
  // Not refused: clean up whatever was built so the test leaves nothing running.
  if (made !== null && typeof made === 'object' && 'destroy' in made) (made as { destroy(): void }).destroy();
  throw new Error('expected the call to throw');
}

const bp = (options: Partial<BackpressureOptions<number>>) => () =>
  backpressure<number>({ flush, ...options } as BackpressureOptions<number>);

const CASES: readonly (readonly [string, () => unknown, typeof TYPE | typeof RANGE, string])[] = [
  // The writable (directly and through backpressure()).
  [
    'BackpressureWritable maxBufferSize',
    () => new BackpressureWritable({ flush, maxBufferSize: 0 }),
    RANGE,
    'maxBufferSize',
  ],
  ['BackpressureWritable flush', () => new BackpressureWritable({} as never), TYPE, 'flush'],
  [
    'BackpressureWritable retry.minDelayMs',
    () => new BackpressureWritable({ flush, retry: { minDelayMs: 2 ** 31 } }),
    RANGE,
    'retry.minDelayMs',
  ],
  ['backpressure() block batchSize', bp({ batchSize: 1.5 }), RANGE, 'batchSize'],
  // backpressure() itself.
  ['backpressure() strategy (unknown name)', bp({ strategy: 'drop-everything' as Strategy }), RANGE, 'strategy'],
  ['backpressure() strategy (not a string)', bp({ strategy: 7 as unknown as Strategy }), TYPE, 'strategy'],
  ['backpressure() capacity', bp({ strategy: 'drop-oldest', capacity: 0 }), RANGE, 'capacity'],
  [
    'backpressure() capacity (not a number)',
    bp({ strategy: 'drop-newest', capacity: '10' as never }),
    TYPE,
    'capacity',
  ],
  ['backpressure() sampleRate 0', bp({ strategy: 'sample', sampleRate: 0 }), RANGE, 'sampleRate'],
  ['backpressure() sampleRate 2.5 (counter)', bp({ strategy: 'sample', sampleRate: 2.5 }), RANGE, 'sampleRate'],
  ['backpressure() sampleMode', bp({ strategy: 'sample', sampleMode: 'every-other' as never }), RANGE, 'sampleMode'],
  ['backpressure() sampleKey missing for key mode', bp({ strategy: 'sample', sampleMode: 'key' }), TYPE, 'sampleKey'],
  [
    'backpressure() sampleThreshold',
    bp({ strategy: 'sample', sampleThreshold: 'normal' as never }),
    RANGE,
    'sampleThreshold',
  ],
  ['backpressure() random', bp({ strategy: 'sample', sampleMode: 'random', random: 0.5 as never }), TYPE, 'random'],
  ['backpressure() priority missing', bp({ strategy: 'priority' } as never), TYPE, 'priority'],
  [
    'backpressure() keepAtLeast.critical',
    bp({ strategy: 'priority', priority: () => 1, keepAtLeast: { critical: Infinity } }),
    RANGE,
    'keepAtLeast.critical',
  ],
  [
    'backpressure() keepAtLeast (not an object)',
    bp({ strategy: 'priority', priority: () => 1, keepAtLeast: 3 as never }),
    TYPE,
    'keepAtLeast',
  ],
  // An option of another strategy (it would be ignored): the types refuse it, so does the run time.
  ['backpressure() capacity with block', bp({ capacity: 10 } as never), TYPE, 'capacity'],
  [
    'backpressure() sampleRate with drop-oldest',
    bp({ strategy: 'drop-oldest', sampleRate: 5 } as never),
    TYPE,
    'sampleRate',
  ],
  ['backpressure() sampleThreshold with block', bp({ sampleThreshold: 'critical' } as never), TYPE, 'sampleThreshold'],
  [
    'backpressure() sampleKey with priority',
    bp({ strategy: 'priority', priority: () => 1, sampleKey: () => 1 } as never),
    TYPE,
    'sampleKey',
  ],
  [
    'backpressure() random with drop-newest',
    bp({ strategy: 'drop-newest', random: Math.random } as never),
    TYPE,
    'random',
  ],
  ['backpressure() priority with sample', bp({ strategy: 'sample', priority: () => 1 } as never), TYPE, 'priority'],
  ['backpressure() keepAtLeast with block', bp({ keepAtLeast: { critical: 2 } } as never), TYPE, 'keepAtLeast'],
  [
    'StrategyWritable options for another strategy',
    () => new StrategyWritable<number>('sample', { flush, strategy: 'drop-oldest' }),
    RANGE,
    'strategy',
  ],
  // The stages, in their own words.
  ['dropOldest capacity', () => dropOldest({ capacity: -1 }), RANGE, 'capacity'],
  ['dropNewest capacity NaN', () => dropNewest({ capacity: Number.NaN }), RANGE, 'capacity'],
  ['dropOldest options null', () => dropOldest(null as never), TYPE, 'options'],
  ['sample rate 0', () => sample({ rate: 0 }), RANGE, 'rate'],
  ['sample rate Infinity (random)', () => sample({ rate: Infinity, mode: 'random' }), RANGE, 'rate'],
  ['sample mode', () => sample({ mode: 'sometimes' as never }), RANGE, 'mode'],
  ['sample key missing for key mode', () => sample({ mode: 'key' }), TYPE, 'key'],
  ['sample threshold', () => sample({ threshold: 'closed' as never }), RANGE, 'threshold'],
  ['shedByPriority priority', () => shedByPriority({ priority: 'level' as never }), TYPE, 'priority'],
  [
    'shedByPriority keepAtLeast.elevated',
    () => shedByPriority({ priority: () => 0, keepAtLeast: { elevated: Number.NaN } }),
    RANGE,
    'keepAtLeast.elevated',
  ],
  // Helpers.
  ['fieldPriority path', () => fieldPriority('a..b'), RANGE, 'path'],
  [
    'sinkFlush unconfirmedTailBytes',
    () => sinkFlush({} as LineSink, { unconfirmedTailBytes: -1 }),
    RANGE,
    'unconfirmedTailBytes',
  ],
  ['sinkFlush onSinkGone', () => sinkFlush({} as LineSink, { onSinkGone: 'stop' as never }), TYPE, 'onSinkGone'],
  ['RateLimitedLog write', () => new RateLimitedLog({ noun: 'x' } as never), TYPE, 'write'],
  [
    'RateLimitedLog summaryIntervalMs over the timer limit',
    () => new RateLimitedLog({ write: () => {}, noun: 'x', summaryIntervalMs: 2 ** 31 }),
    RANGE,
    'summaryIntervalMs',
  ],
];

describe('a bad option is a coded TypeError/RangeError naming the option as the caller spelled it', () => {
  test.each(CASES)('%s', (_label, build, expected, option) => {
    const err = thrown(build);
    expect(err).toBeInstanceOf(expected.kind);
    expect(err).toMatchObject({ code: expected.code });
    expect(isOptionError(err)).toBe(true);
    expect((err as Error).message).toContain(`option "${option}" must be `);
  });

  test("backpressure() never blames the stage's own name: sampleRate, not rate", () => {
    const message = (thrown(bp({ strategy: 'sample', sampleRate: 0 })) as Error).message;
    expect(message).toBe('backpressure(): option "sampleRate" must be an integer >= 1 (got 0)');
  });

  test('the message says what is allowed and what was given', () => {
    const message = (thrown(bp({ strategy: 'drop-everything' as Strategy })) as Error).message;
    expect(message).toBe(
      `backpressure(): option "strategy" must be one of 'block', 'drop-oldest', 'drop-newest', 'sample' or 'priority' (got "drop-everything")`,
    );
  });
});

describe("backpressure(): each strategy's options with that strategy only", () => {
  test('the message names the option, the strategy given and the one it is for', () => {
    const message = (thrown(bp({ strategy: 'drop-oldest', sampleRate: 5 } as never)) as Error).message;
    expect(message).toBe(
      `backpressure(): option "sampleRate" must be undefined with strategy 'drop-oldest' (it is for strategy 'sample') (got 5)`,
    );
    expect((thrown(bp({ capacity: 10 } as never)) as Error).message).toBe(
      `backpressure(): option "capacity" must be undefined with strategy 'block' (it is for strategies 'drop-oldest', 'drop-newest', 'sample' or 'priority') (got 10)`,
    );
  });

  test('an option left undefined is absent, whatever the strategy (options built field by field)', () => {
    const streams = [
      backpressure<number>({ flush, capacity: undefined, sampleRate: undefined, priority: undefined }),
      backpressure<number>({
        flush,
        strategy: 'drop-oldest',
        capacity: 5,
        sampleKey: undefined,
        keepAtLeast: undefined,
      }),
      backpressure<number>({ flush, strategy: 'sample', sampleRate: 2, priority: undefined }),
      backpressure<number>({
        flush,
        strategy: 'priority',
        priority: () => 1,
        sampleMode: undefined,
        random: undefined,
      }),
    ];
    expect(streams.map((w) => (w instanceof StrategyWritable ? w.strategy : 'block'))).toEqual([
      'block',
      'drop-oldest',
      'sample',
      'priority',
    ]);
    for (const w of streams) w.destroy();
  });
});

describe('the NDJSON splitter keeps its documented code, worded the same way', () => {
  test.each([
    ['maxLineBytes', { maxLineBytes: 0 }],
    ['onInvalid', { onInvalid: 'explode' as never }],
  ] as const)('%s', (option, options) => {
    const err = thrown(() => new NdjsonSplitter(options));
    expect(err).toMatchObject({ code: NdjsonErrorCodes.INVALID_OPTION });
    expect((err as Error).message).toContain(`option "${option}" must be `);
  });
});
