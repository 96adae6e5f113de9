import type { DeadLetters } from './dead-letters';
import type { DurableMode } from './durable-mode';
import { BackpressureError, ErrorCodes, type ErrorCode } from './errors';
import type { GiveUp } from './give-up';

type Callback = (error?: Error | null) => void;

/** What the end of the stream asks of it (bound once by the stream). */
export interface EndHost {
  isDestroyed(): boolean;
  destroy(error: Error): void;
  /** end(): the state turns draining, the write() hot path stops, and what is held is flushed at once. */
  startDraining(): void;
  /** Nothing held or in flight, no onDeadLetter call pending: everything accepted is accounted for. */
  isEmpty(): boolean;
  /** Items held or in flight. */
  holdsItems(): boolean;
  /** Every timer of the stream (flush, watchdog, circuit, block, and the drain deadline). */
  clearTimers(): void;
  /**
   * The drain deadline passed: the write() hot path stops (later items are dead-lettered on arrival),
   * and Node's withheld `_write` callback is handed over (called once everything held was given up).
   */
  abandoned(): Callback | null;
  /** Everything held was given up: re-evaluate the state, owe 'drain' to a paused writer. */
  resume(): void;
  /** The state turns closed (finished). */
  close(): void;
  /** Items held on disk and in memory (durable mode), for the drain-timeout message. */
  left(): number;
}

/**
 * The end of the stream: `end()` turns it draining, the `drainTimeoutMs` deadline bounds the drain, and
 * `_final`'s callback is called once everything accepted is accounted for — in durable mode once the
 * log is closed too. At the deadline, what is left is dead-lettered (or, without onDeadLetter, handed
 * back in the stream's error), and so is every item written afterwards, on arrival; in durable mode it
 * stays on disk for the next open instead, and the stream fails with the deadline's error.
 */
export class EndDrain<T> {
  readonly #drainTimeoutMs: number;
  readonly #host: EndHost;
  readonly #giveUp: GiveUp<T>;
  readonly #deadLetters: DeadLetters<T>;
  readonly #durable: DurableMode<T> | null;
  readonly #hasHandler: boolean;
  #deadlineStarted = false;
  #timer: NodeJS.Timeout | null = null;
  #finalCallback: Callback | null = null;
  /** Set when the drain deadline passed and everything held was handed over: later arrivals are dead-lettered with it. */
  abandonError: Error | null = null;

  readonly #onTimeout = (): void => {
    this.#timer = null;
    this.#abandon(ErrorCodes.DRAIN_TIMEOUT, `end() could not deliver everything within ${this.#drainTimeoutMs} ms`);
  };

  constructor(
    drainTimeoutMs: number,
    giveUp: GiveUp<T>,
    deadLetters: DeadLetters<T>,
    durable: DurableMode<T> | null,
    host: EndHost,
  ) {
    this.#drainTimeoutMs = drainTimeoutMs;
    this.#hasHandler = giveUp.hasHandler;
    this.#giveUp = giveUp;
    this.#deadLetters = deadLetters;
    this.#durable = durable;
    this.#host = host;
  }

  /** end() was called: drain, under the deadline. */
  begin(): void {
    this.#host.startDraining();
    this.beginDeadline();
  }

  /** Starts the `drainTimeoutMs` deadline (once; see BackpressureWritable.beginDrainDeadline). */
  beginDeadline(): void {
    if (this.#deadlineStarted || this.#host.isDestroyed()) return;
    this.#deadlineStarted = true;
    if (this.#drainTimeoutMs !== Infinity) this.#timer = setTimeout(this.#onTimeout, this.#drainTimeoutMs);
  }

  /** Node's `_final`: finish once everything is accounted for. */
  final(callback: Callback): void {
    this.#finalCallback = callback;
    this.maybeFinish();
  }

  maybeFinish(): void {
    const callback = this.#finalCallback;
    if (callback === null || !this.#host.isEmpty() || this.#deadLetters.pending > 0 || this.#host.isDestroyed()) return;
    const durable = this.#durable;
    if (durable !== null && !durable.drained) return;
    this.#finalCallback = null;
    this.#host.clearTimers(); // ours too
    if (durable === null) {
      this.#host.close();
      callback();
      return;
    }
    // Everything was delivered: the log closes (checkpoint, acknowledged segments deleted) before 'finish'.
    void durable.close().then(({ error }) => {
      this.#host.close();
      callback(error);
    });
  }

  clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Drain timeout: give up on what is left, hand it over, then let the stream finish. */
  #abandon(code: ErrorCode, message: string): void {
    if (this.#host.isDestroyed()) return;
    this.#host.clearTimers();
    const callback = this.#host.abandoned();
    const error = new BackpressureError(code, message);
    this.abandonError = error;
    if (this.#durable !== null) {
      // Nothing is lost by stopping: what is not delivered stays on disk for the next open.
      const stays = `${message}; ${this.#host.left()} item(s) stay in the durable log for the next open`;
      this.#host.destroy(new BackpressureError(code, stays));
      return;
    }
    if (!this.#hasHandler) {
      if (this.#host.holdsItems()) {
        // No handler: the stream fails with everything held in the error's items.
        this.#giveUp.fail(code, message, [], error);
        return;
      }
    } else {
      this.#deadLetters.handOver(this.#giveUp.takeAllHeld([]), error);
    }
    // The buffer is empty now: a paused writer (a composition's stage) may go on; what it writes is dead-lettered on arrival.
    this.#host.resume();
    callback?.(); // Node may now run _final
    this.maybeFinish();
  }
}
