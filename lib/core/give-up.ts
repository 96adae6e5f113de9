import type { DeadLetterEvent } from './backpressure-events';
import type { DeadLetters } from './dead-letters';
import type { DurableMode } from './durable-mode';
import { BackpressureError, ErrorCodes, type ErrorCode } from './errors';
import type { FlushScheduler } from './flush-scheduler';
import type { HeldBuffer } from './held-buffer';
import type { DeadLetterHandler } from './options';

/** What giving up asks of the stream (bound once by the stream). */
export interface GiveUpHost<T> {
  emit(event: 'dead-letter', payload: DeadLetterEvent<T>): void;
  isDestroyed(): boolean;
  destroy(error: Error): void;
  /** The state turns closed. */
  close(): void;
}

/** The parts holding items: what is given up is taken from them. */
export interface HeldParts<T> {
  held: HeldBuffer<T>;
  scheduler: FlushScheduler<T>;
  durable: DurableMode<T> | null;
}

/**
 * Where items go when the stream gives up on them — retries exhausted, a bad size, a deadline, a
 * failure, `destroy()`: to `onDeadLetter` when there is one (through {@link DeadLetters}),
 * otherwise back to the user in the stream's one coded error, `items`. Every item is counted as
 * dead-lettered before any listener runs, so the invariant holds inside them.
 */
export class GiveUp<T> {
  readonly #handler: DeadLetterHandler<T> | undefined;
  readonly #deadLetters: DeadLetters<T>;
  readonly #parts: HeldParts<T>;
  readonly #host: GiveUpHost<T>;
  /** Items handed to onDeadLetter or back in an error: `eventsDeadLettered`. */
  deadLettered = 0;
  /**
   * The coded error fail() is about to destroy the stream with (no onDeadLetter: its `items` are the
   * only way back). Set before the 'dead-letter' event, so that a listener calling destroy() without
   * an error cannot make the stream end quietly with those items in no error.
   */
  #failure: BackpressureError<T> | null = null;
  /** The ERR_BACKPRESSURE_DESTROYED error onDestroy() handed items back in, if any. */
  #destroyedWith: BackpressureError<T> | null = null;

  constructor(
    handler: DeadLetterHandler<T> | undefined,
    deadLetters: DeadLetters<T>,
    parts: HeldParts<T>,
    host: GiveUpHost<T>,
  ) {
    this.#handler = handler;
    this.#deadLetters = deadLetters;
    this.#parts = parts;
    this.#host = host;
  }

  /**
   * Gives up on everything accepted and not yet accounted: `first` (items the caller already took
   * out of the stream, not yet counted), then what is in flight, buffered and in Node's queue,
   * oldest first. All of it is counted as dead-lettered before anything observable happens —
   * aborting an attempt's signal runs user listeners — so the invariant holds inside them.
   * The caller hands the returned array (the stream's own) over without counting it again.
   *
   * Durable mode: the items in memory (in flight, read ahead) keep their records on disk, for the
   * next open, and are not given up; only the items not yet appended to the log have no other copy.
   */
  takeAllHeld(first: readonly T[]): T[] {
    const { held: buffer, scheduler, durable } = this.#parts;
    const held: T[] = first.slice();
    let running: ReturnType<FlushScheduler<T>['takeAllInFlight']>;
    if (durable === null) {
      running = scheduler.takeAllInFlight(held);
      buffer.takeAll(held);
    } else {
      const inMemory: T[] = [];
      running = scheduler.takeAllInFlight(inMemory);
      const error = new BackpressureError(
        ErrorCodes.DESTROYED,
        'the stream gave up before this write reached the disk',
      );
      durable.putBack(inMemory.length + buffer.discardAll(), held, error);
    }
    this.deadLettered += held.length;
    for (const context of running) {
      context.abort(new BackpressureError(ErrorCodes.DESTROYED, 'the stream gave up on this batch'));
    }
    return held;
  }

  /**
   * The body of `_destroy`: everything still held is dead-lettered (counted first, so every listener —
   * 'state' → closed included — sees the invariant hold), then `callback` gets the stream's error once
   * every onDeadLetter call made so far has settled: if any of them failed, it is
   * ERR_BACKPRESSURE_DEAD_LETTER_FAILED carrying every item whose dead-lettering failed, each once.
   *
   * Durable mode: what is on disk stays there for the next open. The log closes once every onDeadLetter
   * call has settled (their acknowledgements count); records it then could not commit (a full or
   * failing disk) are dead-lettered like the rest.
   */
  teardown(error: Error | null, callback: (error?: Error | null) => void): void {
    const held = this.takeAllHeld([]);
    this.#host.close();
    const outcome = this.#onDestroy(held, error);
    const deadLetters = this.#deadLetters;
    const durable = this.#parts.durable;
    if (durable === null) {
      deadLetters.whenSettled(() => callback(deadLetters.failure() ?? outcome));
      return;
    }
    deadLetters.whenSettled(() => {
      void durable.close().then(({ lost, error: closeError }) => {
        this.deadLettered += lost.length;
        const final = this.#onDestroyLate(lost, error, outcome);
        deadLetters.whenSettled(() => callback(deadLetters.failure() ?? final ?? closeError));
      });
    });
  }

