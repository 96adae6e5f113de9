/**
 * SegmentLog: a crash-safe, bounded, append-only log of opaque records on disk,
 * with acknowledgement. Records go in with `append`, are durable once `flush()`
 * resolves (per the sync mode), come back out in order with `read`, and are gone
 * once acknowledged with `ack` (whole segments are deleted when every record in
 * them is acknowledged). After a crash, `open` on the same directory hands out
 * again every record not acknowledged before it: at least once, in order, before
 * anything appended after the restart.
 *
 * One process per directory (a lock file); see docs/durable-log.md for how to use
 * it, the on-disk format and the guarantees of each sync mode. BackpressureWritable's
 * durable mode (core/durable-mode.ts) is built on it.
 */
import { AckTracker } from './ack-tracker';
import { CheckpointFile } from './checkpoint-file';
import { DirLock } from './dir-lock';
import { DurableError, DurableErrorCodes, invalidOption, type FullReason } from './durable-errors';
import type { DurableLogStats, RecoveryReport } from './log-stats';
import { LogCompactor } from './log-compactor';
import { LogSpace } from './log-space';
import { makeDir } from './make-dir';
import { resolveLogOptions, type ResolvedLogOptions, type SegmentLogOptions } from './log-options';
import { recover, type Recovered } from './recovery';
import type { Segment } from './segment';
import { SegmentReader, type Decode, type ReadEntry } from './segment-reader';
import { SegmentWriter } from './segment-writer';

export type { DurableLogStats, RecoveryReport } from './log-stats';

export class SegmentLog {
  /** What `open` found and did. */
  readonly recovery: RecoveryReport;

  private readonly segments: Segment[];
  private readonly tracker: AckTracker;
  private readonly reader: SegmentReader;
  private readonly writer: SegmentWriter;
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Checkpoints the acknowledged prefix and deletes the segments it covers. */
  private readonly compactor: LogCompactor;
  private reading: Promise<unknown> | undefined;
  private readableWaiters: Array<() => void> = [];
  /** What counts against maxBytes, and who waits for room. */
  private readonly space: LogSpace;
  private spaceListener: (() => void) | undefined;

  private constructor(
    private readonly options: ResolvedLogOptions,
    private readonly lock: DirLock,
    private readonly checkpoint: CheckpointFile,
    recovered: Recovered,
  ) {
    this.segments = recovered.segments;
    let diskBytes = 0;
    for (const seg of this.segments) diskBytes += seg.writtenBytes;
    this.tracker = new AckTracker(recovered.startSeq);
    this.writer = new SegmentWriter(options.dir, this.segments, options.sync, options.segmentBytes, recovered.nextSeq, {
      onWritten: (bytes) => (this.space.diskBytes += bytes),
      onProgress: () => this.onWriterProgress(),
    });
    this.space = new LogSpace(options.maxBytes, diskBytes, this.writer);
    this.reader = new SegmentReader(
      this.segments,
      this.tracker,
      recovered.startSeq,
      recovered.startSegment,
      recovered.startOffset,
      {
        chunkBytes: options.readChunkBytes,
        maxCorruptBytes: options.maxCorruptBytes,
        recoveredBelow: recovered.nextSeq,
        durableSeq: () => this.writer.durableSeq,
      },
    );
    this.compactor = new LogCompactor(
      options,
      this.segments,
      this.tracker,
      this.reader,
      this.writer,
      checkpoint,
      {
        isClosed: () => this.closed,
        spaceWanted: () => this.space.wanted,
        onDeleted: (bytes) => (this.space.diskBytes -= bytes),
        onFreed: () => {
          this.writer.retryNow();
          this.space.wake();
          this.spaceListener?.();
        },
      },
      recovered.startSeq,
    );
    this.recovery = {
      recoveredOnOpen: recovered.nextSeq - recovered.startSeq,
      truncatedBytes: recovered.truncatedBytes,
      deletedSegments: recovered.deletedSegments,
      checkpointFound: checkpoint.recovered !== undefined,
    };
  }

  /**
   * Opens (creating when missing) the log in `options.dir`: takes the directory's
   * lock (ERR_DURABLE_LOCKED if a live process holds it), then recovers what a
   * previous process left (see recovery.ts). Rejects with a coded error; never
   * because of damaged data.
   */
  static async open(options: SegmentLogOptions): Promise<SegmentLog> {
    const resolved = resolveLogOptions(options);
    const ioFailed = (err: unknown): DurableError =>
      err instanceof DurableError
        ? err
        : new DurableError(
            DurableErrorCodes.IO_FAILED,
            `durable log: opening ${resolved.dir} failed: ${(err as Error).message}`,
            { cause: err },
          );
    let lock: DirLock;
    try {
      await makeDir(resolved.dir);
      lock = await DirLock.acquire(resolved.dir);
    } catch (err) {
      throw ioFailed(err);
    }
    let checkpoint: CheckpointFile | undefined;
    try {
      checkpoint = await CheckpointFile.open(resolved.dir);
      const recovered = await recover(resolved.dir, checkpoint.recovered, resolved.readChunkBytes);
      return new SegmentLog(resolved, lock, checkpoint, recovered);
    } catch (err) {
      await checkpoint?.close().catch(() => undefined);
      await lock.release().catch(() => undefined);
      throw ioFailed(err);
    }
  }

