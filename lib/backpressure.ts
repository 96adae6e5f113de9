import { BackpressureWritable, type BackpressureMetrics } from './backpressure-writable';
import type { BackpressureWritableOptions } from './options';
import type { BackpressureState, PressureSource } from './state';
import { pipeline, Writable } from './stream-classes';
import { dropNewest } from './stages/drop-newest';
import type { DropEvent } from './stages/drop-reasons';
import { dropOldest } from './stages/drop-oldest';
import { sample, type SampleMode, type SampleThreshold } from './stages/sample';
import { shedByPriority } from './stages/shed-by-priority';
import type { SheddingStage, StageMetrics } from './stages/shedding-stage';

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

/** Options of `backpressure()`: the writable's, plus the strategy and its stage's. */
export interface BackpressureOptions<T> extends BackpressureWritableOptions<T> {
  /** @default 'block' */
  strategy?: Strategy | undefined;
  /** Items the strategy stage holds in front of the writable (ignored by 'block'). @default 1000 */
  capacity?: number | undefined;
  /** 'sample': keep 1 in this many under pressure. @default 10 */
  sampleRate?: number | undefined;
  /** 'sample': how kept items are chosen. @default 'key' when `sampleKey` is set, else 'counter' */
  sampleMode?: SampleMode | undefined;
  /** 'sample': key of an item for key-based sampling. */
  sampleKey?: ((item: T) => unknown) | undefined;
  /** 'sample': pressure state from which sampling applies. @default 'elevated' */
  sampleThreshold?: SampleThreshold | undefined;
  /** 'sample' with `sampleMode: 'random'`: random source in [0, 1). @default Math.random */
  random?: (() => number) | undefined;
  /** 'priority': the item's priority, higher is more important. Required for 'priority'. */
  priority?: ((item: T) => number) | undefined;
  /** 'priority': lowest priority kept at each pressure level. @default see `shedByPriority` */
  keepAtLeast?: { elevated?: number | undefined; critical?: number | undefined } | undefined;
}

/** `getMetrics()` of a composition: one account of stage + writable, plus the stage's own. */
export interface StrategyMetrics extends BackpressureMetrics {
  stage: StageMetrics;
}

/**
 * The result of `backpressure()` for a shedding strategy: one Writable in front of a strategy stage
 * piped into a `BackpressureWritable`. Its `write()` never returns false (the stage never blocks).
 *
 * Events: `'drop'` (DropEvent, from the stage), `'state'`, `'flush'`, `'retry'`, `'dead-letter'`
 * (from the writable), and the Writable events. `'finish'` fires only once the writable has finished,
 * i.e. everything accepted was flushed, dropped or dead-lettered. Errors and `destroy()` propagate
 * both ways: an error in either part destroys the whole; destroying the whole destroys both parts
 * (what the stage holds was never shed by the strategy: it is handed to the writable, which
 * dead-letters it with its own; only if the writable is already gone does the stage drop it as `'destroyed'`).
 */
export class StrategyWritable<T> extends Writable implements PressureSource {
  readonly strategy: Strategy;
  readonly backpressureWritable: BackpressureWritable<T>;
  readonly stage: SheddingStage<T>;
  #finalCallback: ((error?: Error | null) => void) | null = null;

