import { RingBuffer } from '../util/ring-buffer';
import { DropReason } from './drop-reasons';
import { SheddingStage, type SheddingStageOptions } from './shedding-stage';

export type DropNewestOptions = SheddingStageOptions;

/**
 * Keeps what it already has: when downstream is backpressured and `capacity` items are held, the
 * incoming item is refused (`'rejected-newest'`). What passes is an unbroken prefix of each burst.
 * O(1) per item.
 */
export class DropNewestStage<T> extends SheddingStage<T> {
  readonly #hold: RingBuffer<T>;

  constructor(options: DropNewestOptions = {}) {
    super(options, [DropReason.REJECTED_NEWEST]);
    this.#hold = new RingBuffer<T>(this.capacity);
  }

  protected override get holdSize(): number {
    return this.#hold.size;
  }

  protected override hold(item: T): void {
    if (!this.full) this.#hold.push(item);
    else this.discard(item, DropReason.REJECTED_NEWEST);
  }

  protected override release(): T {
    return this.#hold.shift() as T;
  }
}

/** A {@link DropNewestStage}: never blocks its writer; under sustained pressure refuses what does not fit. */
export function dropNewest<T>(options: DropNewestOptions = {}): DropNewestStage<T> {
  return new DropNewestStage<T>(options);
}
