import type { BackpressureWritableOptions } from '../core/options';
import { sampleSettings, type SampleMode, type SampleOptionNames, type SampleThreshold } from '../stages/sample';
import { priorityFloors, type PriorityOptionNames } from '../stages/shed-by-priority';
import { stageCapacity } from '../stages/shedding-stage';
import { invalidOption, oneOfList } from '../util/validate';

/** What `backpressure()` does when the sink cannot keep up. */
export const Strategy = {
  /** Slow the producer down (`write()` returns false while blocked). Loses nothing. */
  BLOCK: 'block',
  /** Never block; when the stage and the writable are full, drop the oldest held item. */
  DROP_OLDEST: 'drop-oldest',
  /** Never block; when the stage and the writable are full, refuse the incoming item. */
  DROP_NEWEST: 'drop-newest',
  /** Never block; while the writable is above normal keep 1 in `sampleRate`. */
  SAMPLE: 'sample',
  /** Never block; shed the least important items first as pressure rises. */
  PRIORITY: 'priority',
} as const;

export type Strategy = (typeof Strategy)[keyof typeof Strategy];

export const STRATEGIES: readonly Strategy[] = Object.values(Strategy);

// Which options belong to which strategy. Each member of `BackpressureOptions` lists the others'
// options as `?: undefined`: giving one does not compile (and is refused at run time, see
// `checkStrategyOptions`), while reading one off the union still does.

/** The stage's capacity: every strategy but `'block'`. */
interface StageCapacityOption {
  /** Items the strategy stage holds in front of the writable. Integer ≥ 1. @default 1000 */
  capacity?: number | undefined;
}
interface NoStageCapacity {
  /** Only for a strategy with a stage (`'drop-oldest'`, `'drop-newest'`, `'sample'`, `'priority'`). */
  capacity?: undefined;
}
interface NoSampleOptions {
  /** Only for `strategy: 'sample'`. */
  sampleRate?: undefined;
  /** Only for `strategy: 'sample'`. */
  sampleMode?: undefined;
  /** Only for `strategy: 'sample'`. */
  sampleKey?: undefined;
  /** Only for `strategy: 'sample'`. */
  sampleThreshold?: undefined;
  /** Only for `strategy: 'sample'`. */
  random?: undefined;
}
interface NoPriorityOptions {
  /** Only for `strategy: 'priority'`. */
  priority?: undefined;
  /** Only for `strategy: 'priority'`. */
  keepAtLeast?: undefined;
}

/** `backpressure()` with `strategy: 'block'` (the default): the writable's options, nothing else. */
export interface BlockStrategyOptions<T>
  extends BackpressureWritableOptions<T>, NoStageCapacity, NoSampleOptions, NoPriorityOptions {
  /** @default 'block' */
  strategy?: typeof Strategy.BLOCK | undefined;
}

/** `backpressure()` with `strategy: 'drop-oldest'` or `'drop-newest'`: the writable's options and `capacity`. */
export interface DropStrategyOptions<T>
  extends BackpressureWritableOptions<T>, StageCapacityOption, NoSampleOptions, NoPriorityOptions {
  strategy: typeof Strategy.DROP_OLDEST | typeof Strategy.DROP_NEWEST;
}

/** `backpressure()` with `strategy: 'sample'`: the writable's options, `capacity` and the sampling options. */
export interface SampleStrategyOptions<T>
  extends BackpressureWritableOptions<T>, StageCapacityOption, NoPriorityOptions {
  strategy: typeof Strategy.SAMPLE;
  /** Keep 1 in this many under pressure: an integer ≥ 1 (any number ≥ 1 for `'random'`). @default 10 */
  sampleRate?: number | undefined;
  /**
   * How kept items are chosen. `'key'` needs `sampleKey` (refused at run time without it: typing that
   * too would take a second `'sample'` member, and a `strategy` whose type is a union would no longer
   * compile). @default 'key' when `sampleKey` is set, else 'counter'
   */
  sampleMode?: SampleMode | undefined;
  /** Key of an item, for key-based sampling (an item is kept iff `hash(key) % sampleRate === 0`). */
  sampleKey?: ((item: T) => unknown) | undefined;
  /** Pressure state from which sampling applies. @default 'elevated' */
  sampleThreshold?: SampleThreshold | undefined;
  /** For `sampleMode: 'random'`: random source in [0, 1). @default Math.random */
  random?: (() => number) | undefined;
}

