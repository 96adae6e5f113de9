import type { FlushContext } from './options';

/**
 * The `ctx` handed to `flush`. Its AbortController is created only when
 * `ctx.signal` is first read: an AbortController costs microseconds, which
 * per batch showed up as several percent of throughput with an instant sink,
 * and many sinks never look at the signal.
 */
export class FlushAttemptContext implements FlushContext {
  readonly attempt: number;
  #controller: AbortController | null = null;
  #abortReason: unknown = undefined;
  #aborted = false;
  /** onAbort() listeners registered while there was no controller. */
  #listeners: ((reason: unknown) => void)[] | null = null;

  constructor(attempt: number) {
    this.attempt = attempt;
  }

  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /** The attempt was aborted (timeout, destroy): what `signal.aborted` says, without creating it. */
  get aborted(): boolean {
    return this.#aborted;
  }

  get abortReason(): unknown {
    return this.#abortReason;
  }

  /**
   * Calls `listener` (once, with the reason) when this attempt is aborted, without creating
   * `signal`; returns the function that removes it. Not part of `FlushContext`: the sinks of this
   * package look for it (`SinkWriteContext.onAbort`) and fall back to `signal` without it.
   */
  onAbort(listener: (reason: unknown) => void): () => void {
    if (this.#aborted) {
      // Like an AbortSignal listener added after the abort: never called.
      return noop;
    }
    const listeners = (this.#listeners ??= []);
    listeners.push(listener);
    return () => {
      const i = listeners.indexOf(listener);
      if (i !== -1) listeners.splice(i, 1);
    };
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
    const listeners = this.#listeners;
    this.#listeners = null;
    if (listeners !== null) for (const listener of listeners.slice()) listener(reason);
  }
}

function noop(): void {}
