/**
 * The append side of the log: frames records into memory chunks, then commits
 * them to the newest segment file with one write and (per sync mode) one
 * fdatasync for everything appended meanwhile: group commit. While one commit
 * is on its way to the disk, new appends gather for the next one, so a burst of
 * appends costs one sync, and a steady stream of appends sizes its own groups.
 *
 * Failure handling, the part disk buffers most often get wrong:
 * - A commit that fails (write or sync) cuts the file back to its last durable
 *   size and keeps its records in memory: nothing is half-written on disk, and
 *   nothing appended is given up. Retrying only the fdatasync would not do: after
 *   a failed fsync Linux may mark the dirty pages clean, and a second fsync then
 *   "succeeds" without the data. So the data is written again.
 * - ENOSPC / EDQUOT (a real full disk) makes the writer `full`: commits stop and
 *   are retried with backoff, and at once when the log frees a segment. A full
 *   segment is sealed first, so that once its records are acknowledged it can be
 *   deleted and its space reused. Nothing throws, nothing is dropped.
 * - Any other I/O error fails the writer with ERR_DURABLE_IO_FAILED: every
 *   pending `flush()` rejects with it, so the caller knows which records did not
 *   make it (those it has not seen resolve).
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { DurableError, DurableErrorCodes } from './durable-errors';
import { FRAME_HEADER_BYTES, writeFrame } from './record-frame';
import { Segment } from './segment';
import { segmentFileName, syncDirectory } from './segment-file';

/**
 * - 'always': every record is written and fdatasync'ed on its own, in order: one sync per record.
 * - 'batch': group commit: one write + one fdatasync per burst of appends.
 * - 'none': written to the OS (page cache) per burst, never fdatasync'ed.
 */
export type SyncMode = 'always' | 'batch' | 'none';

/** Frames appended and not yet durable, in chunk.buf[start, used), with consecutive seqs from firstSeq. */
interface Chunk {
  buf: Buffer;
  start: number;
  used: number;
  firstSeq: number;
}

const CHUNK_BYTES = 256 * 1024;
const POOLED_CHUNKS = 4;
const RETRY_MIN_MS = 25;
const RETRY_MAX_MS = 1000;

export interface WriterHooks {
  /** `bytes` were added to a segment file (they count as on disk from now on). */
  onWritten(bytes: number): void;
  /** Something changed: records became durable, the writer became full or not, or failed. */
  onProgress(): void;
}

export class SegmentWriter {
  /** Sequence number the next append gets. */
  nextSeq: number;
  /** Every record below it is durable (readable). */
  durableSeq: number;
  /** Bytes appended and not yet in a file. */
  pendingBytes = 0;
  /** The disk reported ENOSPC/EDQUOT; commits are retried. */
  diskFull = false;
  /** Set once an I/O error other than a full disk stopped the writer. */
  failure: DurableError | undefined;

  private readonly pending: Chunk[] = [];
  private readonly pool: Buffer[] = [];
  private committing = false;
  private scheduled = false;
  private closing = false;
  private active: Segment | undefined;
  private handle: FileHandle | undefined;
  private dirDirty = false;
  private waiters: Array<{ seq: number; resolve: () => void; reject: (err: Error) => void }> = [];
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay = RETRY_MIN_MS;
  private idleWaiter: (() => void) | undefined;

  constructor(
    private readonly dir: string,
    /** Shared with the reader and the deleter; the writer appends new segments to it. */
    private readonly segments: Segment[],
    private readonly sync: SyncMode,
    private readonly segmentBytes: number,
    nextSeq: number,
    private readonly hooks: WriterHooks,
  ) {
    this.nextSeq = nextSeq;
    this.durableSeq = nextSeq;
  }

  /** The segment appends currently go to (undefined until the first commit after open or a seal). */
  get activeSegment(): Segment | undefined {
    return this.active;
  }

  /** True while nothing is pending or being committed. */
  get idle(): boolean {
    return !this.committing && this.pending.length === 0;
  }

  /** Frames `payload` and queues it for the next commit. Returns its sequence number. */
  append(payload: Uint8Array): number {
    const seq = this.nextSeq;
    const size = FRAME_HEADER_BYTES + payload.length;
    let chunk = this.pending[this.pending.length - 1];
    if (this.sync === 'always' || chunk === undefined || chunk.buf.length - chunk.used < size) {
      chunk = { buf: this.takeBuffer(size), start: 0, used: 0, firstSeq: seq };
      this.pending.push(chunk);
    }
    chunk.used = writeFrame(chunk.buf, chunk.used, seq, payload);
    this.nextSeq = seq + 1;
    this.pendingBytes += size;
    this.schedule();
    return seq;
  }

