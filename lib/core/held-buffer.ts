import { BatchQueue } from '../util/batch-queue';
import { RingBuffer } from '../util/ring-buffer';

/**
 * Every accepted item the writable holds and has not handed to `flush` yet, oldest first, with
 * its size in bytes: our own ring, plus a mirror of Node's write queue (items written while we
 * withheld acceptance, which Node hands to `_write` later), so that both are counted, bounded
 * and reported. It knows nothing of flushing or states; the writable decides what to do when
 * it is full.
 */
export class HeldBuffer<T> {
  /**
   * Ours: items accepted into the stream. The writable's fast path pushes here directly. A batch
   * queue, not a ring: in the steady state a batch leaves as the array it was pushed into.
   */
  readonly ring = new BatchQueue<T>();
  readonly #ringSizes: RingBuffer<number> | undefined;
  #ringBytes = 0;
  /** Mirror of Node's write queue, in the same order. */
  readonly #queued = new RingBuffer<T>();
  readonly #queuedSizes: RingBuffer<number> | undefined;
  #queuedBytes = 0;
  /** Items still in Node's queue when everything was handed over: already accounted when they reach _write. */
  #handedOverInNodeQueue = 0;
  /** Lower bound of the arrival time of the oldest item in `ring`. */
  oldestAt = 0;
  readonly #maxItems: number;
  readonly #maxBytes: number;
  /** Durable mode: the log sequence number of each item in `ring`, in step with it. */
  readonly #seqs: RingBuffer<number> | undefined;

  /**
   * @param measured whether items have sizes (`sizeOf` set): otherwise every size is 0 and none is stored.
   * @param tagged durable mode: every ring item carries the sequence number of its record.
   */
  constructor(maxItems: number, maxBytes: number, measured: boolean, tagged = false) {
    this.#maxItems = maxItems;
    this.#maxBytes = maxBytes;
    if (measured) {
      this.#ringSizes = new RingBuffer<number>();
      this.#queuedSizes = new RingBuffer<number>();
    }
    if (tagged) this.#seqs = new RingBuffer<number>();
  }

  /** Items held: the ring plus Node's queue. */
  get size(): number {
    return this.ring.size + this.#queued.size;
  }

  /** Bytes held: the ring plus Node's queue. */
  get bytes(): number {
    return this.#ringBytes + this.#queuedBytes;
  }

  /** Items waiting in Node's queue. */
  get queuedSize(): number {
    return this.#queued.size;
  }

  /** Puts an accepted item into the ring. Returns true when the ring was empty before. */
  push(item: T, size: number): boolean {
    const wasEmpty = this.ring.size === 0;
    if (wasEmpty) this.oldestAt = Date.now();
    this.ring.push(item);
    if (this.#ringSizes !== undefined) {
      this.#ringSizes.push(size);
      this.#ringBytes += size;
    }
    return wasEmpty;
  }

  /** Durable mode: puts an item read back from the log, with its record's seq, into the ring. */
  pushTagged(item: T, size: number, seq: number): boolean {
    (this.#seqs as RingBuffer<number>).push(seq);
    return this.push(item, size);
  }

  /** The seqs of the `count` items `take(count)` just took, or null outside durable mode. */
  takeSeqs(count: number): number[] | null {
    return this.#seqs === undefined ? null : this.#seqs.take(count);
  }

  /**
   * Durable mode: forgets every item in the ring (their records stay on disk, to be read again by the
   * next open) and returns how many there were.
   */
  discardAll(): number {
    const count = this.ring.size;
    this.ring.drain();
    this.#seqs?.drain();
    this.#ringSizes?.drain();
    this.#ringBytes = 0;
    return count;
  }

  /** An item goes into Node's queue, behind what Node already holds. */
  mirrorQueued(item: T, size: number): void {
    this.#queued.push(item);
    this.#queuedSizes?.push(size);
    this.#queuedBytes += size;
  }

  /** Node hands its oldest queued item to _write: forget it here and return its size. */
  shiftQueued(): number {
    this.#queued.shift();
    const size = this.#queuedSizes?.shift() ?? 0;
    this.#queuedBytes -= size;
    return size;
  }

  /** An item reaching _write was in Node's queue when everything was handed over: true once per such item. */
  consumeHandedOver(): boolean {
    if (this.#handedOverInNodeQueue === 0) return false;
    this.#handedOverInNodeQueue--;
    return true;
  }

  /** Up to `count` items from the ring, oldest first, for one batch: an array the caller owns. */
  take(count: number): T[] {
    const batch = this.ring.take(count);
    if (this.#ringSizes !== undefined) {
      for (const size of this.#ringSizes.take(batch.length)) this.#ringBytes -= size;
    }
    return batch;
  }

  /**
   * Empties both, appending the ring's items then Node's queue to `into`, oldest first. Node
   * still holds the queued ones: they are remembered so _write does not count them again.
   */
  takeAll(into: T[]): void {
    this.#handedOverInNodeQueue += this.#queued.size;
    for (const item of this.ring.drain()) into.push(item);
    for (const item of this.#queued.drain()) into.push(item);
    this.#ringSizes?.drain();
    this.#queuedSizes?.drain();
    this.#ringBytes = 0;
    this.#queuedBytes = 0;
  }

  /** The ring is full (Node's queue not counted): _write withholds its callback. */
  isRingFull(): boolean {
    return this.ring.size >= this.#maxItems || this.#ringBytes >= this.#maxBytes;
  }

  /** Full counting Node's queue too: no more fast-path acceptance. */
  isFull(): boolean {
    return (
      this.ring.size + this.#queued.size >= this.#maxItems || this.#ringBytes + this.#queuedBytes >= this.#maxBytes
    );
  }

  /** max(items / maxBufferSize, bytes / maxBufferBytes). */
  utilization(): number {
    const items = (this.ring.size + this.#queued.size) / this.#maxItems;
    const bytes = (this.#ringBytes + this.#queuedBytes) / this.#maxBytes;
    return items > bytes ? items : bytes;
  }
}
