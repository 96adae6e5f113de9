import { RingBuffer } from '../util/ring-buffer';
import { BackpressureState, type PressureSource } from '../pressure/state';
import { pressureRank } from '../pressure/levels';
import { DropReason } from './drop-reasons';
import { keyHash } from './key-hash';
import { SheddingStage, type SheddingStageOptions, type StageMetrics } from './shedding-stage';
import { enumOption, functionOption, invalidOption } from '../util/validate';

/** How a sample stage picks the 1 in `rate` items it keeps under pressure. */
export const SampleMode = {
  /** Deterministic: a counter over every item that arrives under pressure keeps exactly every `rate`-th. */
  COUNTER: 'counter',
  /** Probabilistic: each item under pressure is kept with probability 1/`rate`. */
  RANDOM: 'random',
  /** By key: an item is kept iff `hash(key(item)) % rate === 0`, so a key's items survive or go together. */
  KEY: 'key',
} as const;

export type SampleMode = (typeof SampleMode)[keyof typeof SampleMode];

/** Pressure states at which sampling can start (`normal` would mean "always sample"). */
export type SampleThreshold =
  typeof BackpressureState.ELEVATED | typeof BackpressureState.CRITICAL | typeof BackpressureState.BLOCKED;

export interface SampleOptions<T> extends SheddingStageOptions {
  /**
   * Under pressure keep 1 in `rate` items. An integer ≥ 1 for `counter` and `key` modes, any number
   * ≥ 1 for `random`. `1` keeps everything.
   * @default 10
   */
  rate?: number | undefined;
  /**
   * How the kept items are chosen.
   * @default 'key' when `key` is given, else 'counter'
   */
  mode?: SampleMode | undefined;
  /** Key of an item, for `mode: 'key'`; hashed as `String(key)`. If it throws, the item is dropped as `'invalid-key'`. */
  key?: ((item: T) => unknown) | undefined;
  /**
   * Random source for `mode: 'random'`, returning [0, 1).
   * @default Math.random
   */
  random?: (() => number) | undefined;
  /**
   * Downstream pressure, read on every arrival (e.g. the `BackpressureWritable` this stage feeds;
   * `backpressure()` binds it for you). Without one, the stage uses its own hold's fill:
   * ≥ 50 % elevated, ≥ 80 % critical, full blocked.
   * @default undefined (the hold's own fill)
   */
  pressure?: PressureSource | undefined;
  /**
   * The pressure state from which sampling applies (inclusive); below it everything passes.
   * @default 'elevated' (sample whenever downstream is above normal)
   */
  threshold?: SampleThreshold | undefined;
}

export interface SampleMetrics extends StageMetrics {
  /** Items that arrived while pressure was at or above `threshold` (kept or not). */
  arrivedUnderPressure: number;
}

/** What the sample options are called where they are given: the stage's own names, or `backpressure()`'s. */
export interface SampleOptionNames {
  rate: string;
  mode: string;
  key: string;
  threshold: string;
  random: string;
}

const SAMPLE_OPTION_NAMES: SampleOptionNames = {
  rate: 'rate',
  mode: 'mode',
  key: 'key',
  threshold: 'threshold',
  random: 'random',
};

const SAMPLE_MODES: readonly SampleMode[] = Object.values(SampleMode);
const SAMPLE_THRESHOLDS: readonly SampleThreshold[] = [
  BackpressureState.ELEVATED,
  BackpressureState.CRITICAL,
  BackpressureState.BLOCKED,
];

/**
 * Validates the sampling options and fills in their defaults; throws the coded TypeError/RangeError
 * of `invalidOption`, naming the option as `names` spells it (`backpressure()` calls this with
 * `sampleRate`, `sampleMode`, … before it builds the stage).
 */
