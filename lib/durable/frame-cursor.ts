/**
 * Walks the frames of one segment file in order, in bounded memory, and never
 * gets stuck: every call either returns a frame, returns a stretch of bytes that
 * are not a frame ("garbage": damage, a torn write, zero fill), or says there is
 * nothing more below the limit. Each call moves `offset` forward or returns
 * 'end', so a caller's loop always terminates, whatever the file holds.
 *
 * Resynchronisation: when the bytes at `offset` are not a valid header (or a
 * header whose frame would run past the limit), the cursor searches for the next
 * magic whose header checks out and whose frame fits, and reports everything
 * before it as garbage. A damaged record thus costs itself, not its segment.
 */
import type { FileHandle } from 'node:fs/promises';
import {
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  findMagic,
  newFrameHeader,
  payloadMatches,
  readFrameHeader,
  type FrameHeader,
} from './record-frame';

export type CursorEvent = 'frame' | 'garbage' | 'end';

/** Default read size: large enough that per-read overhead vanishes, small enough to bound memory. */
export const DEFAULT_READ_CHUNK_BYTES = 1024 * 1024;

export class FrameCursor {
  /** File offset of the next byte not yet returned. */
  offset: number;
  /** True when the last `next()` found the file shorter than the limit it was given. */
  short = false;

  // Results of the last `next()` (reused: no allocation per frame beyond the payload view).
  /** 'frame': where the frame starts. */
  frameOffset = 0;
  /** 'frame': its header. */
  readonly header: FrameHeader = newFrameHeader();
  /** 'frame': a view of the payload bytes, valid until the next call (copy it to keep it). */
  payload: Buffer = Buffer.alloc(0);
  /** 'frame': whether the payload matches its checksum. */
  payloadOk = false;
  /** 'garbage': where it starts and how many bytes. */
  garbageOffset = 0;
  garbageBytes = 0;

  private buf: Buffer = Buffer.alloc(0);
  /** File offsets covered by `buf`: [bufStart, bufEnd). */
  private bufStart = 0;
  private bufEnd = 0;

  constructor(
    readonly handle: FileHandle,
    startOffset: number,
    private readonly chunkBytes = DEFAULT_READ_CHUNK_BYTES,
  ) {
    this.offset = startOffset;
  }

  /** Moves the cursor (e.g. back to 0 when a checkpoint's offset hint turned out wrong). */
  seek(offset: number): void {
    this.offset = offset;
  }

  /**
   * `next()` without I/O, for the common case of a whole intact-header frame
   * already in the buffer: 'more' when that is not so (then call `next()`).
   * Saves a promise per record on replay.
   */
  tryNext(limit: number): CursorEvent | 'more' {
    const start = this.offset;
    if (start >= limit) {
      this.short = false;
      return 'end';
    }
    if (start < this.bufStart || start + FRAME_HEADER_BYTES > this.bufEnd || !this.frameFitsAt(start, limit))
      return 'more';
    const total = FRAME_HEADER_BYTES + this.header.length;
    if (start + total > this.bufEnd) return 'more';
    this.short = false;
    const from = start - this.bufStart + FRAME_HEADER_BYTES;
    this.payload = this.buf.subarray(from, from + this.header.length);
    this.payloadOk = payloadMatches(this.payload, this.header);
    this.frameOffset = start;
    this.offset = start + total;
    return 'frame';
  }

  /** Reads the next frame or garbage stretch that lies entirely below `limit`. */
  async next(limit: number): Promise<CursorEvent> {
    this.short = false;
    const start = this.offset;
    if (start >= limit) return 'end';
    if (limit - start >= FRAME_HEADER_BYTES) {
      if (!(await this.ensure(start, FRAME_HEADER_BYTES, limit))) return 'end';
      if (this.frameFitsAt(start, limit)) {
        const total = FRAME_HEADER_BYTES + this.header.length;
        if (!(await this.ensure(start, total, limit))) return 'end';
        const from = start - this.bufStart + FRAME_HEADER_BYTES;
        this.payload = this.buf.subarray(from, from + this.header.length);
        this.payloadOk = payloadMatches(this.payload, this.header);
        this.frameOffset = start;
        this.offset = start + total;
        return 'frame';
      }
    }
    return this.resync(start, limit);
  }

  /** Reads `length` bytes at `offset` into a new Buffer (for handing damaged bytes to the caller). */
  async readBytes(offset: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(out, done, length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === length ? out : out.subarray(0, done);
  }

  /** Valid header at `at` (already buffered) whose whole frame lies below `limit`. Fills `header`. */
  private frameFitsAt(at: number, limit: number): boolean {
    return (
      readFrameHeader(this.buf, at - this.bufStart, this.header) &&
      at + FRAME_HEADER_BYTES + this.header.length <= limit
    );
  }

  private async resync(start: number, limit: number): Promise<CursorEvent> {
    let pos = start + 1;
    while (pos < limit) {
      if (!(await this.ensure(pos, Math.min(FRAME_MAGIC.length, limit - pos), limit))) break;
      const at = findMagic(this.buf, pos - this.bufStart, this.bufEnd - this.bufStart);
      if (at === -1) {
        if (this.bufEnd >= limit) break;
        // A magic may straddle the buffer's end: search again from its last bytes.
        pos = Math.max(pos, this.bufEnd - (FRAME_MAGIC.length - 1));
        if (!(await this.ensure(pos, Math.min(this.chunkBytes, limit - pos), limit, true))) break;
        continue;
      }
      const candidate = this.bufStart + at;
      if (
        candidate + FRAME_HEADER_BYTES <= limit &&
        (await this.ensure(candidate, FRAME_HEADER_BYTES, limit)) &&
        this.frameFitsAt(candidate, limit)
      ) {
        return this.garbage(start, candidate);
      }
      pos = candidate + 1;
    }
    return this.garbage(start, this.short ? Math.max(start + 1, Math.min(limit, this.bufEnd)) : limit);
  }

  private garbage(from: number, to: number): CursorEvent {
    this.garbageOffset = from;
    this.garbageBytes = to - from;
    this.offset = to;
    return 'garbage';
  }

  /**
   * Makes `buf` hold file bytes [at, at + length) (length ≤ limit − at). The one
   * buffer is reused (grown only for a frame larger than a chunk): a payload view
   * is valid until the next call. Allocating a fresh buffer per refill would leave
   * the collector hundreds of MB of dead buffers on a long replay. `grow` forces a
   * refill that extends past the current end. Returns false when the file ends
   * before that (it is shorter than `limit`): sets `short`.
   */
  private async ensure(at: number, length: number, limit: number, grow = false): Promise<boolean> {
    if (!grow && at >= this.bufStart && at + length <= this.bufEnd) return true;
    const size = Math.min(Math.max(this.chunkBytes, length), limit - at);
    let filled = 0;
    const keep = at >= this.bufStart && at < this.bufEnd;
    if (this.buf.length < size) {
      const bigger = Buffer.allocUnsafe(Math.max(size, this.chunkBytes));
      if (keep) filled = this.buf.copy(bigger, 0, at - this.bufStart, this.bufEnd - this.bufStart);
      this.buf = bigger;
    } else if (keep) {
      this.buf.copyWithin(0, at - this.bufStart, this.bufEnd - this.bufStart);
      filled = this.bufEnd - at;
    }
    while (filled < size) {
      const { bytesRead } = await this.handle.read(this.buf, filled, size - filled, at + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    this.bufStart = at;
    this.bufEnd = at + filled;
    if (filled < length) {
      this.short = true;
      return false;
    }
    return true;
  }
}