  // ---------------------------------------------------------------- append side

  /**
   * Appends one record and returns its sequence number. It is durable once a
   * later `flush()` resolves. The log keeps a reference to nothing: the bytes are
   * copied. Throws ERR_DURABLE_FULL when it does not fit (see `canAppend`,
   * `waitForSpace`), ERR_DURABLE_RECORD_TOO_LARGE, ERR_DURABLE_CLOSED, or the
   * writer's ERR_DURABLE_IO_FAILED.
   */
  append(payload: Uint8Array): number {
    if (!(payload instanceof Uint8Array)) throw invalidOption('type', 'payload', 'a Buffer or Uint8Array', payload);
    this.assertOpen();
    if (this.writer.failure !== undefined) throw this.writer.failure;
    if (payload.length > this.options.maxPayloadBytes) throw this.tooLarge(payload.length);
    if (!this.space.fits(payload.length)) {
      const reason = this.writer.diskFull ? 'enospc' : 'max-bytes';
      throw new DurableError(
        DurableErrorCodes.FULL,
        reason === 'enospc'
          ? 'the disk is full (ENOSPC): waiting for acknowledged segments to be deleted'
          : `maxBytes (${this.options.maxBytes}) reached`,
        { reason },
      );
    }
    return this.writer.append(payload);
  }

  /** Resolves once every record appended so far is durable (per the sync mode). Waits through a full disk; rejects on I/O failure or close. */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /** Whether a record of `payloadBytes` can be appended now. */
  canAppend(payloadBytes: number): boolean {
    return (
      !this.closed &&
      this.writer.failure === undefined &&
      payloadBytes <= this.options.maxPayloadBytes &&
      this.space.fits(payloadBytes)
    );
  }

  /**
   * Resolves once a record of `payloadBytes` fits (acknowledged segments were
   * deleted, or the full disk accepted a write again). Rejects when the log fails
   * or closes, or when such a record can never fit (RECORD_TOO_LARGE).
   */
  waitForSpace(payloadBytes = 0): Promise<void> {
    if (payloadBytes > this.options.maxPayloadBytes) return Promise.reject(this.tooLarge(payloadBytes));
    if (this.closed) return Promise.reject(this.closedError());
    if (this.writer.failure !== undefined) return Promise.reject(this.writer.failure);
    if (this.space.fits(payloadBytes)) return Promise.resolve();
    const waiting = this.space.wait(payloadBytes);
    this.compactor.collect(); // a fully acknowledged active segment can be sealed and deleted now
    return waiting;
  }

  /** Why appends are refused: 'enospc', 'max-bytes' (not even an empty record fits), or undefined. */
  get full(): FullReason | undefined {
    return this.space.full;
  }

  /** Bytes counted against `maxBytes`: in segment files, plus appended and not yet written. */
  get usedBytes(): number {
    return this.space.usedBytes;
  }

  /**
   * `listener` (one; `undefined` removes it) is called, synchronously, each time acknowledged
   * segments were deleted: for a caller whose idea of "full" has a margin below `maxBytes`
   * (a watermark), which `waitForSpace` cannot express.
   */
  onSpaceFreed(listener: (() => void) | undefined): void {
    this.spaceListener = listener;
  }

  // ------------------------------------------------------------------ read side

  /**
   * Up to `max` entries not yet handed out, oldest first (possibly none: see
   * `readable` / `waitReadable`). Good records have `error === null`; damaged or
   * missing ones come as corrupt entries (ERR_DURABLE_CORRUPT_RECORD, raw bytes in
   * `payload`). Acknowledge each entry, good or corrupt, once done with it. One
   * read at a time (ERR_DURABLE_READ_IN_PROGRESS).
   *
   * Without `decode`, a good record's payload is a copy of its bytes. With it,
   * the payload is `decode(bytes)`, called synchronously on a view of the read
   * buffer, so a replay does not copy every record (a record `decode` throws on
   * comes out as an ERR_DURABLE_DECODE_FAILED entry with its raw bytes).
   */
  read(max: number): Promise<ReadEntry[]>;
  read<T>(max: number, decode: Decode<T>): Promise<Array<ReadEntry<T>>>;
  read<T>(max: number, decode?: Decode<T>): Promise<Array<ReadEntry<T | Buffer>>> {
    if (!Number.isSafeInteger(max) || max < 1)
      return Promise.reject(invalidOption('range', 'max', 'an integer ≥ 1', max));
    if (decode !== undefined && typeof decode !== 'function')
      return Promise.reject(invalidOption('type', 'decode', 'a function', decode));
    if (this.closed) return Promise.reject(this.closedError());
    if (this.reading !== undefined)
      return Promise.reject(
        new DurableError(DurableErrorCodes.READ_IN_PROGRESS, 'read() called while a previous read() has not settled'),
      );
    const reading = this.reader.read(max, decode).finally(() => {
      this.reading = undefined;
      this.compactor.collect(); // the reader may have left a segment the deleter was waiting for
    });
    this.reading = reading;
    return reading as Promise<Array<ReadEntry<T | Buffer>>>;
  }

