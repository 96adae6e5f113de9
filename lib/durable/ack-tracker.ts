/**
 * Turns acknowledgements in any order into the contiguous acknowledged prefix
 * (the "watermark": every record below it is acknowledged), which is what the
 * checkpoint stores. Batches flushed with concurrency > 1 complete out of order;
 * a record acknowledged ahead of the watermark waits here until everything
 * before it is acknowledged too.
 *
 * One entry per handed-out read entry (a record, or a corrupt range covering
 * several sequence numbers), in a ring of typed arrays: no allocation per ack.
 * The ring holds what was read and not yet passed by the watermark: 33 bytes per
 * entry from the oldest unacknowledged one to the newest one read. A caller that
 * keeps reading while one old entry stays unacknowledged grows it.
 */
import { DurableError, DurableErrorCodes } from './durable-errors';

export class AckTracker {
  /** First sequence number not yet acknowledged: everything below it is. */
  watermark: number;
  /** Next sequence number to be handed out: acks must be below it. */
  delivered: number;
  /** Sequence numbers acknowledged above the watermark (waiting for a gap to close). */
  ackedAhead = 0;

  private capacity = 1024;
  private mask = this.capacity - 1;
  private head = 0;
  private size = 0;
  private starts = new Float64Array(this.capacity);
  private ends = new Float64Array(this.capacity);
  private segments = new Float64Array(this.capacity);
  private offsets = new Float64Array(this.capacity);
  private acked = new Uint8Array(this.capacity);

  constructor(startSeq: number) {
    this.watermark = startSeq;
    this.delivered = startSeq;
  }

  /** Records that [seq, seq + count) was handed out; it starts at `offset` in segment `segmentFirstSeq`. */
  push(seq: number, count: number, segmentFirstSeq: number, offset: number): void {
    if (this.size === this.capacity) this.grow();
    const slot = (this.head + this.size) & this.mask;
    this.starts[slot] = seq;
    this.ends[slot] = seq + count;
    this.segments[slot] = segmentFirstSeq;
    this.offsets[slot] = offset;
    this.acked[slot] = 0;
    this.size++;
    this.delivered = seq + count;
  }

  /**
   * Acknowledges the entry that starts at `seq`. Returns true when the watermark
   * moved. Acknowledging twice is harmless; a seq never handed out throws.
   */
  ack(seq: number): boolean {
    if (seq < this.watermark) return false;
    const slot = this.slotOf(seq);
    if (slot === -1) {
      throw new DurableError(
        DurableErrorCodes.ACK_UNKNOWN,
        `ack(${seq}): no record with this sequence number was read (read so far: below ${this.delivered}; a corrupt range is acknowledged by its first seq)`,
        { seq },
      );
    }
    if (this.acked[slot] === 1) return false;
    this.acked[slot] = 1;
    this.ackedAhead += (this.ends[slot] as number) - seq;
    if (slot !== this.head) return false;
    while (this.size > 0 && this.acked[this.head] === 1) {
      const end = this.ends[this.head] as number;
      this.ackedAhead -= end - this.watermark;
      this.watermark = end;
      this.acked[this.head] = 0;
      this.head = (this.head + 1) & this.mask;
      this.size--;
    }
    return true;
  }

  /** Where the watermark's record starts, when it was handed out (else undefined: it is the next one to read). */
  watermarkPosition(): { segmentFirstSeq: number; offset: number } | undefined {
    if (this.size === 0) return undefined;
    return { segmentFirstSeq: this.segments[this.head] as number, offset: this.offsets[this.head] as number };
  }

  private slotOf(seq: number): number {
    if (seq >= this.delivered || this.size === 0) return -1;
    // Fast path: no corrupt range between the watermark and seq, so the index is the distance.
    const guess = seq - this.watermark;
    if (guess < this.size) {
      const slot = (this.head + guess) & this.mask;
      if (this.starts[slot] === seq) return slot;
    }
    let lo = 0;
    let hi = this.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const slot = (this.head + mid) & this.mask;
      const start = this.starts[slot] as number;
      if (start === seq) return slot;
      if (start < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const copy = <A extends Float64Array | Uint8Array>(from: A, to: A): A => {
      for (let i = 0; i < this.size; i++) to[i] = from[(this.head + i) & this.mask] as number;
      return to;
    };
    this.starts = copy(this.starts, new Float64Array(capacity));
    this.ends = copy(this.ends, new Float64Array(capacity));
    this.segments = copy(this.segments, new Float64Array(capacity));
    this.offsets = copy(this.offsets, new Float64Array(capacity));
    this.acked = copy(this.acked, new Uint8Array(capacity));
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.head = 0;
  }
}
