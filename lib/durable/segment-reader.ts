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

/** A record handed out by `read()`. */
export interface GoodEntry<T> {
  /** Its sequence number: acknowledge it with `ack(seq)`. */
  seq: number;
  count: 1;
  /** The record's bytes (a copy, the caller's to keep), or what `read()`'s `decode` made of them. */
  payload: T;
  error: null;
}

/** Records that cannot be handed out as they were written, with why. Acknowledge it by its `seq` too. */
export interface CorruptEntry {
  /** The first sequence number concerned. */
  seq: number;
  /** How many sequence numbers it covers (≥ 1). */
  count: number;
  /**
   * The raw bytes as found on disk: possibly empty (a missing file has none) or
   * cut at `maxCorruptBytes` (then `error.rawTruncated` is true).
   */
  payload: Buffer;
  /** ERR_DURABLE_CORRUPT_RECORD (damaged or missing), or ERR_DURABLE_DECODE_FAILED (intact bytes `decode` threw on; `cause` says why). */
  error: DurableError;
}

export type ReadEntry<T = Buffer> = GoodEntry<T> | CorruptEntry;

/**
 * Turns a record's bytes into what `read()` hands out, synchronously. The view
 * it gets is valid only during the call: this is what lets a replay decode
 * straight from the read buffer, without a copy per record.
 */