  /**
   * Hands out the next `count` records (at most those durable now) without reading them back, for a
   * caller that still holds their payloads — it appended them in this process; `payloadBytes(i)` is the
   * length of the i-th one's. Acknowledge them as if `read()` had returned them. Returns how many were
   * handed out, possibly fewer or none (a read runs; or they are not where this process wrote them):
   * `read()` then hands out the rest as usual.
   */
  handOver(count: number, payloadBytes: (index: number) => number): number {
    if (this.closed || this.reading !== undefined) return 0;
    const durable = this.writer.durableSeq - this.reader.readSeq;
    const before = this.reader.segment;
    const done = this.reader.handOver(count < durable ? count : durable, payloadBytes);
    if (this.reader.segment !== before) this.compactor.collect(); // the deleter may have waited for that segment
    return done;
  }

  /** The next sequence number `read()` (or `handOver`) hands out. */
  get readSeq(): number {
    return this.reader.readSeq;
  }

  /** True when `read()` has something to hand out right now. */
  get readable(): boolean {
    return this.reader.readSeq < this.writer.durableSeq;
  }

  /** Resolves when `readable` (or the log closed or failed). */
  waitReadable(): Promise<void> {
    if (this.readable || this.closed || this.writer.failure !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.readableWaiters.push(resolve));
  }

  /**
   * Acknowledges the entry `seq` (a record, or a corrupt entry by its first seq):
   * it is done and need not be replayed. Any order; twice is harmless. The
   * contiguous acknowledged prefix is checkpointed (at most every
   * `checkpointIntervalMs`) and whole segments below it are deleted.
   */
  ack(seq: number): void {
    this.assertOpen();
    if (this.tracker.ack(seq)) this.compactor.scheduleCheckpoint();
  }

  /**
   * Writes the checkpoint now (not waiting for `checkpointIntervalMs`) and deletes
   * the segments it covers. Resolves once both are done.
   */
  async checkpointNow(): Promise<void> {
    this.assertOpen();
    await this.compactor.checkpointNow();
  }

  // -------------------------------------------------------------------- metrics

  /** Bytes in segment files. */
  get bytesOnDisk(): number {
    return this.space.diskBytes;
  }

  /** Records appended and not acknowledged (including those not yet durable). */
  get itemsOnDisk(): number {
    return this.writer.nextSeq - this.tracker.watermark - this.tracker.ackedAhead;
  }

  /** Good records handed out that were on disk when the log was opened. */
  get recovered(): number {
    return this.reader.recovered;
  }

  /** Sequence numbers handed out as corrupt. */
  get corrupt(): number {
    return this.reader.corrupt;
  }

  stats(): DurableLogStats {
    return {
      bytesOnDisk: this.bytesOnDisk,
      itemsOnDisk: this.itemsOnDisk,
      pendingBytes: this.writer.pendingBytes,
      segments: this.segments.length,
      nextSeq: this.writer.nextSeq,
      durableSeq: this.writer.durableSeq,
      readSeq: this.reader.readSeq,
      ackedSeq: this.tracker.watermark,
      checkpointedSeq: this.compactor.checkpointedSeq,
      recovered: this.reader.recovered,
      corrupt: this.reader.corrupt,
      undecodable: this.reader.undecodable,
      skippedBytes: this.reader.skippedBytes,
      full: this.full ?? null,
      checkpointError: this.compactor.checkpointError,
    };
  }

  // ---------------------------------------------------------------------- close

  /**
   * Commits what was appended (unless the disk is full or failed: those `flush()`
   * calls reject with ERR_DURABLE_CLOSED), writes the final checkpoint, deletes
   * fully acknowledged segments (all of them when everything was acknowledged),
   * and releases the directory. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.closed = true;
    await this.writer.close();
    await this.reading?.catch(() => undefined);
    await this.compactor.close();
    await this.reader.close();
    await this.checkpoint.close().catch(() => undefined);
    await this.lock.release().catch(() => undefined);
    this.space.rejectAll(this.closedError());
    for (const wake of this.readableWaiters.splice(0)) wake();
  }

  // ------------------------------------------------------------------ internals

  private tooLarge(bytes: number): DurableError {
    return new DurableError(
      DurableErrorCodes.RECORD_TOO_LARGE,
      `a record of ${bytes} bytes does not fit in a segment (at most ${this.options.maxPayloadBytes} bytes: segmentBytes − 24)`,
    );
  }

  private closedError(): DurableError {
    return new DurableError(DurableErrorCodes.CLOSED, 'the durable log is closed');
  }

  private assertOpen(): void {
    if (this.closed) throw this.closedError();
  }

  private onWriterProgress(): void {
    if (this.readable || this.writer.failure !== undefined) {
      for (const wake of this.readableWaiters.splice(0)) wake();
    }
    this.space.wake();
    if (this.writer.diskFull) this.compactor.collect();
  }
}
