import {
  BACKPRESSURE_EVENTS,
  type BackpressureEventMap,
  type BackpressureEventName,
} from '../core/backpressure-events';
import { BackpressureWritable, type BackpressureMetrics } from '../core/backpressure-writable';
import { BackpressureError, ErrorCodes, isBackpressureError } from '../core/errors';
import { BackpressureState, type PressureSource, type StateChange } from '../pressure/state';
import { Writable } from '../util/stream-classes';
import type { WriteDoneCallback } from '../util/write-signature';
import { dropNewest } from '../stages/drop-newest';
import type { DropEvent } from '../stages/drop-reasons';
import { dropOldest } from '../stages/drop-oldest';
import { sample } from '../stages/sample';
import { shedByPriority } from '../stages/shed-by-priority';
import { type SheddingStage, type StageMetrics } from '../stages/shedding-stage';
import { invalidOption, oneOfList } from '../util/validate';
import {
  OWNER,
  STRATEGIES,
  Strategy,
  checkStrategyOptions,
  type BackpressureOptions,
  type BlockStrategyOptions,
  type SheddingStrategyOptions,
} from './backpressure-options';

// The options live beside their run-time checks; users import them from here (and lib/index.ts).
export { Strategy } from './backpressure-options';
export type {
  BackpressureOptions,
  BlockStrategyOptions,
  DropStrategyOptions,
  PriorityStrategyOptions,
  SampleStrategyOptions,
  SheddingStrategyOptions,
} from './backpressure-options';

/** `getMetrics()` of a composition: one account of stage + writable, plus the stage's own. */
export interface StrategyMetrics extends BackpressureMetrics {
  stage: StageMetrics;
}

/**
 * The result of `backpressure()` for a shedding strategy: one Writable made of a strategy stage and
 * a `BackpressureWritable`. It never refuses an item and never makes its writer wait more than one
 * event-loop turn: `write()` returns false only when the stage's hold starts to fill (or, for sample
 * and priority, the writable rises above normal), and `'drain'` follows on the next `setImmediate`,
 * whatever the sink does (see {@link SheddingStage}).
 *
 * How items move: while the writable takes writes (its `write()` said true: not `blocked`) and the
 * stage holds nothing, an item goes straight into the writable, in the same call. Only while the
 * writable is blocked does an item go to the stage, whose policy holds or drops it; when the
 * writable leaves `blocked` (its `'state'` event, synchronous), the held items move into it, oldest
 * first, on the next microtask, until it is full again. Nothing waits for a later tick or a
 * macrotask, so a producer that runs as a chain of microtasks (an async generator in `pipeline()`)
 * is dropped from only when the sink is really behind. Order is kept across both parts: an item
 * goes straight through only when nothing is held.
 *
 * Events: `'drop'` (DropEvent, from the stage) and every event in {@link BACKPRESSURE_EVENTS}
 * (`'state'`, `'flush'`, `'retry'`, `'dead-letter'`, `'circuit'`, from the writable), plus the
 * Writable events. `getMetrics()` balances inside every one of them. `'finish'` fires only once the
 * writable has finished, i.e. everything accepted was flushed, dropped or dead-lettered. Errors and
 * `destroy()` propagate both ways: an error in either part destroys the whole; destroying the whole
 * destroys both parts (what the stage holds was never shed by the strategy: it is handed to the
 * writable, which dead-letters it with its own; only if the writable is already gone does the stage
 * drop it as `'destroyed'`, an event each).
 *
 * `cork()` does not delay acceptance: a corked item is accepted at once, like any other, so that
 * `destroy()` accounts it (Node would otherwise keep it in its own queue and discard it).
 */
export class StrategyWritable<T> extends Writable implements PressureSource {
  readonly strategy: Strategy;
  readonly backpressureWritable: BackpressureWritable<T>;
  readonly stage: SheddingStage<T>;
  #finalCallback: ((error?: Error | null) => void) | null = null;
  #ending = false;
  #writableFinished = false;
  #pumpScheduled = false;

