/**
 * The replay side of the log: hands out records in sequence order, from the
 * oldest unacknowledged one on, across segments, in bounded memory (one read
 * chunk plus the records the caller holds).
 *
 * Damage never stops it and never hides a loss. Sequence numbers are
 * consecutive by construction, so whatever is missing between two good records
 * (or between a good record and the end of its segment) is known exactly, and is
 * handed out as ONE corrupt entry covering the missing sequence numbers, with
 * the damaged bytes (as many as `maxCorruptBytes`) and ERR_DURABLE_CORRUPT_RECORD.
 * A record whose header is intact but whose payload fails its checksum is a
 * corrupt entry of its own. Bytes that cover no missing sequence number (a torn
 * write of a record that was written again later) are only counted.
 */
import { promises as fsp } from 'node:fs';
import type { AckTracker } from './ack-tracker';
import { DurableError, DurableErrorCodes } from './durable-errors';
import { FrameCursor } from './frame-cursor';
import { FRAME_HEADER_BYTES } from './record-frame';
import { plausibleSeq, type Segment } from './segment';

export interface ReadEntry {
  /** Sequence number; for a corrupt range, its first. Acknowledge the entry with `ack(seq)`. */
  seq: number;
  /** 1 for a record; for a corrupt range, how many sequence numbers it covers. */
  count: number;
  /**
   * The record's bytes. For a corrupt entry: the damaged bytes as found on disk
   * (possibly empty — a missing file has none — or cut at `maxCorruptBytes`,
   * then `error.rawTruncated` is true). A view into a read buffer: copy it if you
   * keep it for long and care about the memory of its neighbours.
   */
  payload: Buffer;
  /** null for a good record; ERR_DURABLE_CORRUPT_RECORD for damage. */
  error: DurableError | null;
}

export interface ReaderOptions {
  chunkBytes: number;
  maxCorruptBytes: number;
  /** Records below this seq were on disk when the log was opened (counted as recovered). */
  recoveredBelow: number;
  /** Highest seq (exclusive) the active segment may hold right now: anything above is not a real record. */
  durableSeq: () => number;
}

export class SegmentReader {
  /** Next sequence number to hand out. */
  readSeq: number;
  /** True while a `read()` runs (its segment must not be closed under it). */
  busy = false;
  /** Good records handed out that were on disk at open. */
  recovered = 0;
  /** Sequence numbers handed out as corrupt. */
  corrupt = 0;
  /** Bytes skipped that covered no missing record. */
  skippedBytes = 0;

  private seg: Segment | undefined;
  private cursor: FrameCursor | undefined;
  private startOffset: number;
  private garbageOffset = -1;
  private garbageBytes = 0;
  private maxThisRead = 0;

  constructor(
    private readonly segments: Segment[],
    private readonly tracker: AckTracker,
    startSeq: number,
    startSegment: Segment | undefined,
    startOffset: number,
    private readonly options: ReaderOptions,
  ) {
    this.readSeq = startSeq;
    this.seg = startSegment;
    this.startOffset = startOffset;
  }

  /** The segment being read, if any. */
  get segment(): Segment | undefined {
    return this.seg;
  }

  /** Where the record `readSeq` starts (or its damaged bytes do): the checkpoint's hint. */
  position(): { segmentFirstSeq: number; offset: number } {
    if (this.seg === undefined) return { segmentFirstSeq: this.readSeq, offset: 0 };
    const offset = this.garbageOffset >= 0 ? this.garbageOffset : (this.cursor?.offset ?? this.startOffset);
    return { segmentFirstSeq: this.seg.firstSeq, offset };
  }

  /** Up to `max` entries available now (possibly none), in order. */
  async read(max: number): Promise<ReadEntry[]> {
    const out: ReadEntry[] = [];
    this.maxThisRead = max;
    this.busy = true;
    try {
      while (out.length < max) {
        if (this.seg === undefined) {
          if (!this.pickSegment(out)) break;
          continue;
        }
        const seg = this.seg as Segment;
        if (this.cursor === undefined) {
          this.cursor = new FrameCursor(await fsp.open(seg.path, 'r'), this.startOffset, this.options.chunkBytes);
          this.startOffset = 0;
        }
        const cursor = this.cursor;
        const event = await cursor.next(seg.readableBytes);
        if (event === 'frame') {
          await this.onFrame(seg, cursor, out);
        } else if (event === 'garbage') {
          if (this.garbageOffset < 0) this.garbageOffset = cursor.garbageOffset;
          this.garbageBytes += cursor.garbageBytes;
        } else if (seg.sealed && (cursor.offset >= seg.readableBytes || cursor.short)) {
          // End of a finished segment: whatever its records should have been and were not, is lost.
          if (this.readSeq < seg.endSeq) await this.emitGap(seg, seg.endSeq - this.readSeq, out);
          else this.dropGarbage();
          await this.leaveSegment();
        } else {
          break; // caught up with the writer
        }
      }
    } finally {
      this.busy = false;
    }
    return out;
  }

