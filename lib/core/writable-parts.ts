import type { CorruptEvent } from './backpressure-events';
import { DeadLetters, type DeadLetterHost } from './dead-letters';
import { DurableMode, type DurableHost } from './durable-mode';
import { EndDrain, type EndHost } from './end-drain';
import { ErrorCodes } from './errors';
import { FlushScheduler, type FlushHost } from './flush-scheduler';
import { GiveUp, type GiveUpHost } from './give-up';
import { HeldBuffer } from './held-buffer';
import { collectMetrics, type BackpressureMetrics } from './metrics';
import type { ResolvedOptions } from './options';
import { Settler } from './settlement';
import type { DurableError } from '../durable/durable-errors';
import { PressureTracker } from '../pressure/pressure-tracker';
import { BackpressureState } from '../pressure/state';

type WriteCallback = (error?: Error | null) => void;

/** The stream the parts work for, as the parts see its public side. */
export interface PartsStream {
  emit(event: string, payload: unknown): boolean;
  readonly destroyed: boolean;
  destroy(error?: Error): unknown;
  getMetrics(): BackpressureMetrics;
}

/**
 * What only the façade can answer: the state its write() fast path reads and writes (its flags, Node's
 * withheld `_write` callback, the owed `'drain'`), bound once by the façade.
 */
export interface FacadeState {
  /** Finished or destroyed (Node's `destroyed` says so before the state does). */
  isClosed(): boolean;
  /** Re-evaluates the pressure state (not once destroyed). */
  updateState(): void;
  /** A batch left the buffer: let Node hand over what it holds, re-evaluate the state, let durable mode read on. */
  onRoom(): void;
  /** The state left blocked: a `'drain'` may be owed. */
  onLeftBlocked(): void;
  /** The write() fast path no longer applies (end() was called). */
  stopFastPath(): void;
  /** See EndHost.abandoned. */
  abandoned(): WriteCallback | null;
  /** See EndHost.resume. */
  resume(): void;
}

/**
 * The parts of a `BackpressureWritable`, built in the order they need each other, and the one object
 * every part asks of the stream (the hosts of dead-letters.ts, give-up.ts, flush-scheduler.ts,
 * durable-mode.ts and end-drain.ts): what one part asks is mostly another part's job, and is answered
 * here; what only the façade knows is in {@link FacadeState}. The façade keeps its own references to
 * the parts its write() path uses, so that nothing is reached through here item by item.
 */
export class WritableParts<T> implements DeadLetterHost<T>, GiveUpHost<T>, FlushHost<T>, DurableHost<T>, EndHost {
  /** Accepted items not in flight (our ring plus the mirror of Node's write queue). */
  readonly held: HeldBuffer<T>;
  /** The watermark state, its thresholds and the block timer. */
  readonly pressure: PressureTracker;
  /** Durable mode: the log every accepted item goes through (null in memory mode). */
  readonly durable: DurableMode<T> | null;
  /** onDeadLetter hand-overs: pending calls, failed items, the end of destroy(). */
  readonly deadLetters: DeadLetters<T>;
  /** Batches on their way to `flush`: jobs, attempts, retries, circuit waits, adaptive sizes. */
  readonly scheduler: FlushScheduler<T>;
  /** Where items go when the stream gives up on them (onDeadLetter, or the stream's error), and the count. */
  readonly giveUp: GiveUp<T>;
  /** Settled items: their records acknowledged, onSettled told. */
  readonly settler: Settler<T>;
  /** end(), the drain deadline, finishing. */
  readonly end: EndDrain<T>;

  readonly #o: ResolvedOptions<T>;
  readonly #stream: PartsStream;
  readonly #facade: FacadeState;
  // The façade's own answers, taken as they are (no call through here on the way).
  readonly isClosed: () => boolean;
  readonly updateState: () => void;
  readonly onRoom: () => void;
  readonly abandoned: () => WriteCallback | null;
  readonly resume: () => void;

