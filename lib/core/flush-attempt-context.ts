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

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
  }
}