  /** Moves held items into the writable once it has room; ends it once the stage is empty after end(). */
  readonly #pump = (): void => {
    this.#pumpScheduled = false;
    const writable = this.backpressureWritable;
    if (this.destroyed || writable.destroyed || writable.writableEnded) return;
    if (writable.state !== BackpressureState.BLOCKED) this.stage.resumeOutlet();
    if (this.#ending && this.stage.held === 0 && !writable.destroyed) {
      this.stage.end();
      writable.end();
    }
  };
  readonly #onWritableState = (change: StateChange): void => {
    if (change.to === BackpressureState.CLOSED) {
      if (this.backpressureWritable.destroyed) this.#onPartGone(this.backpressureWritable);
    } else if (change.from === BackpressureState.BLOCKED) {
      this.#schedulePump();
    }
  };
  readonly #onWritableFinish = (): void => {
    this.#writableFinished = true;
    const callback = this.#finalCallback;
    this.#finalCallback = null;
    callback?.();
  };
  /** The error the writable emitted, if any: its ERR_BACKPRESSURE_DEAD_LETTER_FAILED must reach the user (see _destroy). */
  #writableError: Error | null = null;
  readonly #onWritableError = (error: Error): void => {
    this.#writableError = error;
    this.destroy(error);
  };
  readonly #onPartError = (error: Error): void => {
    this.destroy(error);
  };
  readonly #onWritableClose = (): void => {
    if (!this.#writableFinished) this.#onPartGone(this.backpressureWritable);
  };
  readonly #onStageClose = (): void => {
    if (this.stage.errored === null && this.stage.writableFinished) return; // ended after end(): not a failure
    this.#onPartGone(this.stage);
  };

  // Typed events: the writable's ({@link BACKPRESSURE_EVENTS}), forwarded, and the stage's `'drop'`;
  // the `Writable` events as for every stream.
  override on<E extends BackpressureEventName>(event: E, listener: (payload: BackpressureEventMap<T>[E]) => void): this;
  override on(event: 'drop', listener: (event: DropEvent<T>) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  override once<E extends BackpressureEventName>(
    event: E,
    listener: (payload: BackpressureEventMap<T>[E]) => void,
  ): this;
  override once(event: 'drop', listener: (event: DropEvent<T>) => void): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this;
  override once(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.once(event, listener);
  }

  constructor(strategy: Exclude<Strategy, 'block'>, options: SheddingStrategyOptions<T>) {
    // Same high-water mark as the stage: Node's own write() path (end(item)) never reports us full,
    // because _write calls back synchronously.
    super({ objectMode: true, highWaterMark: 16 });
    this.strategy = strategy;
    // The stage's options first, so a bad one is refused before the writable exists (nothing to tear down).
    checkStrategyOptions(strategy, options);
    if (options.strategy !== strategy) {
      const expected = `'${strategy}', the strategy it is constructed with`;
      throw invalidOption('range', 'StrategyWritable', 'strategy', expected, options.strategy);
    }
    const writable = new BackpressureWritable<T>(options);
    this.backpressureWritable = writable;
    this.stage = createStage(options, writable);
    // The writable can be destroyed inside its own write() (a bad sizeOf and no onDeadLetter): from
    // then on nothing is written into it, so no item can vanish into a destroyed stream; what the
    // stage then holds is dropped as 'destroyed' when the whole is destroyed.
    this.stage.attachOutlet((item) => writable.write(item) && !writable.destroyed);
    this.stage.on('drop', (event: DropEvent<T>) => this.emit('drop', event));
    // The stage's one-turn yield is ours: our write() returned its false.
    this.stage.on('drain', () => {
      if (!this.destroyed) this.emit('drain');
    });
    for (const name of BACKPRESSURE_EVENTS) writable.on(name, (payload: unknown) => this.emit(name, payload));
    // After the forwarding listener, so users see the state change before anything moves.
    writable.on('state', this.#onWritableState);
    writable.on('finish', this.#onWritableFinish);
    writable.on('error', this.#onWritableError);
    writable.on('close', this.#onWritableClose);
    this.stage.on('error', this.#onPartError);
    this.stage.on('close', this.#onStageClose);
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
   * Fast path, as in the stage: nothing ever waits in our Writable queue (we call back at once, and
   * accept corked items at once too), so hand the item to the stage without Writable#write's
   * per-item bookkeeping. Everything unusual — null, after end or destroy — goes through Node's own
   * write() and its errors.
   */
  override write(chunk: unknown, callback?: WriteDoneCallback): boolean;
  override write(chunk: unknown, encoding: BufferEncoding, callback?: WriteDoneCallback): boolean;
  override write(chunk: unknown, encoding?: BufferEncoding | WriteDoneCallback, callback?: WriteDoneCallback): boolean {
    if (chunk === null || this.destroyed || this.writableEnded || this.writableLength > 0 || this.stage.destroyed) {
      // Node's write() with the arguments as given, so that its own checks and errors apply.
      if (typeof encoding === 'function') return super.write(chunk, encoding);
      if (encoding === undefined) return super.write(chunk, callback);
      return super.write(chunk, encoding, callback);
    }
    if (typeof encoding === 'function') callback = encoding;
    const ok = this.stage.write(chunk);
    if (typeof callback === 'function') process.nextTick(callback, null);
    return ok;
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
    // Drain the stage into the writable, then the writable into the sink; the writable's 'finish' finishes us.
    this.#finalCallback = callback;
    this.#ending = true;
    // The whole composition's end() is bounded by drainTimeoutMs, not just the writable's part of it.
    this.backpressureWritable.beginDrainDeadline();
    this.#pump();
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
      callback(this.#outcome(error));
      return;
    }
    // Wait for the writable to close: its dead-letter handling may be async, and when it has no
    // handler its error (ERR_BACKPRESSURE_DESTROYED, with the items) must not be lost.
    writable.once('close', () => callback(this.#outcome(error)));
    writable.destroy(error ?? undefined);
  }

  /**
   * The error the whole reports once the writable has closed, the writable's rule: if onDeadLetter
   * failed, its ERR_BACKPRESSURE_DEAD_LETTER_FAILED (the only error that carries those items) wins
   * over every other, the caller's own `destroy(err)` included (which stays in `errored`). Otherwise
   * the caller's own error wins (the items went out in the forwarded 'dead-letter' event), then the
   * writable's.
   */
  #outcome(error: Error | null): Error | null {
    const emitted = this.#writableError;
    if (isBackpressureError(emitted, ErrorCodes.DEAD_LETTER_FAILED)) return emitted;
    return error ?? emitted ?? this.backpressureWritable.errored;
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    // A microtask, not the 'state' listener itself: the writable is in the middle of a transition.
    // Not process.nextTick: a producer running as a microtask chain would starve it.
    queueMicrotask(this.#pump);
  }

  /**
   * A part was destroyed (or closed early) on its own: destroy the whole now, synchronously, so that
   * no later write reaches a destroyed part. The part's error, if it has one yet, is ours; otherwise
   * _destroy picks it up once the writable has closed.
   */
  #onPartGone(part: BackpressureWritable<T> | SheddingStage<T>): void {
    if (this.destroyed) return;
    const error =
      part.errored ??
      (part === this.stage
        ? new BackpressureError(ErrorCodes.DESTROYED, 'the strategy stage was destroyed')
        : undefined);
    this.destroy(error);
  }
}

function createStage<T>(options: SheddingStrategyOptions<T>, pressure: PressureSource): SheddingStage<T> {
  const capacity = options.capacity;
  switch (options.strategy) {
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
    case Strategy.PRIORITY:
      return shedByPriority<T>({ capacity, pressure, priority: options.priority, keepAtLeast: options.keepAtLeast });
  }
}

/**
 * The whole setup in one Writable: `await pipeline(source, backpressure({ strategy: 'drop-oldest', flush }))`.
 * `'block'` (the default) returns the `BackpressureWritable` itself; the other strategies return a
 * {@link StrategyWritable}: their stage composed with a `BackpressureWritable`, the stage bound to the
 * writable's pressure. Each strategy takes exactly its own options ({@link BackpressureOptions}).
 */
export function backpressure<T>(options: BlockStrategyOptions<T>): BackpressureWritable<T>;
export function backpressure<T>(options: SheddingStrategyOptions<T>): StrategyWritable<T>;
export function backpressure<T>(options: BackpressureOptions<T>): BackpressureWritable<T> | StrategyWritable<T>;
export function backpressure<T>(options: BackpressureOptions<T>): BackpressureWritable<T> | StrategyWritable<T> {
  // A JavaScript caller may pass anything: the writable refuses a non-object in its own words.
  if (options === null || typeof options !== 'object') return new BackpressureWritable<T>(options);
  const strategy: unknown = options.strategy;
  switch (options.strategy) {
    case undefined:
    case Strategy.BLOCK:
      checkStrategyOptions(Strategy.BLOCK, options);
      return new BackpressureWritable<T>(options);
    case Strategy.DROP_OLDEST:
    case Strategy.DROP_NEWEST:
    case Strategy.SAMPLE:
    case Strategy.PRIORITY:
      return new StrategyWritable<T>(options.strategy, options);
    default:
      throw invalidOption(
        typeof strategy === 'string' ? 'range' : 'type',
        OWNER,
        'strategy',
        `one of ${oneOfList(STRATEGIES)}`,
        strategy,
      );
  }
}
