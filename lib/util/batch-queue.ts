import { RingBuffer } from './ring-buffer';

/**
 * A FIFO queue that is taken from in batches: items go into arrays ("chunks") cut at the size of
 * the batch last taken, so that in the steady state a batch is a whole chunk, handed over as it
 * is: no per-item copy out of a circular array, and `push` is a plain array push. A take that does
 * not line up with the chunks (the first one, or after the batch size changed) copies, and clears
 * what it took out of a chunk that stays, so the queue never keeps a taken item alive.
 *
 * Like RingBuffer it grows without bound: callers enforce their own bound before every push.
 */
/** Largest tail allocated up front (items); a longer one grows as it fills. */
const PREALLOCATE = 4096;

export class BatchQueue<T> {
  /** Cut chunks, oldest first; `#tail` (being filled) comes after them. */
  readonly #chunks = new RingBuffer<T[]>(4);
  #tail: T[] = [];
  /** Items in `#tail` (it is allocated at the chunk size, so its length may be larger). */
  #tailLength = 0;
  /** Items already taken from the oldest chunk (`#tail` when there are no cut chunks). */
  #offset = 0;
  #size = 0;
  /** Where the tail is cut: the size of the batch last taken (none before the first take). */
  #chunkSize = Infinity;

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    this.#tail[this.#tailLength++] = item;
    this.#size++;
    if (this.#tailLength >= this.#chunkSize) this.#cutTail();
  }

  /** Removes up to `count` oldest items and returns them in order, in an array the caller owns. */
  take(count: number): T[] {
    const n = count < this.#size ? count : this.#size;
    if (n > 0) this.#chunkSize = n;
    const first = this.#chunks.size > 0 ? (this.#chunks.peek() as T[]) : this.#tail;
    if (this.#offset === 0 && this.#lengthOf(first) === n) {
      // The steady state: the batch is exactly the oldest chunk.
      this.#dropFirst(first);
      this.#size -= n;
      return first;
    }
    const out = new Array<T>(n);
    let got = 0;
    while (got < n) {
      const chunk = this.#chunks.size > 0 ? (this.#chunks.peek() as T[]) : this.#tail;
      const from = this.#offset;
      const length = this.#lengthOf(chunk);
      const k = Math.min(length - from, n - got);
      for (let i = 0; i < k; i++) {
        out[got + i] = chunk[from + i] as T;
        chunk[from + i] = undefined as T; // taken: the chunk must not keep it alive
      }
      got += k;
      if (from + k === length) this.#dropFirst(chunk);
      else this.#offset = from + k;
    }
    this.#size -= n;
    return out;
  }

  /** Removes and returns everything, oldest first. */
  drain(): T[] {
    return this.take(this.#size);
  }

  #lengthOf(chunk: T[]): number {
    return chunk === this.#tail ? this.#tailLength : chunk.length;
  }

  /** The tail becomes a cut chunk, of exactly its items. */
  #cutTail(): void {
    const tail = this.#tail;
    if (tail.length !== this.#tailLength) tail.length = this.#tailLength;
    this.#chunks.push(tail);
    this.#newTail();
  }

  /**
   * Allocated at the chunk size (a push is then a store, not an array growing step by step), up
   * to PREALLOCATE: beyond that it grows as it fills, so a huge batch size with a trickle of
   * items does not reserve memory it may never use.
   */
  #newTail(): void {
    this.#tail = this.#chunkSize === Infinity ? [] : new Array<T>(Math.min(this.#chunkSize, PREALLOCATE));
    this.#tailLength = 0;
  }

  /** The oldest chunk is used up: forget it (the tail is replaced, not dropped). */
  #dropFirst(chunk: T[]): void {
    this.#offset = 0;
    if (this.#chunks.size > 0) this.#chunks.shift();
    else if (chunk === this.#tail) {
      if (chunk.length !== this.#tailLength) chunk.length = this.#tailLength;
      this.#newTail();
    }
  }
}
