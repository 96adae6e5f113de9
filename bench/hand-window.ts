/**
 * The baseline of bench/library.bench.ts: what one writes by hand to send batches to an async sink
 * with a few in flight — a batch array, an in-flight count, a queue of full batches waiting for a
 * slot, `write()` false while one waits and `'drain'` once it got its slot. No bound on memory
 * beyond that, no retries, no timeouts, no accounting: the library must keep up while doing more.
 */
import { EventEmitter } from 'node:events';

export class HandWindow<T> extends EventEmitter {
  #batch: T[] = [];
  #inFlight = 0;
  readonly #waiting: T[][] = [];
  #needDrain = false;
  #idle: (() => void) | null = null;
  readonly #size: number;
  readonly #lanes: number;
  readonly #flush: (batch: T[]) => Promise<void>;

  constructor(size: number, lanes: number, flush: (batch: T[]) => Promise<void>) {
    super();
    this.#size = size;
    this.#lanes = lanes;
    this.#flush = flush;
  }

  write(item: T): boolean {
    this.#batch.push(item);
    if (this.#batch.length >= this.#size) {
      const batch = this.#batch;
      this.#batch = [];
      if (this.#inFlight < this.#lanes) this.#send(batch);
      else this.#waiting.push(batch);
    }
    if (this.#waiting.length > 0) {
      this.#needDrain = true;
      return false;
    }
    return true;
  }

  /** Sends the last partial batch and resolves once nothing is in flight. */
  end(): Promise<void> {
    if (this.#batch.length > 0) {
      const batch = this.#batch;
      this.#batch = [];
      if (this.#inFlight < this.#lanes) this.#send(batch);
      else this.#waiting.push(batch);
    }
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.#idle = resolve));
  }

  #send(batch: T[]): void {
    this.#inFlight++;
    this.#flush(batch).then(this.#done, (err: unknown) => this.emit('error', err));
  }

  readonly #done = (): void => {
    this.#inFlight--;
    const next = this.#waiting.shift();
    if (next !== undefined) this.#send(next);
    if (this.#waiting.length === 0 && this.#needDrain) {
      this.#needDrain = false;
      this.emit('drain');
    }
    if (this.#inFlight === 0 && this.#idle !== null) this.#idle();
  };
}
