import type { DeadLetterEvent } from './backpressure-events';
import { BackpressureError, ErrorCodes } from './errors';
import type { DeadLetterHandler } from './options';

/** What the dead letters ask of the stream (bound once by the stream). */
export interface DeadLetterHost<T> {
  emit(event: 'dead-letter', payload: DeadLetterEvent<T>): void;
  /** Handing items over is progress: a blocked writer's deadline starts again. */
  onProgress(): void;
  /**
   * An onDeadLetter call resolved: `items` are settled for good (`seqs`: their records, in durable
   * mode; `raw`: records that came back damaged, not items of the source), and the stream may be able
   * to finish.
   */
  onSettled(items: T[], seqs: number[] | null, raw: boolean): void;
  isDestroyed(): boolean;
  /** An onDeadLetter call failed: the stream must end (its `_destroy` reports `failure()`). */
  destroy(): void;
}

/**
 * The hand-over of items the stream gave up on to `onDeadLetter`, and its bookkeeping: calls
 * still pending (the stream finishes, or ends its destroy, only once they have settled), and
 * every item whose `onDeadLetter` call failed, for the stream's final error. Counting the items
 * as dead-lettered is the stream's job, done before they get here.
 */
export class DeadLetters<T> {
  readonly #handler: DeadLetterHandler<T> | undefined;
  readonly #host: DeadLetterHost<T>;
  /** onDeadLetter calls not settled yet: 'finish' and the end of destroy() wait for them. */
  #pending = 0;
  /** Every item whose onDeadLetter call failed, in order, each once: the stream's final error carries them all. */
  #failed: T[] | null = null;
  #failedCause: unknown = undefined;
  /** _destroy's callback, called once every pending onDeadLetter call has settled. */
  #destroyCallback: (() => void) | null = null;

  constructor(handler: DeadLetterHandler<T> | undefined, host: DeadLetterHost<T>) {
    this.#handler = handler;
    this.#host = host;
  }

  /** onDeadLetter calls not settled yet. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Items already counted as dead-lettered go to the 'dead-letter' listeners and to
   * onDeadLetter, each with its own copy: the stream keeps `items` to report them if
   * onDeadLetter fails, and never reads back an array it handed out.
   */
  handOver(items: T[], error: Error, seqs: number[] | null = null): void {
    this.#handOver(items, error, seqs, false);
  }

  /**
   * Durable mode: the raw bytes of a record that came back damaged (`error`: its DurableError), with
   * the seq to acknowledge once onDeadLetter took it. No 'dead-letter' event: the stream has emitted
   * 'corrupt' for it, and it is counted in `eventsCorrupt`, not as a dead-lettered item.
   */
  handOverRaw(bytes: Buffer, error: Error, seq: number): void {
    this.#handOver([bytes as unknown as T], error, [seq], true);
  }

  #handOver(items: T[], error: Error, seqs: number[] | null, raw: boolean): void {
    if (items.length === 0) return;
    const handler = this.#handler as DeadLetterHandler<T>;
    this.#host.onProgress();
    // Pending before the event: a listener that destroys the stream must find this call to wait for.
    this.#pending++;
    const given = items.slice();
    Promise.resolve()
      .then(() => handler(given, error))
      .then(
        () => {
          this.#pending--;
          // `items` is read again only when the call fails: on success it can go to onSettled.
          this.#host.onSettled(items, seqs, raw);
          this.#finishDestroyIfSettled();
        },
        (cause: unknown) => {
          this.#pending--;
          this.#onFailed(items, cause);
        },
      );
    if (!raw) this.#host.emit('dead-letter', { items: items.slice(), error } satisfies DeadLetterEvent<T>);
  }

  /** The stream's error for every item whose onDeadLetter call failed, or null when none did. */
  failure(): BackpressureError<T> | null {
    const items = this.#failed;
    if (items === null) return null;
    return new BackpressureError(ErrorCodes.DEAD_LETTER_FAILED, `onDeadLetter failed for ${items.length} item(s)`, {
      items: items.slice(),
      cause: this.#failedCause,
    });
  }

  /** Calls `callback` (the end of `_destroy`) once every pending onDeadLetter call has settled: now if none is pending. */
  whenSettled(callback: () => void): void {
    this.#destroyCallback = callback;
    this.#finishDestroyIfSettled();
  }

  /**
   * onDeadLetter failed: the items stay counted as dead-lettered and go back to the user in the
   * stream's error instead. Every failure adds its items, so the one final error carries every
   * item whose dead-lettering failed, each once, however many calls failed.
   */
  #onFailed(items: T[], cause: unknown): void {
    if (this.#failed === null) {
      this.#failed = [];
      this.#failedCause = cause;
    }
    for (const item of items) this.#failed.push(item);
    if (this.#host.isDestroyed()) this.#finishDestroyIfSettled();
    else this.#host.destroy(); // _destroy reports the failed items once every pending call has settled
  }

  #finishDestroyIfSettled(): void {
    const callback = this.#destroyCallback;
    if (callback === null || this.#pending > 0) return;
    this.#destroyCallback = null;
    callback();
  }
}