export function sampleSettings<T>(
  owner: string,
  options: Pick<SampleOptions<T>, 'rate' | 'mode' | 'key' | 'threshold' | 'random'>,
  names: SampleOptionNames,
): { rate: number; mode: SampleMode; threshold: SampleThreshold } {
  const mode = enumOption(
    owner,
    names.mode,
    options.mode,
    SAMPLE_MODES,
    options.key === undefined ? SampleMode.COUNTER : SampleMode.KEY,
  );
  const rate = options.rate ?? 10;
  const whole = mode !== SampleMode.RANDOM;
  const expected = whole ? 'an integer >= 1' : 'a finite number >= 1';
  if (typeof rate !== 'number') throw invalidOption('type', owner, names.rate, expected, rate);
  if (whole ? !(Number.isSafeInteger(rate) && rate >= 1) : !(rate >= 1 && Number.isFinite(rate))) {
    throw invalidOption('range', owner, names.rate, expected, rate);
  }
  functionOption(
    owner,
    names.key,
    options.key,
    mode === SampleMode.KEY,
    mode === SampleMode.KEY ? `a function (${names.mode} 'key' needs one)` : 'a function',
  );
  functionOption(owner, names.random, options.random, false);
  const threshold = enumOption(
    owner,
    names.threshold,
    options.threshold,
    SAMPLE_THRESHOLDS,
    BackpressureState.ELEVATED,
  );
  return { rate, mode, threshold };
}

/**
 * Keeps 1 in `rate` items while downstream is under pressure, everything otherwise. Items it keeps
 * but cannot pass yet wait in a hold of `capacity`; when that is full the item is dropped as
 * `'overflow'`, so the writer is never blocked.
 *
 * The deterministic counter counts every item that arrives under pressure, kept or not. (A counter
 * of accepted items only would stop advancing at the first drop, once `accepted % rate !== 0`, and
 * drop 100 % from then on; see __tests__/stages/sample-counter-regression.test.ts.) It is not reset when
 * pressure ends, so across many short bursts the kept share is still exactly 1 in `rate`.
 */
export class SampleStage<T> extends SheddingStage<T> {
  readonly rate: number;
  readonly mode: SampleMode;
  readonly #hold: RingBuffer<T>;
  readonly #key: ((item: T) => unknown) | undefined;
  readonly #random: () => number;
  readonly #pressure: PressureSource | undefined;
  readonly #thresholdRank: number;
  /** Position in the current run of `rate` arrivals under pressure; the item at 0 is kept. */
  #phase = 0;
  #arrivedUnderPressure = 0;

  constructor(options: SampleOptions<T> = {}) {
    super(options, [DropReason.SAMPLED_OUT, DropReason.OVERFLOW, DropReason.INVALID_KEY]);
    const { rate, mode, threshold } = sampleSettings(new.target.name, options, SAMPLE_OPTION_NAMES);
    this.rate = rate;
    this.mode = mode;
    this.#key = options.key;
    this.#random = options.random ?? Math.random;
    this.#pressure = options.pressure;
    this.#thresholdRank = pressureRank(threshold);
    this.#hold = new RingBuffer<T>(this.capacity);
  }

  override getMetrics(): SampleMetrics {
    return { ...super.getMetrics(), arrivedUnderPressure: this.#arrivedUnderPressure };
  }

  protected override admit(item: T): DropReason | null {
    if (this.pressureRankOf(this.#pressure) < this.#thresholdRank) return null;
    this.#arrivedUnderPressure++;
    switch (this.mode) {
      case SampleMode.COUNTER: {
        const kept = this.#phase === 0;
        this.#phase = this.#phase + 1 === this.rate ? 0 : this.#phase + 1;
        return kept ? null : DropReason.SAMPLED_OUT;
      }
      case SampleMode.RANDOM:
        return this.#random() * this.rate < 1 ? null : DropReason.SAMPLED_OUT;
      case SampleMode.KEY: {
        let key: unknown;
        try {
          key = (this.#key as (item: T) => unknown)(item);
        } catch {
          return DropReason.INVALID_KEY;
        }
        return keyHash(key) % this.rate === 0 ? null : DropReason.SAMPLED_OUT;
      }
    }
  }

  protected override get holdSize(): number {
    return this.#hold.size;
  }

  protected override hold(item: T): void {
    if (!this.full) this.#hold.push(item);
    else this.discard(item, DropReason.OVERFLOW);
  }

  protected override release(): T {
    return this.#hold.shift() as T;
  }
}

/** A {@link SampleStage}. */
export function sample<T>(options: SampleOptions<T> = {}): SampleStage<T> {
  return new SampleStage<T>(options);
}
