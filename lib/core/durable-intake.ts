/**
 * The intake of durable mode: every accepted item is encoded and appended to the log; its write's
 * callback is called once its record is durable (per the sync mode: one `flush()` of the log for a
 * burst of appends — group commit). While the log is not open yet, or full, accepted items wait here
 * in order (the stream is blocked meanwhile). Items appended and not yet durable are kept too: if the
 * log closes without committing them (a full or failing disk), they are handed back to be dead-lettered.
 */
import { DurableError, DurableErrorCodes } from '../durable/durable-errors';
import { FRAME_HEADER_BYTES } from '../durable/record-frame';
import type { SegmentLog } from '../durable/segment-log';
import { RingBuffer } from '../util/ring-buffer';
import { keepsEncodedAsIs, type DurableCodec } from './durable-options';
import { BackpressureError, ErrorCodes } from './errors';

type WriteCallback = (error?: Error | null) => void;

/** What the intake asks of durable mode (bound once). */
export interface IntakeHost<T> {
  /** An accepted (and counted) item cannot become a record: to the dead letters. */
  refused(item: T, error: Error): void;
  /** Utilization may have changed: re-evaluate the pressure state. */
  updateState(): void;
  /** The log failed: the stream fails with `error`. */
  fail(error: Error): void;
  isClosed(): boolean;
}

export class DurableIntake<T> {
  readonly #codec: DurableCodec<T>;
  /** `encode` returns bytes nobody changes afterwards: kept for the replay as they are, not copied. */
  readonly #keepAsIs: boolean;
  readonly #maxPayload: number;
  readonly #host: IntakeHost<T>;
  #log: SegmentLog | null = null;
  /** Set once the log closes: no append, no commit from then on. */
  #stopped = false;
  /** Items appended to the log by this process. */
  appended = 0;

  /** Accepted items not appended yet (the log is not open, or full), oldest first, with their bytes and callbacks. */
  readonly #waiting = new RingBuffer<T>();
  readonly #waitingBytes = new RingBuffer<Uint8Array>();
  readonly #waitingCallbacks = new RingBuffer<WriteCallback | undefined>();
  #waitingForSpace = false;

  /** Items appended and not yet known durable: seqs [#durableUpTo, #appendedUpTo). */
  readonly #uncommitted = new RingBuffer<T>();
  #durableUpTo = 0;
  #appendedUpTo = 0;
  #committing = false;
  /**
   * The bytes of the newest records appended (at most #keepMax), seqs [#recentFrom, #appendedUpTo): once
   * the replay has caught up with them, it takes them from here instead of reading them back from disk.
   */
  readonly #recent = new RingBuffer<Uint8Array>();
  /** The items of those records, for a codec that can hand an item back without decoding (`handBack`). */
  readonly #recentItems = new RingBuffer<T>();
  #recentFrom = 0;
  readonly #keepMax: number;
  /** Callbacks of appended writes, with their seqs, called once their record is durable. */
  readonly #callbacks = new RingBuffer<WriteCallback>();
  readonly #callbackSeqs = new RingBuffer<number>();