  /** Whether there is an onDeadLetter (otherwise items given up on go back in the stream's error). */
  get hasHandler(): boolean {
    return this.#handler !== undefined;
  }

  /** The error fail() destroyed (or is destroying) the stream with, if any. */
  get failure(): BackpressureError<T> | null {
    return this.#failure;
  }

  /**
   * Hands undeliverable items (the stream's own, not yet counted) to onDeadLetter, or fails the stream
   * with them. `seqs` (durable mode): their records, acknowledged once onDeadLetter took them; when the
   * items go back in the stream's error instead, their records stay on disk (not settled).
   */
  deadLetter(items: T[], error: Error, seqs: number[] | null = null): void {
    if (items.length === 0) return;
    if (this.#handler === undefined) {
      const code = error instanceof BackpressureError ? error.code : ErrorCodes.FLUSH_FAILED;
      this.fail(code, error.message, items, error.cause ?? error);
      return;
    }
    this.deadLettered += items.length;
    this.#deadLetters.handOver(items, error, seqs);
  }

  /**
   * Fails the stream with a coded error. `items` (taken out of the stream, not yet counted) and
   * everything still held go with it: to onDeadLetter when there is one, otherwise in the
   * error's `items`. All of it is counted before any listener runs.
   */
  fail(code: ErrorCode, message: string, items: T[], cause: unknown): void {
    if (this.#host.isDestroyed()) {
      // Cannot happen through the public API (nothing reaches here after destroy); never lose items if it does.
      if (items.length === 0) return;
      this.deadLettered += items.length;
      const late = new BackpressureError(code, message, { items, cause });
      this.#host.emit('dead-letter', { items: items.slice(), error: late } satisfies DeadLetterEvent<T>);
      return;
    }
    const all = this.takeAllHeld(items);
    if (this.#handler !== undefined) {
      const error = new BackpressureError(code, message, { cause });
      this.#deadLetters.handOver(all, error);
      this.#host.destroy(error);
      return;
    }
    const pending = this.#failure;
    if (pending !== null) {
      // Re-entered from a 'dead-letter' listener of the failure in progress (it wrote into the stream,
      // or destroyed a composition, which hands its held items over), before that failure destroyed the
      // stream: the stream ends with ONE error, so it must carry these items too. Not destroyed here:
      // the outer fail() does that once its listeners return, so a composition being destroyed can
      // still hand over everything its stage holds (dead-lettered here, rather than dropped).
      const carried = pending.items as T[];
      for (const item of all) carried.push(item);
      this.#host.emit('dead-letter', { items: all.slice(), error: pending } satisfies DeadLetterEvent<T>);
      return;
    }
    const error = new BackpressureError(code, message, { items: all, cause });
    this.#failure = error;
    this.#host.emit('dead-letter', { items: all.slice(), error } satisfies DeadLetterEvent<T>);
    this.#host.destroy(error);
  }

  /**
   * The held-items part of `_destroy`: `held` (taken out of the stream and counted by the caller) is
   * dead-lettered with ERR_BACKPRESSURE_DESTROYED — to onDeadLetter, or, without one, in the error's
   * `items`, which then becomes the stream's error. Returns the error the stream ends with (before
   * any onDeadLetter failure, which wins: see DeadLetters.failure).
   */
  #onDestroy(held: T[], error: Error | null): Error | null {
    let outcome: Error | null = error ?? this.#failure;
    if (held.length > 0) {
      const withoutHandler = this.#handler === undefined;
      const reason = new BackpressureError(ErrorCodes.DESTROYED, `destroyed with ${held.length} undelivered item(s)`, {
        cause: error ?? undefined,
        ...(withoutHandler ? { items: held } : {}),
      });
      if (withoutHandler) {
        this.#destroyedWith = reason;
        this.#host.emit('dead-letter', { items: held.slice(), error: reason } satisfies DeadLetterEvent<T>);
        outcome = reason;
      } else {
        this.#deadLetters.handOver(held, reason);
      }
    }
    return outcome;
  }

  /**
   * Durable mode, once the log has closed at the end of `_destroy`: `lost` (counted by the caller) are
   * items whose records did not reach the disk (a full or failing disk). Like #onDestroy, but
   * without a handler they join the error the stream already ends with when it carries items (the
   * ERR_BACKPRESSURE_DESTROYED of onDestroy, or a failure's), so the stream still ends with one error.
   */
  #onDestroyLate(lost: T[], error: Error | null, outcome: Error | null): Error | null {
    if (lost.length === 0) return outcome;
    const carrier =
      outcome === this.#failure ? this.#failure : outcome === this.#destroyedWith ? this.#destroyedWith : null;
    if (this.#handler === undefined && carrier !== null) {
      const carried = carrier.items as T[];
      for (const item of lost) carried.push(item);
      this.#host.emit('dead-letter', { items: lost.slice(), error: carrier } satisfies DeadLetterEvent<T>);
      return carrier;
    }
    const answer = this.#onDestroy(lost, error);
    return this.#handler === undefined ? answer : outcome;
  }
}
