import type { DeadLetterEvent } from './backpressure-events';
import type { DeadLetters } from './dead-letters';
import { BackpressureError, ErrorCodes, type ErrorCode } from './errors';
import type { DeadLetterHandler } from './options';

/** What giving up asks of the stream (bound once by the stream). */
export interface GiveUpHost<T> {
  emit(event: 'dead-letter', payload: DeadLetterEvent<T>): void;
  /**
   * Takes everything accepted and not yet accounted out of the stream — `first`, then what is in
   * flight, buffered and in Node's queue, oldest first — and counts it as dead-lettered before
   * anything observable happens. Returns the stream's own array (handed over without counting again).
   */
  takeAllHeld(first: readonly T[]): T[];
  isDestroyed(): boolean;
  destroy(error: Error): void;
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
  readonly #host: GiveUpHost<T>;
  /** Items handed to onDeadLetter or back in an error: `eventsDeadLettered`. */
  deadLettered = 0;
  /**
   * The coded error fail() is about to destroy the stream with (no onDeadLetter: its `items` are the
   * only way back). Set before the 'dead-letter' event, so that a listener calling destroy() without
   * an error cannot make the stream end quietly with those items in no error.
   */
  #failure: BackpressureError<T> | null = null;

  constructor(handler: DeadLetterHandler<T> | undefined, deadLetters: DeadLetters<T>, host: GiveUpHost<T>) {
    this.#handler = handler;
    this.#deadLetters = deadLetters;
    this.#host = host;
  }

  /** The error fail() destroyed (or is destroying) the stream with, if any. */
  get failure(): BackpressureError<T> | null {
    return this.#failure;
  }

  /** Hands undeliverable items (the stream's own, not yet counted) to onDeadLetter, or fails the stream with them. */
  deadLetter(items: T[], error: Error): void {
    if (items.length === 0) return;
    if (this.#handler === undefined) {
      const code = error instanceof BackpressureError ? error.code : ErrorCodes.FLUSH_FAILED;
      this.fail(code, error.message, items, error.cause ?? error);
      return;
    }
    this.deadLettered += items.length;
    this.#deadLetters.handOver(items, error);
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
    const all = this.#host.takeAllHeld(items);
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
  onDestroy(held: T[], error: Error | null): Error | null {
    let outcome: Error | null = error ?? this.#failure;
    if (held.length > 0) {
      const withoutHandler = this.#handler === undefined;
      const reason = new BackpressureError(ErrorCodes.DESTROYED, `destroyed with ${held.length} undelivered item(s)`, {
        cause: error ?? undefined,
        ...(withoutHandler ? { items: held } : {}),
      });
      if (withoutHandler) {
        this.#host.emit('dead-letter', { items: held.slice(), error: reason } satisfies DeadLetterEvent<T>);
        outcome = reason;
      } else {
        this.#deadLetters.handOver(held, reason);
      }
    }
    return outcome;
  }
}
