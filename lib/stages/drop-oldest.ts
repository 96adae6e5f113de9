import { RingBuffer } from '../util/ring-buffer';
import { DropReason } from './drop-reasons';
import { SheddingStage, type SheddingStageOptions } from './shedding-stage';

export type DropOldestOptions = SheddingStageOptions;

/**
 * Keeps the freshest data: when downstream is backpressured and `capacity` items are held, the
 * oldest held item is dropped (`'evicted-oldest'`) to make room for the newcomer. O(1) per item.
 */
export class DropOldestStage<T> extends SheddingStage<T> {
  readonly #hold: RingBuffer<T>;

  constructor(options: DropOldestOptions = {}) {
    super(options, [DropReason.EVICTED_OLDEST]);
    // Sized up front so the ring never grows on the hot path.
    this.#hold = new RingBuffer<T>(this.capacity);
  }

  protected override get holdSize(): number {
    return this.#hold.size;
  }

  protected override hold(item: T): void {
    // An item already handed to the readable side cannot be called back, so with an empty hold
    // there is nothing to evict (capacity 1, consumer mid-read): take the newcomer anyway.
    if (!this.full || this.#hold.size === 0) {
      this.#hold.push(item);
      return;
    }
    const evicted = this.#hold.shift() as T;
    this.#hold.push(item);
    this.discard(evicted, DropReason.EVICTED_OLDEST);
  }

  protected override release(): T {
    return this.#hold.shift() as T;
  }
}

/** A {@link DropOldestStage}: never blocks its writer; under sustained pressure keeps the newest `capacity` items. */
export function dropOldest<T>(options: DropOldestOptions = {}): DropOldestStage<T> {
  return new DropOldestStage<T>(options);
}