  constructor(strategy: Exclude<Strategy, 'block'>, options: BackpressureOptions<T>) {
    // Same high-water mark as the stage: our _write calls back synchronously, so write() is always true.
    super({ objectMode: true, highWaterMark: 16 });
    this.strategy = strategy;
    this.backpressureWritable = new BackpressureWritable<T>(options);
    this.stage = createStage(strategy, options, this.backpressureWritable);
    this.stage.on('drop', (event: DropEvent<T>) => this.emit('drop', event));
    for (const name of ['state', 'flush', 'retry', 'dead-letter'] as const) {
      this.backpressureWritable.on(name, (payload: unknown) => this.emit(name, payload));
    }
    pipeline(this.stage, this.backpressureWritable, (error) => this.#onPartsDone(error));
  }

  /** The writable's watermark state (the stage in front of it never blocks). */
  get state(): BackpressureState {
    return this.backpressureWritable.state;
  }

  /**
   * One account of the whole: `eventsAccepted === eventsFlushed + eventsDropped + eventsDeadLettered
   * + bufferSize + inFlight`, where `bufferSize` is what the stage holds plus what the writable holds,
   * and `eventsDropped` / `droppedByReason` are the stage's drops.
   */
  getMetrics(): StrategyMetrics {
    const stage = this.stage.getMetrics();
    const writable = this.backpressureWritable.getMetrics();
    const droppedByReason: Record<string, number> = { ...writable.droppedByReason };
    for (const [reason, count] of Object.entries(stage.droppedByReason)) {
      droppedByReason[reason] = (droppedByReason[reason] ?? 0) + count;
    }
    return {
      ...writable,
      eventsAccepted: stage.written,
      eventsDropped: stage.dropped + writable.eventsDropped,
      droppedByReason,
      bufferSize: stage.held + writable.bufferSize,
      stage,
    };
  }

  /**
   * Fast path, as in the stage: nothing ever waits in our Writable queue (we call back at once), so
   * hand the item to the stage without Writable#write's per-item bookkeeping. Everything unusual —
   * null, after end or destroy, corked — goes through Node's own write() and its errors.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  override write(chunk: any, encoding?: any, callback?: any): boolean {
    if (chunk === null || this.destroyed || this.writableEnded || this.writableCorked > 0 || this.writableLength > 0 || this.stage.destroyed) {
      return super.write(chunk, encoding, callback);
    }
    if (typeof encoding === 'function') callback = encoding;
    this.stage.write(chunk);
    if (typeof callback === 'function') process.nextTick(callback, null);
    return true;
  }

  override _write(item: T, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.stage.destroyed) {
      callback(this.stage.errored ?? new Error('the strategy stage was destroyed'));
      return;
    }
    this.stage.write(item);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    // Drain the stage into the writable, then the writable into the sink; #onPartsDone finishes us.
    this.#finalCallback = callback;
    // The whole composition's end() is bounded by drainTimeoutMs, not just the writable's part of it.
    this.backpressureWritable.beginDrainDeadline();
    this.stage.end();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#finalCallback = null;
    const writable = this.backpressureWritable;
    // What the stage holds was never shed by the strategy, so it is not a drop: hand it to the writable,
    // which dead-letters it with its own on destroy. Then destroy the stage (nothing left to drop).
    this.stage.handOverHeld(
      (item) => writable.write(item),
      () => !writable.destroyed && !writable.writableEnded,
    );
    this.stage.destroy(error ?? undefined);
    if (writable.closed) {
      callback(error ?? writable.errored);
      return;
    }
    // Wait for the writable to close: its dead-letter handling may be async, and when it has no
    // handler its error (ERR_BACKPRESSURE_DESTROYED, with the items) must not be lost. The caller's
    // own error, if any, wins; the items also went out in the forwarded 'dead-letter' event.
    writable.once('close', () => callback(error ?? writable.errored));
    writable.destroy(error ?? undefined);
  }

  #onPartsDone(error: Error | null | undefined): void {
    if (error) {
      this.destroy(error);
      return;
    }
    const callback = this.#finalCallback;
    this.#finalCallback = null;
    callback?.();
  }
}

function createStage<T>(strategy: Exclude<Strategy, 'block'>, options: BackpressureOptions<T>, pressure: PressureSource): SheddingStage<T> {
  const capacity = options.capacity;
  switch (strategy) {
    case Strategy.DROP_OLDEST:
      return dropOldest<T>({ capacity });
    case Strategy.DROP_NEWEST:
      return dropNewest<T>({ capacity });
    case Strategy.SAMPLE:
      return sample<T>({
        capacity,
        pressure,
        rate: options.sampleRate,
        mode: options.sampleMode,
        key: options.sampleKey,
        threshold: options.sampleThreshold,
        random: options.random,
      });
    case Strategy.PRIORITY: {
      if (typeof options.priority !== 'function') throw new TypeError("backpressure: strategy 'priority' needs a priority(item) function");
      return shedByPriority<T>({ capacity, pressure, priority: options.priority, keepAtLeast: options.keepAtLeast });
    }
  }
}

/**
 * The whole setup in one Writable: `await pipeline(source, backpressure({ strategy: 'drop-oldest', flush }))`.
 * `'block'` (the default) returns the `BackpressureWritable` itself; the other strategies return a
 * {@link StrategyWritable}: their stage composed with a `BackpressureWritable`, the stage bound to the
 * writable's pressure.
 */
export function backpressure<T>(options: BackpressureOptions<T> & { strategy?: 'block' | undefined }): BackpressureWritable<T>;
export function backpressure<T>(options: BackpressureOptions<T> & { strategy: Exclude<Strategy, 'block'> }): StrategyWritable<T>;
export function backpressure<T>(options: BackpressureOptions<T>): BackpressureWritable<T> | StrategyWritable<T>;
export function backpressure<T>(options: BackpressureOptions<T>): BackpressureWritable<T> | StrategyWritable<T> {
  const strategy = options?.strategy ?? Strategy.BLOCK;
  switch (strategy) {
    case Strategy.BLOCK:
      return new BackpressureWritable<T>(options);
    case Strategy.DROP_OLDEST:
    case Strategy.DROP_NEWEST:
    case Strategy.SAMPLE:
    case Strategy.PRIORITY:
      return new StrategyWritable<T>(strategy, options);
    default:
      throw new RangeError(`backpressure: strategy must be one of ${Object.values(Strategy).join(', ')}; got ${String(strategy)}`);
  }
}