  // Bound once: no closures per item or per timer arm.
  readonly #onBlockTimeout = (): void => {
    this.giveUp.fail(
      ErrorCodes.BLOCK_TIMEOUT,
      `writer blocked for ${this.#o.maxBlockTimeMs} ms without the sink making progress`,
      [],
      undefined,
    );
  };
  readonly utilization = (): number => (this.durable === null ? this.held.utilization() : this.durable.utilization());

  constructor(o: ResolvedOptions<T>, stream: PartsStream, facade: FacadeState) {
    this.#o = o;
    this.#stream = stream;
    this.#facade = facade;
    this.isClosed = facade.isClosed;
    this.updateState = facade.updateState;
    this.onRoom = facade.onRoom;
    this.abandoned = facade.abandoned;
    this.resume = facade.resume;
    const { maxBufferSize, maxBufferBytes, sizeOf, durable, onDeadLetter } = o;
    this.held = new HeldBuffer<T>(maxBufferSize, maxBufferBytes, sizeOf !== undefined, durable !== undefined);
    this.durable = durable === undefined ? null : new DurableMode(durable, maxBufferSize, sizeOf, this.held, this);
    this.pressure = new PressureTracker(o, stream, this.utilization, this.#onBlockTimeout, facade.onLeftBlocked);
    this.deadLetters = new DeadLetters(onDeadLetter, this);
    this.scheduler = new FlushScheduler(o, this.held, this.pressure, this);
    const parts = { held: this.held, scheduler: this.scheduler, durable: this.durable };
    this.giveUp = new GiveUp(onDeadLetter, this.deadLetters, parts, this);
    this.settler = new Settler(o.onSettled, this.durable, (message, cause) => {
      if (!stream.destroyed) this.giveUp.fail(ErrorCodes.SETTLED_HANDLER_FAILED, message, [], cause);
    });
    this.end = new EndDrain(o.drainTimeoutMs, this.giveUp, this.deadLetters, this.durable, this);
  }

  /**
   * Durable mode, Node's construct step: opens the log (Node holds `_final` meanwhile, and reports an
   * open failure as the stream's error).
   */
  openLog(callback: (error?: Error | null) => void): void {
    (this.durable as DurableMode<T>).open().then(() => {
      callback();
      // As fs streams do once their file is open: a caller can wait for the lock and the
      // recovery before it reads any input (an open failure is the stream's 'error' instead).
      if (!this.#stream.destroyed) this.#stream.emit('ready', undefined);
    }, callback);
  }

  /** One `getMetrics()` snapshot; the façade counts `eventsAccepted` itself (its fast path does). */
  metrics(eventsAccepted: number): BackpressureMetrics {
    return collectMetrics({
      state: this.pressure.state,
      held: this.held,
      scheduler: this.scheduler,
      durable: this.durable,
      utilization: this.utilization(),
      maxBufferSize: this.#o.maxBufferSize,
      eventsAccepted,
      eventsDeadLettered: this.giveUp.deadLettered,
    });
  }

  emit(event: string, payload: unknown): void {
    this.#stream.emit(event, payload);
  }

  isDestroyed(): boolean {
    return this.#stream.destroyed;
  }

  destroy(error?: Error): void {
    this.#stream.destroy(error);
  }

  fail(error: Error): void {
    if (!this.#stream.destroyed) this.#stream.destroy(error);
  }

  onProgress(): void {
    this.pressure.rearmBlockTimerOnProgress();
  }

  onSettled(items: T[], seqs: number[] | null, raw: boolean): void {
    this.settler.settle(items, 'dead-lettered', seqs, raw);
    this.end.maybeFinish();
  }

  settled(items: T[], seqs: number[] | null): void {
    this.settler.settle(items, 'flushed', seqs, false);
  }

  deadLetter(items: T[], error: Error, seqs: number[] | null): void {
    this.giveUp.deadLetter(items, error, seqs);
  }

  deadLetterRaw(bytes: Buffer, error: DurableError, seq: number): boolean {
    if (this.#o.onDeadLetter === undefined) return false;
    this.deadLetters.handOverRaw(bytes, error, seq);
    return true;
  }

  emitCorrupt(event: CorruptEvent): void {
    this.#stream.emit('corrupt', event);
  }

  maybeFinish(): void {
    this.end.maybeFinish();
  }

  pump(): void {
    this.scheduler.pump();
  }

  refFlushTimer(): void {
    this.scheduler.refFlushTimer();
  }

  startDraining(): void {
    this.pressure.transition(BackpressureState.DRAINING);
    this.#facade.stopFastPath();
  }

  isEmpty(): boolean {
    return this.held.size === 0 && this.scheduler.inFlightBatches === 0;
  }

  holdsItems(): boolean {
    return this.held.size > 0 || this.scheduler.inFlightBatches > 0;
  }

  /** Every timer of the stream: flush, watchdog, circuit, adaptive, drain deadline, block. */
  clearTimers(): void {
    this.scheduler.clearTimers();
    this.end.clearTimer();
    this.pressure.clearBlockTimer();
  }

  close(): void {
    this.pressure.transition(BackpressureState.CLOSED);
  }

  left(): number {
    return this.#stream.getMetrics().bufferSize + this.scheduler.inFlight;
  }
}
