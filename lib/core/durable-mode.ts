/**
 * Durable mode of `BackpressureWritable`: the bridge between the stream and its segment log.
 *
 * - Intake: every accepted item is encoded and appended to the log; its write's callback is called
 *   once the record is durable (per the sync mode: one `flush()` of the log for a burst of appends,
 *   group commit). While the log is not open yet, or full, accepted items wait here in order, and the
 *   stream is blocked.
 * - Replay: records come back out of the log in sequence order — the backlog a previous process left
 *   first, then this process's — into the stream's held buffer, each with its seq, as far as
 *   `maxBufferSize` (and `maxBufferBytes`) allow: memory is bounded whatever the backlog on disk. Once
 *   caught up with this process's appends, durable records are decoded from the intake's copy of their
 *   bytes instead of being read back (`log.handOver`): the same items, without the I/O and the checks.
 * - Acknowledgement: a record is acknowledged once its item is settled (`onSettled`'s one notion:
 *   delivered, or taken by onDeadLetter); the log deletes whole segments once all their records are.
 * - Damaged records are counted (`eventsCorrupt`), reported (`'corrupt'`), and handed to onDeadLetter
 *   as raw bytes — or, without one, acknowledged after the report: a counted, reported skip, so that
 *   one bad record never blocks every restart.
 *
 * The account (see the writable's getMetrics): `eventsRecovered` counts records of the backlog taken
 * in, `eventsCorrupt` records that came back damaged; `bufferSize` counts, besides the items read
 * ahead, the items whose only copy is their record (`#onDisk`) and those waiting to be appended.
 */
import { DurableError, DurableErrorCodes } from '../durable/durable-errors';
import { SegmentLog } from '../durable/segment-log';
import type { ReadEntry } from '../durable/segment-reader';
import type { CorruptEvent } from './backpressure-events';
import { DurableIntake } from './durable-intake';
import { handBackOf, type HandBack, type ResolvedDurableOptions } from './durable-options';
import type { HeldBuffer } from './held-buffer';
import { measureItem } from './size-of';

type WriteCallback = (error?: Error | null) => void;

/** Most entries taken from the log per read: bounds the synchronous work of one decode pass. */
const READ_MAX = 4096;

/** What durable mode asks of the stream (bound once by the stream). */
export interface DurableHost<T> {
  /** Items were buffered (or records handled): start what is due, and finish if all is done. */
  pump(): void;
  /** The ring went from empty to not empty: its flush timer keeps the process alive. */
  refFlushTimer(): void;
  /** Utilization may have changed: re-evaluate the pressure state. */
  updateState(): void;
  /** An accepted item (already counted) cannot go on: to the dead letters. `seqs`: its record, if it has one. */
  deadLetter(items: T[], error: Error, seqs: number[] | null): void;
  /** A damaged record's bytes to onDeadLetter, acknowledged once taken; false when there is no onDeadLetter. */
  deadLetterRaw(bytes: Buffer, error: DurableError, seq: number): boolean;
  emitCorrupt(event: CorruptEvent): void;
  /** The log failed (an I/O error other than a full disk): the stream fails with `error`. */
  fail(error: Error): void;
  /** Destroyed or finished: nothing more is taken in. */
  isClosed(): boolean;
}

/** What closing the log left to the stream. */
export interface DurableClose<T> {
  /** Items whose records never became durable (a full or failing disk): to be dead-lettered. */
  lost: T[];
  /** Closing failed (deleting acknowledged segments, releasing the lock), if it did. */
  error: Error | null;
}

export class DurableMode<T> {
  readonly #o: ResolvedDurableOptions<T>;
  readonly #maxBufferSize: number;
  readonly #sizeOf: ((item: T) => number) | undefined;
  readonly #host: DurableHost<T>;
  /** Where records read back go, with their seqs; the scheduler takes batches from it. */
  readonly #held: HeldBuffer<T>;
  /** Accepted items on their way into the log. */
  readonly #intake: DurableIntake<T>;
  #log: SegmentLog | null = null;
  #closing: Promise<DurableClose<T>> | null = null;
  /** Set once close() started: no read or ack from then on. */
  #stopped = false;