  /** Closes the segment being read if it is `seg` (it is being deleted) and no read runs. */
  async release(seg: Segment): Promise<boolean> {
    if (this.seg !== seg) return true;
    if (this.busy || this.readSeq < seg.endSeq || !seg.sealed) return false;
    await this.leaveSegment();
    return true;
  }

  async close(): Promise<void> {
    await this.leaveSegment();
  }

  private async onFrame(seg: Segment, cursor: FrameCursor, out: ReadEntry[]): Promise<void> {
    const seq = cursor.header.seq;
    const limit = seg.sealed ? seg.endSeq : this.options.durableSeq();
    if (!plausibleSeq(seg, seq, cursor.frameOffset) || seq >= limit) {
      // Not a record this segment can hold (e.g. a frame-shaped payload found while resynchronising).
      if (this.garbageOffset < 0) this.garbageOffset = cursor.frameOffset;
      this.garbageBytes += FRAME_HEADER_BYTES + cursor.header.length;
      return;
    }
    if (seq < this.readSeq) {
      this.dropGarbage(); // already handed out (or acknowledged before the restart)
      return;
    }
    if (seq > this.readSeq) {
      await this.emitGap(seg, seq - this.readSeq, out);
      if (out.length >= this.maxThisRead) {
        cursor.seek(cursor.frameOffset); // the record itself goes out with the next read
        return;
      }
    } else {
      this.dropGarbage();
    }
    if (cursor.payloadOk) {
      out.push({ seq, count: 1, payload: cursor.payload, error: null });
      if (seq < this.options.recoveredBelow) this.recovered++;
    } else {
      const cap = this.options.maxCorruptBytes;
      const truncated = cursor.payload.length > cap;
      const error = new DurableError(DurableErrorCodes.CORRUPT_RECORD, `record ${seq} in ${seg.path} at byte ${cursor.frameOffset} fails its checksum`, {
        seq,
        count: 1,
        segment: seg.path,
        offset: cursor.frameOffset,
        rawTruncated: truncated,
      });
      out.push({ seq, count: 1, payload: truncated ? cursor.payload.subarray(0, cap) : cursor.payload, error });
      this.corrupt++;
    }
    this.tracker.push(seq, 1, seg.firstSeq, cursor.frameOffset);
    this.readSeq = seq + 1;
  }

  /** Hands out [readSeq, readSeq + count) as one corrupt entry, with the damaged bytes seen before it. */
  private async emitGap(seg: Segment, count: number, out: ReadEntry[]): Promise<void> {
    const seq = this.readSeq;
    const offset = this.garbageOffset >= 0 ? this.garbageOffset : (this.cursor?.offset ?? 0);
    const cap = this.options.maxCorruptBytes;
    const take = Math.min(this.garbageBytes, cap);
    const raw = take > 0 && this.cursor !== undefined ? await this.cursor.readBytes(offset, take) : Buffer.alloc(0);
    const error = new DurableError(
      DurableErrorCodes.CORRUPT_RECORD,
      `records ${seq}..${seq + count - 1} are missing or damaged in ${seg.path}` + (this.garbageBytes > 0 ? ` (${this.garbageBytes} unreadable bytes at byte ${offset})` : ''),
      { seq, count, segment: seg.path, offset, rawTruncated: this.garbageBytes > take },
    );
    out.push({ seq, count, payload: raw, error });
    this.tracker.push(seq, count, seg.firstSeq, offset);
    this.corrupt += count;
    this.readSeq = seq + count;
    this.garbageOffset = -1;
    this.garbageBytes = 0;
  }

  private dropGarbage(): void {
    this.skippedBytes += this.garbageBytes;
    this.garbageOffset = -1;
    this.garbageBytes = 0;
  }

  /** Picks the segment holding `readSeq`; records missing before it become a corrupt entry. */
  private pickSegment(out: ReadEntry[]): boolean {
    const next = this.segments.find((s) => !(s.sealed && s.endSeq <= this.readSeq));
    if (next === undefined) return false;
    this.seg = next;
    this.startOffset = 0;
    if (next.firstSeq > this.readSeq) {
      // A whole stretch of records has no segment file any more.
      const count = next.firstSeq - this.readSeq;
      const seq = this.readSeq;
      const error = new DurableError(DurableErrorCodes.CORRUPT_RECORD, `records ${seq}..${seq + count - 1} are missing: no segment file holds them`, {
        seq,
        count,
        segment: next.path,
        offset: 0,
        rawTruncated: false,
      });
      out.push({ seq, count, payload: Buffer.alloc(0), error });
      this.tracker.push(seq, count, next.firstSeq, 0);
      this.corrupt += count;
      this.readSeq = next.firstSeq;
    }
    return true;
  }

  private async leaveSegment(): Promise<void> {
    const cursor = this.cursor;
    this.cursor = undefined;
    this.seg = undefined;
    this.startOffset = 0;
    this.garbageOffset = -1;
    this.garbageBytes = 0;
    if (cursor !== undefined) await cursor.handle.close().catch(() => undefined);
  }
}
