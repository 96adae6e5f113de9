/**
 * A FIFO queue on a power-of-two circular array: O(1) push, shift and
 * batch take, no `Array.shift()` or `splice(0, n)` (both O(n) in V8 on
 * large arrays). It grows by doubling when full, so callers enforce their own
 * bound; in this package the bound is checked before every push.
 */
export class RingBuffer<T> {
  #items: (T | undefined)[];
  #mask: number;
  #head = 0;
  #size = 0;

  constructor(initialCapacity = 16) {
    let capacity = 16;
    while (capacity < initialCapacity) capacity *= 2;
    this.#items = new Array<T | undefined>(capacity);
    this.#mask = capacity - 1;
  }

  get size(): number {
    return this.#size;
  }

  push(item: T): void {
    if (this.#size > this.#mask) this.#grow();
    this.#items[(this.#head + this.#size) & this.#mask] = item;
    this.#size++;
  }

  /** Removes and returns the oldest item; `undefined` when empty. */
  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined; // let the GC have it
    this.#head = (this.#head + 1) & this.#mask;
    this.#size--;
    return item;
  }

  /** The item `index` places from the oldest (0: the oldest), without removing it; `undefined` past the end. */
  at(index: number): T | undefined {
    return index < 0 || index >= this.#size ? undefined : this.#items[(this.#head + index) & this.#mask];
  }

  /** The oldest item without removing it. */
  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#items[this.#head];
  }

  /** Removes up to `count` oldest items and returns them in order. */
  take(count: number): T[] {
    const n = Math.min(count, this.#size);
    const out = new Array<T>(n);
    for (let i = 0; i < n; i++) {
      const index = (this.#head + i) & this.#mask;
      out[i] = this.#items[index] as T;
      this.#items[index] = undefined;
    }
    this.#head = (this.#head + n) & this.#mask;
    this.#size -= n;
    return out;
  }

  /** Removes and returns everything, oldest first. */
  drain(): T[] {
    return this.take(this.#size);
  }

  /** Visits items oldest first without removing them. */
  forEach(visit: (item: T) => void): void {
    for (let i = 0; i < this.#size; i++) visit(this.#items[(this.#head + i) & this.#mask] as T);
  }

  #grow(): void {
    const old = this.#items;
    const capacity = old.length * 2;
    const next = new Array<T | undefined>(capacity);
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & this.#mask];
    this.#items = next;
    this.#head = 0;
    this.#mask = capacity - 1;
  }
}