export type Decode<T> = (payload: Buffer, seq: number) => T;

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
  /** Intact records `decode` threw on. */
  undecodable = 0;
  /** Bytes skipped that covered no missing record. */
  skippedBytes = 0;

  private seg: Segment | undefined;
  private cursor: FrameCursor | undefined;
  private startOffset: number;
  private garbageOffset = -1;
  private garbageBytes = 0;
  private maxThisRead = 0;
  private decode: Decode<unknown> | undefined;

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
  async read(max: number, decode?: Decode<unknown>): Promise<Array<ReadEntry<unknown>>> {
    const out: Array<ReadEntry<unknown>> = [];
    this.maxThisRead = max;
    this.decode = decode;
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
        let event = cursor.tryNext(seg.readableBytes);
        if (event === 'more') event = await cursor.next(seg.readableBytes);
        if (event === 'frame') {
          // Synchronous unless records are missing before this one (their bytes are read for the report).
          if (cursor.header.seq > this.readSeq && plausibleSeq(seg, cursor.header.seq, cursor.frameOffset))
            await this.onGapBefore(seg, cursor, out);
          else this.onFrame(seg, cursor, out);
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

  /**
   * Hands out the next `count` records without reading them, for a caller that holds their payloads
   * already (records this process appended, durable now): each is recorded for acknowledgement at its
   * exact place — a segment of this process holds its frames back to back from its start, each
   * 24 bytes + `payloadBytes(i)` — and the read position moves past them, so that a later `read()`
   * goes on from the next one. Returns how many it handed out: fewer (or none) when a read runs, bytes
   * are being skipped, or a record is not where it must be; the rest is then read from disk as usual.
   */
  handOver(count: number, payloadBytes: (index: number) => number): number {
    if (this.busy || this.garbageOffset >= 0 || this.garbageBytes > 0) return 0;
    let seg = this.seg;
    let offset = seg === undefined ? 0 : (this.cursor?.offset ?? this.startOffset);
    let done = 0;
    for (; done < count; done++) {
      const seq = this.readSeq;
      if (seg === undefined || seq >= seg.endSeq) {
        // The record opens the next segment: frames start at its first byte.
        const next = this.segments.find((s) => s.firstSeq === seq);
        if (next === undefined || seq >= next.endSeq) break;
        seg = next;
        offset = 0;
      } else if (!plausibleSeq(seg, seq, offset)) {
        break;
      }
      this.tracker.push(seq, 1, seg.firstSeq, offset);
      offset += FRAME_HEADER_BYTES + payloadBytes(done);
      this.readSeq = seq + 1;
    }
    if (done === 0 || seg === undefined) return done;
    if (seg !== this.seg) {
      const cursor = this.cursor;
      this.cursor = undefined;
      this.seg = seg;
      this.startOffset = offset;
      if (cursor !== undefined) void cursor.handle.close().catch(() => undefined);
    } else if (this.cursor !== undefined) {
      this.cursor.seek(offset);
    } else {
      this.startOffset = offset;
    }
    return done;
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

  /** A frame whose seq is ahead of `readSeq`: the records in between are missing; report them first. */
  private async onGapBefore(seg: Segment, cursor: FrameCursor, out: Array<ReadEntry<unknown>>): Promise<void> {
    const seq = cursor.header.seq;
    if (seq >= this.seqLimit(seg)) {
      this.onFrame(seg, cursor, out); // not a real record: counted as garbage there
      return;
    }
    const frameOffset = cursor.frameOffset;
    await this.emitGap(seg, seq - this.readSeq, out);
    if (out.length >= this.maxThisRead) {
      cursor.seek(frameOffset); // the record itself goes out with the next read
      return;
    }
    this.onFrame(seg, cursor, out);
  }

  /** Highest seq (exclusive) `seg` can hold right now. */
  private seqLimit(seg: Segment): number {
    return seg.sealed ? seg.endSeq : this.options.durableSeq();
  }

  private onFrame(seg: Segment, cursor: FrameCursor, out: Array<ReadEntry<unknown>>): void {
    const seq = cursor.header.seq;
    if (!plausibleSeq(seg, seq, cursor.frameOffset) || seq >= this.seqLimit(seg)) {
      // Not a record this segment can hold (e.g. a frame-shaped payload found while resynchronising).
      if (this.garbageOffset < 0) this.garbageOffset = cursor.frameOffset;
      this.garbageBytes += FRAME_HEADER_BYTES + cursor.header.length;
      return;
    }
    if (seq < this.readSeq) {
      this.dropGarbage(); // already handed out (or acknowledged before the restart)
      return;
    }
    this.dropGarbage(); // seq === readSeq here: bytes before it covered no missing record
    if (cursor.payloadOk) {
      if (this.decode === undefined) {
        out.push({ seq, count: 1, payload: Buffer.from(cursor.payload), error: null });
      } else {
        let value: unknown;
        try {
          value = this.decode(cursor.payload, seq);
        } catch (err) {
          const error = new DurableError(
            DurableErrorCodes.DECODE_FAILED,
            `record ${seq} in ${seg.path} is intact but could not be decoded: ${(err as Error).message}`,
            {
              cause: err,
              seq,
              count: 1,
              segment: seg.path,
              offset: cursor.frameOffset,
              rawTruncated: false,
            },
          );
          out.push({ seq, count: 1, payload: Buffer.from(cursor.payload), error });
          this.undecodable++;
          this.tracker.push(seq, 1, seg.firstSeq, cursor.frameOffset);
          this.readSeq = seq + 1;
          return;
        }
        out.push({ seq, count: 1, payload: value, error: null });
      }
      if (seq < this.options.recoveredBelow) this.recovered++;
    } else {
      const cap = this.options.maxCorruptBytes;
      const truncated = cursor.payload.length > cap;
      const error = new DurableError(
        DurableErrorCodes.CORRUPT_RECORD,
        `record ${seq} in ${seg.path} at byte ${cursor.frameOffset} fails its checksum`,
        {
          seq,
          count: 1,
          segment: seg.path,
          offset: cursor.frameOffset,
          rawTruncated: truncated,
        },
      );
      out.push({
        seq,
        count: 1,
        payload: Buffer.from(truncated ? cursor.payload.subarray(0, cap) : cursor.payload),
        error,
      });
      this.corrupt++;
    }
    this.tracker.push(seq, 1, seg.firstSeq, cursor.frameOffset);
    this.readSeq = seq + 1;
  }

  /** Hands out [readSeq, readSeq + count) as one corrupt entry, with the damaged bytes seen before it. */
  private async emitGap(seg: Segment, count: number, out: Array<ReadEntry<unknown>>): Promise<void> {
    const seq = this.readSeq;
    const offset = this.garbageOffset >= 0 ? this.garbageOffset : (this.cursor?.offset ?? 0);
    const cap = this.options.maxCorruptBytes;
    const take = Math.min(this.garbageBytes, cap);
    const raw = take > 0 && this.cursor !== undefined ? await this.cursor.readBytes(offset, take) : Buffer.alloc(0);
    const error = new DurableError(
      DurableErrorCodes.CORRUPT_RECORD,
      `records ${seq}..${seq + count - 1} are missing or damaged in ${seg.path}` +
        (this.garbageBytes > 0 ? ` (${this.garbageBytes} unreadable bytes at byte ${offset})` : ''),
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
  private pickSegment(out: Array<ReadEntry<unknown>>): boolean {
    const next = this.segments.find((s) => !(s.sealed && s.endSeq <= this.readSeq));
    if (next === undefined) return false;
    this.seg = next;
    this.startOffset = 0;
    if (next.firstSeq > this.readSeq) {
      // A whole stretch of records has no segment file any more.
      const count = next.firstSeq - this.readSeq;
      const seq = this.readSeq;
      const error = new DurableError(
        DurableErrorCodes.CORRUPT_RECORD,
        `records ${seq}..${seq + count - 1} are missing: no segment file holds them`,
        {
          seq,
          count,
          segment: next.path,
          offset: 0,
          rawTruncated: false,
        },
      );
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