  // Bound once: no closures per item or per commit.
  readonly #onCommitFailed = (error: unknown): void => {
    this.#committing = false;
    if (!this.#stopped) this.#host.fail(error as Error);
  };
  readonly #onSpace = (): void => {
    this.#waitingForSpace = false;
    this.appendWaiting();
  };
  readonly #onNoSpace = (error: unknown): void => {
    this.#waitingForSpace = false;
    if (!this.#stopped) this.#host.fail(error as Error);
  };

  /** @param keepMax how many of the newest records' bytes to keep for the replay (see #recent). */
  constructor(codec: DurableCodec<T>, segmentBytes: number, keepMax: number, host: IntakeHost<T>) {
    this.#codec = codec;
    this.#keepAsIs = keepsEncodedAsIs(codec);
    this.#maxPayload = segmentBytes - FRAME_HEADER_BYTES;
    this.#keepMax = keepMax;
    this.#host = host;
  }

  /** The log is open: appends may start (the next seq it hands out is `nextSeq`). */
  opened(log: SegmentLog, nextSeq: number): void {
    this.#log = log;
    this.#durableUpTo = this.#appendedUpTo = this.#recentFrom = nextSeq;
  }

  /** The seq of the oldest record whose bytes are kept (see #recent). */
  get recentFrom(): number {
    return this.#recentFrom;
  }

  /** How many records' bytes are kept. */
  get recentCount(): number {
    return this.#recent.size;
  }

  /** The kept bytes of record `recentFrom + index`. */
  recentBytes(index: number): Uint8Array {
    return this.#recent.at(index) as Uint8Array;
  }

  /** The item of the oldest kept record (see `recentBytes(0)` for its bytes). */
  get oldestRecentItem(): T {
    return this.#recentItems.peek() as T;
  }

  /** Forgets the oldest kept record (the replay has it now). */
  shiftRecent(): void {
    this.#recentFrom++;
    this.#recent.shift();
    this.#recentItems.shift();
  }

  /** Forgets the kept records below `seq` (the replay read them from disk). */
  forgetRecentBelow(seq: number): void {
    while (this.#recentFrom < seq && this.#recent.size > 0) {
      this.#recent.shift();
      this.#recentItems.shift();
      this.#recentFrom++;
    }
  }

  /** Accepted items waiting to be appended. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** Accepted items not yet on disk: waiting, or appended and not yet durable. */
  get notDurable(): number {
    return this.#waiting.size + this.#uncommitted.size;
  }

  /** Takes an accepted (and counted) item: appends its record, or queues it while the log cannot take it. */
  accept(item: T, callback: WriteCallback | undefined): void {
    let bytes: Uint8Array;
    try {
      bytes = this.#codec.encode(item);
      if (!(bytes instanceof Uint8Array)) throw new TypeError(`it returned ${describe(bytes)}, not a Uint8Array`);
    } catch (cause) {
      const message = `durable.codec.encode could not encode an item: ${cause instanceof Error ? cause.message : String(cause)}`;
      this.#refuse(item, callback, new BackpressureError(ErrorCodes.ENCODE_FAILED, message, { cause }));
      return;
    }
    if (bytes.length > this.#maxPayload) {
      const cause = new DurableError(
        DurableErrorCodes.RECORD_TOO_LARGE,
        `a record of ${bytes.length} bytes does not fit in a segment (at most durable.segmentBytes − 24 = ${this.#maxPayload})`,
      );
      this.#refuse(item, callback, new BackpressureError(ErrorCodes.ENCODE_FAILED, cause.message, { cause }));
      return;
    }
    const log = this.#log;
    if (log !== null && this.#waiting.size === 0 && log.canAppend(bytes.length)) {
      this.#append(log, item, bytes, callback);
      return;
    }
    this.#wait(item, bytes, callback);
    if (log !== null) this.#awaitSpace(log);
  }

  /** Appends what waits, in order, as far as it fits. */
  appendWaiting(): void {
    const log = this.#log;
    if (log === null || this.#stopped || this.#host.isClosed()) return;
    while (this.#waiting.size > 0) {
      const bytes = this.#waitingBytes.peek() as Uint8Array;
      if (!log.canAppend(bytes.length)) {
        this.#awaitSpace(log);
        break;
      }
      this.#waitingBytes.shift();
      this.#append(log, this.#waiting.shift() as T, bytes, this.#waitingCallbacks.shift());
      if (this.#host.isClosed()) return;
    }
    this.#host.updateState();
  }

  /**
   * destroy(): the items still waiting have no record; they are appended to `into` (to be
   * dead-lettered), and their writes fail with `error`.
   */
  takeWaiting(into: T[], error: Error): void {
    for (const item of this.#waiting.drain()) into.push(item);
    this.#waitingBytes.drain();
    for (const callback of this.#waitingCallbacks.drain())
      if (callback !== undefined) process.nextTick(callback, error);
  }

  /** The log is closing: no more appends or commits (what flush() calls are pending, closed() settles). */
  stop(): void {
    this.#stopped = true;
    this.#recentFrom += this.#recent.size;
    this.#recent.drain();
    this.#recentItems.drain();
  }

  /**
   * The log closed, with every record below `durable` on disk: the writes still pending complete (or
   * fail, for the records the log could not commit), and the items of those records are returned.
   */
  closed(durable: number): T[] {
    const lost = this.#settleCommitted(
      durable,
      new DurableError(
        DurableErrorCodes.CLOSED,
        'the durable log closed before this write reached the disk (the disk was full or failing)',
      ),
    );
    return lost;
  }

  /** The item cannot become a record: nothing is written; it is dead-lettered, and its write fails. */
  #refuse(item: T, callback: WriteCallback | undefined, error: BackpressureError): void {
    if (callback !== undefined) process.nextTick(callback, error);
    this.#host.refused(item, error);
  }

  #wait(item: T, bytes: Uint8Array, callback: WriteCallback | undefined): void {
    this.#waiting.push(item);
    this.#waitingBytes.push(bytes);
    this.#waitingCallbacks.push(callback);
  }

  #append(log: SegmentLog, item: T, bytes: Uint8Array, callback: WriteCallback | undefined): void {
    let seq: number;
    try {
      seq = log.append(bytes);
    } catch (error) {
      // The log failed (canAppend said there was room): the item waits, so destroy() hands it back.
      this.#wait(item, bytes, callback);
      this.#host.fail(error as Error);
      return;
    }
    this.#uncommitted.push(item);
    // The caller's own buffer (bytesCodec, a custom codec) may be reused once the write completes: keep a copy.
    this.#recent.push(this.#keepAsIs ? bytes : Buffer.from(bytes));
    this.#recentItems.push(item);
    if (this.#recent.size > this.#keepMax) {
      this.#recent.shift();
      this.#recentItems.shift();
      this.#recentFrom++;
    }
    this.#appendedUpTo = seq + 1;
    this.appended++;
    if (callback !== undefined) {
      this.#callbacks.push(callback);
      this.#callbackSeqs.push(seq);
    }
    if (!this.#committing) this.#commit(log);
  }

  /**
   * One `flush()` of the log at a time, for everything appended when it was called; appends made while
   * it runs wait for the next. The log's writer groups them into one write and one sync anyway.
   */
  #commit(log: SegmentLog): void {
    if (this.#durableUpTo >= this.#appendedUpTo || this.#stopped) return;
    this.#committing = true;
    const target = this.#appendedUpTo;
    log.flush().then(() => this.#onCommitted(log, target), this.#onCommitFailed);
  }

  #onCommitted(log: SegmentLog, target: number): void {
    this.#committing = false;
    if (this.#stopped) return; // closed() settled what was left
    this.#settleCommitted(target, null);
    this.#host.updateState();
    this.#commit(log);
  }

  /** Records below `durable` are on disk: forget their items, complete their writes; the rest are lost. */
  #settleCommitted(durable: number, lostError: Error | null): T[] {
    while (this.#durableUpTo < durable && this.#uncommitted.size > 0) {
      this.#uncommitted.shift();
      this.#durableUpTo++;
    }
    while (this.#callbackSeqs.size > 0 && (this.#callbackSeqs.peek() as number) < durable) {
      this.#callbackSeqs.shift();
      (this.#callbacks.shift() as WriteCallback)(null);
    }
    if (lostError === null) return [];
    const lost = this.#uncommitted.drain();
    for (const callback of this.#callbacks.drain()) callback(lostError);
    this.#callbackSeqs.drain();
    return lost;
  }

  #awaitSpace(log: SegmentLog): void {
    if (this.#waitingForSpace || this.#stopped) return;
    this.#waitingForSpace = true;
    log.waitForSpace((this.#waitingBytes.peek() as Uint8Array).length).then(this.#onSpace, this.#onNoSpace);
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `a ${(value as object).constructor?.name ?? 'non-plain'} object`;
  return typeof value;
}