/** `backpressure()` with `strategy: 'priority'`: the writable's options, `capacity`, `priority` (required), `keepAtLeast`. */
export interface PriorityStrategyOptions<T>
  extends BackpressureWritableOptions<T>, StageCapacityOption, NoSampleOptions {
  strategy: typeof Strategy.PRIORITY;
  /** The item's priority, higher is more important. */
  priority: (item: T) => number;
  /** Lowest priority kept at each pressure level. @default see `shedByPriority` */
  keepAtLeast?: { elevated?: number | undefined; critical?: number | undefined } | undefined;
}

/** The options of a strategy with a stage in front of the writable: what `StrategyWritable` takes. */
export type SheddingStrategyOptions<T> = DropStrategyOptions<T> | SampleStrategyOptions<T> | PriorityStrategyOptions<T>;

/**
 * Options of `backpressure()`: the writable's, plus the strategy and its stage's, as one union on
 * `strategy`, so that each strategy takes exactly its own options: `'priority'` requires `priority`,
 * the `sample*` options need `'sample'`, `capacity` needs a strategy with a stage.
 */
export type BackpressureOptions<T> = BlockStrategyOptions<T> | SheddingStrategyOptions<T>;

/** How `backpressure()` spells the stage options, so that its errors name the option the caller wrote. */
export const OWNER = 'backpressure()';
const SAMPLE_NAMES: SampleOptionNames = {
  rate: 'sampleRate',
  mode: 'sampleMode',
  key: 'sampleKey',
  threshold: 'sampleThreshold',
  random: 'random',
};
const PRIORITY_NAMES: PriorityOptionNames = { priority: 'priority', keepAtLeast: 'keepAtLeast' };

const STAGE_STRATEGIES: readonly Strategy[] = [
  Strategy.DROP_OLDEST,
  Strategy.DROP_NEWEST,
  Strategy.SAMPLE,
  Strategy.PRIORITY,
];
const SAMPLE_ONLY: readonly Strategy[] = [Strategy.SAMPLE];
const PRIORITY_ONLY: readonly Strategy[] = [Strategy.PRIORITY];

/**
 * The run-time side of the union's rules, for callers the types do not reach (JavaScript, `as`):
 * refuses, in `backpressure()`'s words, an option given for another strategy (it would otherwise be
 * silently ignored) and a bad stage option, before anything is built.
 */
export function checkStrategyOptions<T>(strategy: Strategy, options: BackpressureOptions<T>): void {
  if (options === null || typeof options !== 'object')
    throw invalidOption('type', OWNER, 'options', 'an object with a flush function', options);
  const strategyOnly: [name: string, value: unknown, strategies: readonly Strategy[]][] = [
    ['capacity', options.capacity, STAGE_STRATEGIES],
    ['sampleRate', options.sampleRate, SAMPLE_ONLY],
    ['sampleMode', options.sampleMode, SAMPLE_ONLY],
    ['sampleKey', options.sampleKey, SAMPLE_ONLY],
    ['sampleThreshold', options.sampleThreshold, SAMPLE_ONLY],
    ['random', options.random, SAMPLE_ONLY],
    ['priority', options.priority, PRIORITY_ONLY],
    ['keepAtLeast', options.keepAtLeast, PRIORITY_ONLY],
  ];
  for (const [name, value, strategies] of strategyOnly) {
    if (value !== undefined && !strategies.includes(strategy)) {
      const only = `${strategies.length === 1 ? 'strategy' : 'strategies'} ${oneOfList(strategies)}`;
      throw invalidOption('type', OWNER, name, `undefined with strategy '${strategy}' (it is for ${only})`, value);
    }
  }
  if (strategy === Strategy.BLOCK) return;
  stageCapacity(OWNER, 'capacity', options.capacity);
  if (strategy === Strategy.SAMPLE) {
    sampleSettings(
      OWNER,
      {
        rate: options.sampleRate,
        mode: options.sampleMode,
        key: options.sampleKey,
        threshold: options.sampleThreshold,
        random: options.random,
      },
      SAMPLE_NAMES,
    );
  } else if (strategy === Strategy.PRIORITY) {
    priorityFloors(OWNER, options, PRIORITY_NAMES);
  }
}