  /** Resolves once every record appended so far is durable; rejects if the writer fails or closes first. */
  flush(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.durableSeq >= this.nextSeq) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ seq: this.nextSeq, resolve, reject }));
  }

  /** After the log freed space: retry a commit that hit a full disk now rather than at the next backoff. */
  retryNow(): void {
    if (!this.diskFull || this.closing) return;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.diskFull = false;
    this.schedule();
  }

  /**
   * Seals the active segment when nothing is pending, so that a fully acknowledged
   * segment can be deleted (its successor is created by the next append's commit).
   */
  async sealIfIdle(): Promise<void> {
    if (this.idle && this.active !== undefined) await this.sealActive();
  }

  /**
   * Stops the writer: commits what it can, then rejects every `flush()` still
   * waiting with ERR_DURABLE_CLOSED (those records are not durable). Returns how
   * many appended records did not become durable.
   */
  async close(): Promise<number> {
    this.closing = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (!this.diskFull && this.failure === undefined && !this.idle) {
      await new Promise<void>((resolve) => (this.idleWaiter = resolve));
    }
    const lost = this.nextSeq - this.durableSeq;
    const err =
      this.failure ??
      new DurableError(DurableErrorCodes.CLOSED, `the log was closed before ${lost} appended record(s) became durable`);
    this.rejectWaiters(err);
    this.pending.length = 0;
    this.pendingBytes = 0;
    this.nextSeq = this.durableSeq;
    if (this.handle !== undefined) {
      const handle = this.handle;
      this.handle = undefined;
      await handle.close().catch(() => undefined);
    }
    return lost;
  }

  private takeBuffer(size: number): Buffer {
    if (this.sync === 'always') return Buffer.allocUnsafe(size);
    if (size <= CHUNK_BYTES) return this.pool.pop() ?? Buffer.allocUnsafe(CHUNK_BYTES);
    return Buffer.allocUnsafe(size);
  }

  private recycle(buf: Buffer): void {
    if (buf.length === CHUNK_BYTES && this.pool.length < POOLED_CHUNKS && this.sync !== 'always') this.pool.push(buf);
  }

  private schedule(): void {
    if (this.scheduled || this.committing || this.diskFull || this.failure !== undefined) return;
    this.scheduled = true;
    // setImmediate, not a microtask: lets the appends of this turn of the event loop join the group.
    setImmediate(() => {
      this.scheduled = false;
      void this.commitLoop();
    });
  }

  private async commitLoop(): Promise<void> {
    if (this.committing) return;
    this.committing = true;
    try {
      while (this.pending.length > 0 && !this.diskFull && this.failure === undefined) await this.commitGroup();
    } catch (err) {
      // commitGroup handles I/O errors itself; anything else is a bug, reported rather than left unhandled.
      this.failure = new DurableError(
        DurableErrorCodes.IO_FAILED,
        `durable log: commit failed: ${(err as Error).message}`,
        { cause: err },
      );
      this.rejectWaiters(this.failure);
      this.hooks.onProgress();
    } finally {
      this.committing = false;
    }
    if (this.pending.length > 0 && !this.diskFull && this.failure === undefined) this.schedule();
    else this.notifyIdle();
  }

  private notifyIdle(): void {
    const waiter = this.idleWaiter;
    if (waiter === undefined) return;
    if (this.idle || this.diskFull || this.failure !== undefined) {
      this.idleWaiter = undefined;
      waiter();
    }
  }

  /** Writes (and syncs) the pending frames that fit in the active segment. */
  private async commitGroup(): Promise<void> {
    const firstSeq = (this.pending[0] as Chunk).firstSeq;
    if (this.active === undefined && !(await this.openSegment(firstSeq))) return;
    const seg = this.active as Segment;
    const handle = this.handle as FileHandle;

    // Collect whole frames, from the pending chunks in order, up to the segment's size.
    const views: Buffer[] = [];
    let bytes = 0;
    let frames = 0;
    let endChunk = 0;
    let endPos = (this.pending[0] as Chunk).start;
    let rollover = false;
    for (let ci = 0; ci < this.pending.length && !rollover; ci++) {
      const chunk = this.pending[ci] as Chunk;
      const runStart = chunk.start;
      let pos = runStart;
      while (pos < chunk.used) {
        const size = FRAME_HEADER_BYTES + chunk.buf.readUInt32LE(pos + 4);
        if (seg.writtenBytes + bytes > 0 && seg.writtenBytes + bytes + size > this.segmentBytes) {
          rollover = true;
          break;
        }
        pos += size;
        bytes += size;
        frames++;
        if (this.sync === 'always') break;
      }
      if (pos > runStart) views.push(chunk.buf.subarray(runStart, pos));
      endChunk = ci;
      endPos = pos;
      if (this.sync === 'always' && frames > 0) break;
    }
    if (frames === 0) {
      await this.sealActive(); // the next frame does not fit: it opens the next segment
      return;
    }

    try {
      await writeFully(handle, views, seg.writtenBytes);
      if (this.sync !== 'none') {
        await handle.datasync();
        if (this.dirDirty) await syncDirectory(this.dir);
      }
      this.dirDirty = false;
    } catch (err) {
      await this.failed(err, seg, handle);
      return;
    }

    seg.writtenBytes += bytes;
    seg.readableBytes = seg.writtenBytes;
    this.pendingBytes -= bytes;
    this.hooks.onWritten(bytes);
    this.durableSeq = firstSeq + frames;
    seg.endSeq = this.durableSeq;
    this.retryDelay = RETRY_MIN_MS;
    this.consume(endChunk, endPos);
    this.resolveWaiters();
    if (rollover) await this.sealActive();
    this.hooks.onProgress();
  }

  /** Drops what was just committed: chunks before `endChunk` entirely, `endChunk` up to `endPos`. */
  private consume(endChunk: number, endPos: number): void {
    for (let i = 0; i < endChunk; i++) this.recycle((this.pending[i] as Chunk).buf);
    if (endChunk > 0) this.pending.splice(0, endChunk);
    const head = this.pending[0] as Chunk;
    head.start = endPos;
    head.firstSeq = this.durableSeq;
    // Appends may have added to it meanwhile; only a chunk with nothing left goes.
    if (head.start === head.used) {
      this.pending.shift();
      this.recycle(head.buf);
    }
  }

  private async openSegment(firstSeq: number): Promise<boolean> {
    const seg = new Segment(firstSeq, join(this.dir, segmentFileName(firstSeq)));
    try {
      // 'w': a file of this name can only be an empty leftover (names are first seqs, never reused for data).
      this.handle = await fsp.open(seg.path, 'w');
    } catch (err) {
      await this.failed(err, undefined, undefined);
      return false;
    }
    this.active = seg;
    this.segments.push(seg);
    this.dirDirty = true;
    return true;
  }

  private async sealActive(): Promise<void> {
    const seg = this.active;
    if (seg === undefined) return;
    this.active = undefined;
    seg.sealed = true;
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
  }

  private async failed(err: unknown, seg: Segment | undefined, handle: FileHandle | undefined): Promise<void> {
    // Nothing of the failed group counts: cut the file back to its durable size.
    if (seg !== undefined && handle !== undefined) await handle.truncate(seg.writtenBytes).catch(() => undefined);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') {
      this.diskFull = true;
      // A segment holding records is sealed, so that it can be deleted once they are acknowledged.
      if (seg !== undefined && seg.writtenBytes > 0) await this.sealActive();
      if (!this.closing) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.retryNow();
        }, this.retryDelay);
        this.retryDelay = Math.min(RETRY_MAX_MS, this.retryDelay * 2);
      }
    } else {
      this.failure = new DurableError(
        DurableErrorCodes.IO_FAILED,
        `durable log: writing ${seg?.path ?? this.dir} failed: ${(err as Error).message}`,
        { cause: err },
      );
      this.rejectWaiters(this.failure);
    }
    this.hooks.onProgress();
  }

  private resolveWaiters(): void {
    let i = 0;
    while (i < this.waiters.length && (this.waiters[i] as { seq: number }).seq <= this.durableSeq) {
      (this.waiters[i] as { resolve: () => void }).resolve();
      i++;
    }
    if (i > 0) this.waiters.splice(0, i);
  }

  private rejectWaiters(err: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) waiter.reject(err);
  }
}

/** writev until every byte is written (a regular file may take fewer bytes than asked, e.g. just before ENOSPC). */
async function writeFully(handle: FileHandle, views: Buffer[], position: number): Promise<void> {
  let remaining = views;
  let at = position;
  while (remaining.length > 0) {
    const { bytesWritten } = await handle.writev(remaining, at);
    if (bytesWritten === 0) {
      // No progress and no error: treat like a full disk (retried later) rather than spin.
      throw Object.assign(new Error('write made no progress'), { code: 'ENOSPC' });
    }
    at += bytesWritten;
    let skip = bytesWritten;
    const rest: Buffer[] = [];
    for (const view of remaining) {
      if (skip >= view.length) {
        skip -= view.length;
        continue;
      }
      rest.push(skip > 0 ? view.subarray(skip) : view);
      skip = 0;
    }
    remaining = rest;
  }
}