  /** Records below it were on disk at open (the backlog of an earlier process). */
  #openNextSeq = 0;
  /** The next seq the replay will take in. */
  #readUpTo = 0;
  /** Records of the backlog taken in (good or damaged). */
  recovered = 0;
  /** Records that came back damaged or undecodable. */
  corrupt = 0;
  /** Records of this process read back (good or damaged). */
  #readBack = 0;
  /** Items put back on disk by destroy() (read ahead or in flight: their records stay). */
  #putBack = 0;
  /** Items whose record the log could not commit before it closed (dead-lettered instead). */
  #lost = 0;

  #reading = false;

  // Bound once: no closures per read.
  readonly #decode = (bytes: Buffer): T => this.#o.codec.decode(bytes);
  /** The codec's way to hand back an item this process appended without decoding its bytes, if it has one. */
  readonly #handBack: HandBack<T> | undefined;
  readonly #onSpaceFreed = (): void => this.#host.updateState();

  constructor(
    o: ResolvedDurableOptions<T>,
    maxBufferSize: number,
    sizeOf: ((item: T) => number) | undefined,
    held: HeldBuffer<T>,
    host: DurableHost<T>,
  ) {
    this.#o = o;
    this.#held = held;
    this.#maxBufferSize = maxBufferSize;
    this.#sizeOf = sizeOf;
    this.#host = host;
    this.#handBack = handBackOf(o.codec);
    this.#intake = new DurableIntake(o.codec, o.segmentBytes, maxBufferSize, {
      refused: (item, error) => host.deadLetter([item], error, null),
      updateState: () => host.updateState(),
      fail: (error) => host.fail(error),
      isClosed: () => host.isClosed(),
    });
  }

  /** Opens the log (the stream's `construct`): takes the lock, recovers, then starts appending and replaying. */
  async open(): Promise<void> {
    const { dir, maxBytes, segmentBytes, sync, checkpointIntervalMs } = this.#o;
    const log = await SegmentLog.open({ dir, maxBytes, segmentBytes, sync, checkpointIntervalMs });
    this.#log = log;
    const stats = log.stats();
    this.#openNextSeq = stats.nextSeq;
    this.#readUpTo = stats.readSeq;
    this.#intake.opened(log, stats.nextSeq);
    log.onSpaceFreed(this.#onSpaceFreed);
    if (this.#host.isClosed()) return; // destroyed while opening: _destroy closes the log
    this.#intake.appendWaiting();
    this.kick();
  }

  get log(): SegmentLog | null {
    return this.#log;
  }

  /** Accepted items whose only copy is their record: appended and not read back, or put back by destroy(). */
  get #onDisk(): number {
    return this.#intake.appended - this.#readBack + this.#putBack - this.#lost;
  }

  /** Items held by durable mode: waiting to be appended, or only on disk; plus `inMemory` read ahead. */
  bufferSize(inMemory: number): number {
    return this.#intake.waiting + this.#onDisk + inMemory;
  }

  /**
   * The stream's utilization: the log's fill (bytes used / maxBytes), and 1 (blocked) while an accepted
   * item waits for space, the disk is full (ENOSPC), or maxBufferSize accepted items are not on disk yet
   * (the group commit, or the open, has not caught up). That last bound only blocks, it never raises
   * the pressure below full: a burst faster than one sync is no sign that the sink is behind, so a
   * sampling or priority stage in front does not shed for it.
   */
  utilization(): number {
    if (this.#intake.notDurable >= this.#maxBufferSize) return 1;
    const log = this.#log;
    if (log === null) return 0;
    if (this.#intake.waiting > 0 || log.full === 'enospc') return 1;
    return log.usedBytes / this.#o.maxBytes;
  }

  /** Everything accepted or found on disk was read back: with nothing in memory, the stream may finish. */
  get drained(): boolean {
    return this.#intake.waiting === 0 && this.#onDisk === 0 && this.#readUpTo >= this.#openNextSeq;
  }

  /** Takes an accepted (and counted) item: appends its record, or queues it while the log cannot take it. */
  accept(item: T, callback: WriteCallback | undefined): void {
    this.#intake.accept(item, callback);
  }

  // ------------------------------------------------------------------ replay

  /** There may be room in the held buffer, or records to read: make sure the replay runs. */
  kick(): void {
    if (this.#reading || this.#log === null || this.#stopped) return;
    void this.#replay(this.#log);
  }

  async #replay(log: SegmentLog): Promise<void> {
    this.#reading = true;
    try {
      const held = this.#held;
      for (;;) {
        if (this.#stopped || this.#host.isClosed()) return;
        const room = this.#maxBufferSize - held.ring.size;
        if (room <= 0 || held.isRingFull()) return; // kicked again when a batch leaves the buffer
        if (!log.readable) {
          await log.waitReadable();
          continue;
        }
        if (this.#handOver(log, room)) continue;
        const entries = await log.read(room < READ_MAX ? room : READ_MAX, this.#decode);
        // Destroyed meanwhile: these were never taken in, and stay on disk for the next open.
        if (this.#stopped || this.#host.isClosed()) return;
        this.#takeIn(log, entries);
        this.#host.pump();
      }
    } catch (error) {
      if (!this.#stopped) this.#host.fail(error as Error);
    } finally {
      this.#reading = false;
    }
  }

  /**
   * Once the replay has caught up with what this process appended, the records come from the intake's
   * copy of their bytes, not from disk: `log.handOver` accounts them as read, at their place in the log,
   * and they are decoded as a read would — the same items, the same decode failures — without the read,
   * the frame parsing and the checksum of bytes that never left memory; a codec with a `handBack` hook
   * (ndjsonRecordCodec) hands the item back without even copying its bytes. No entry object per record:
   * each is taken in as `#takeIn` takes a read entry of this process's. Returns false when it took none.
   */
  #handOver(log: SegmentLog, room: number): boolean {
    const intake = this.#intake;
    intake.forgetRecentBelow(this.#readUpTo);
    if (this.#readUpTo < this.#openNextSeq || intake.recentFrom !== this.#readUpTo) return false;
    let max = room < READ_MAX ? room : READ_MAX;
    if (intake.recentCount < max) max = intake.recentCount;
    if (max === 0) return false;
    const n = log.handOver(max, this.#recentLength);
    if (n === 0) return false;
    const held = this.#held;
    for (let i = 0; i < n; i++) {
      // A listener (of 'corrupt', or a dead letter) destroyed the stream: the rest stays on disk, untaken.
      if (this.#host.isClosed()) break;
      const seq = this.#readUpTo;
      const bytes = intake.recentBytes(0);
      const item = intake.oldestRecentItem;
      intake.shiftRecent();
      // Taken in as #takeIn takes a read entry of this process's (seq ≥ #openNextSeq: not from the backlog).
      this.#readBack++;
      this.#readUpTo = seq + 1;
      const view = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
      let payload: T;
      try {
        payload = this.#ownItem(item, view);
      } catch (cause) {
        const message = `record ${seq} is intact but could not be decoded: ${cause instanceof Error ? cause.message : String(cause)}`;
        const error = new DurableError(DurableErrorCodes.DECODE_FAILED, message, { cause, seq, count: 1 });
        this.#takeDamaged(log, seq, 1, Buffer.from(view), error);
        continue;
      }
      this.#takeGood(held, payload, seq);
    }
    this.#host.pump();
    return true;
  }

  readonly #recentLength = (index: number): number => this.#intake.recentBytes(index).length;

  /** What `log.read` with `#decode` would have made of `item`'s record, whose bytes are `bytes`. */
  #ownItem(item: T, bytes: Buffer): T {
    const codec = this.#o.codec;
    const hook = this.#handBack;
    if (hook !== undefined) {
      const same = hook.call(codec, item, bytes);
      if (same !== undefined) return same;
    }
    return codec.decode(bytes);
  }

  #takeIn(log: SegmentLog, entries: Array<ReadEntry<T>>): void {
    const held = this.#held;
    for (const entry of entries) {
      // A listener (of 'corrupt', or a dead letter) destroyed the stream: the rest stays on disk, untaken.
      if (this.#host.isClosed()) return;
      const { seq, count } = entry;
      const fromBacklog = seq < this.#openNextSeq ? Math.min(seq + count, this.#openNextSeq) - seq : 0;
      this.recovered += fromBacklog;
      this.#readBack += count - fromBacklog;
      this.#readUpTo = seq + count;
      if (entry.error === null) this.#takeGood(held, entry.payload, seq);
      else this.#takeDamaged(log, seq, count, entry.payload as unknown as Buffer, entry.error);
    }
  }

  /** A good record's item (already counted as read) into the held buffer, or dead-lettered if sizeOf throws. */
  #takeGood(held: HeldBuffer<T>, payload: T, seq: number): void {
    let size = 0;
    if (this.#sizeOf !== undefined) {
      try {
        size = measureItem(this.#sizeOf, payload);
      } catch (error) {
        this.#host.deadLetter([payload], error as Error, [seq]);
        return;
      }
    }
    if (held.pushTagged(payload, size, seq)) this.#host.refFlushTimer();
  }

  /** A damaged or undecodable entry (already counted as read): counted, handed over raw, reported. */
  #takeDamaged(log: SegmentLog, seq: number, count: number, bytes: Buffer, error: DurableError): void {
    // Counted before anyone hears of it; handed over before the event, so a listener that destroys
    // the stream finds the onDeadLetter call to wait for.
    this.corrupt += count;
    const taken = this.#host.deadLetterRaw(bytes, error, seq);
    this.#host.emitCorrupt({ bytes, error });
    if (!taken && !this.#stopped) log.ack(seq); // no onDeadLetter: reported and counted, then skipped
  }

  // ------------------------------------------------------------------ settling

  /** Items settled for good: their records are acknowledged (and deleted with their segment). */
  ack(seqs: readonly number[]): void {
    const log = this.#log;
    if (log === null || this.#stopped) return;
    for (const seq of seqs) log.ack(seq);
  }

  /**
   * destroy(): the items read ahead or in flight (`count`) are forgotten in memory; their records stay
   * on disk, unacknowledged, for the next open. The items still waiting to be appended have no record:
   * they are appended to `into` (to be dead-lettered), and their writes fail with `error`.
   */
  putBack(count: number, into: T[], error: Error): void {
    this.#putBack += count;
    this.#intake.takeWaiting(into, error);
  }

  /**
   * Stops appending and replaying, and closes the log: it commits what was appended if the disk lets it,
   * checkpoints the acknowledged records and deletes the segments they fill. Idempotent.
   */
  close(): Promise<DurableClose<T>> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<DurableClose<T>> {
    this.#stopped = true;
    this.#intake.stop();
    const log = this.#log;
    if (log === null) return { lost: [], error: null };
    log.onSpaceFreed(undefined);
    let error: Error | null = null;
    try {
      await log.close();
    } catch (cause) {
      error =
        cause instanceof DurableError
          ? cause
          : new DurableError(DurableErrorCodes.IO_FAILED, `closing the durable log failed: ${String(cause)}`, {
              cause,
            });
    }
    const lost = this.#intake.closed(log.stats().durableSeq);
    this.#lost += lost.length;
    return { lost, error };
  }
}
