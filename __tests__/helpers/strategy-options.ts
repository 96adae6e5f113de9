/**
 * For tests that run the same case under several strategies: `backpressure()` takes, per strategy,
 * exactly that strategy's options (and refuses the others'), so a test gives every option it might
 * need and `strategyOptions` passes on the ones the strategy takes.
 */
import type {
  BackpressureOptions,
  BackpressureWritableOptions,
  SampleMode,
  SampleThreshold,
  SheddingStrategyOptions,
  Strategy,
} from '../../lib';

/** A strategy with a stage in front of the writable. */
export type SheddingStrategy = Exclude<Strategy, 'block'>;

/** The strategy-specific options a test may give whatever the strategy. */
export interface StrategyExtras<T> {
  capacity?: number | undefined;
  sampleRate?: number | undefined;
  sampleMode?: SampleMode | undefined;
  sampleKey?: ((item: T) => unknown) | undefined;
  sampleThreshold?: SampleThreshold | undefined;
  random?: (() => number) | undefined;
  priority?: ((item: T) => number) | undefined;
  keepAtLeast?: { elevated?: number | undefined; critical?: number | undefined } | undefined;
}

/** Type guard for `strategies.filter(isShedding)`: the strategies that return a `StrategyWritable`. */
export function isShedding(strategy: Strategy): strategy is SheddingStrategy {
  return strategy !== 'block';
}

/**
 * `options` for `strategy`: the writable's options, plus those of `extras` that the strategy takes.
 * `'priority'` needs a `priority` function, as in `backpressure()`.
 */
export function strategyOptions<T>(
  strategy: SheddingStrategy,
  options: BackpressureWritableOptions<T> & StrategyExtras<T>,
): SheddingStrategyOptions<T>;
export function strategyOptions<T>(
  strategy: Strategy,
  options: BackpressureWritableOptions<T> & StrategyExtras<T>,
): BackpressureOptions<T>;
export function strategyOptions<T>(
  strategy: Strategy,
  options: BackpressureWritableOptions<T> & StrategyExtras<T>,
): BackpressureOptions<T> {
  const { capacity, sampleRate, sampleMode, sampleKey, sampleThreshold, random, priority, keepAtLeast, ...writable } =
    options;
  switch (strategy) {
    case 'block':
      return { ...writable, strategy };
    case 'drop-oldest':
    case 'drop-newest':
      return { ...writable, strategy, capacity };
    case 'sample':
      return { ...writable, strategy, capacity, sampleRate, sampleMode, sampleKey, sampleThreshold, random };
    case 'priority':
      if (priority === undefined) throw new Error("strategyOptions: strategy 'priority' needs a priority function");
      return { ...writable, strategy, capacity, priority, keepAtLeast };
  }
}
