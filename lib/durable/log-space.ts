import type { FullReason } from './durable-errors';
import { FRAME_HEADER_BYTES } from './record-frame';
import type { SegmentWriter } from './segment-writer';

interface SpaceWaiter {
  bytes: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * The log's room under `maxBytes`: the bytes that count against it (in segment files, plus appended
 * and not yet written), whether a record fits, and the callers waiting until one does — woken when
 * acknowledged segments were deleted or a full disk took writes again, rejected when the writer
 * failed or the log closed.
 */
export class LogSpace {
  /** Sum of the segments' writtenBytes, kept current instead of summed on every append. */
  diskBytes: number;
  readonly #maxBytes: number;
  readonly #writer: SegmentWriter;
  #waiters: SpaceWaiter[] = [];

  constructor(maxBytes: number, diskBytes: number, writer: SegmentWriter) {
    this.#maxBytes = maxBytes;
    this.diskBytes = diskBytes;
    this.#writer = writer;
  }

  /** Bytes counted against `maxBytes`: in segment files, plus appended and not yet written. */
  get usedBytes(): number {
    return this.diskBytes + this.#writer.pendingBytes;
  }

  /** Whether a record of `payloadBytes` fits now (never while the disk is full). */
  fits(payloadBytes: number): boolean {
    return (
      !this.#writer.diskFull &&
      this.diskBytes + this.#writer.pendingBytes + FRAME_HEADER_BYTES + payloadBytes <= this.#maxBytes
    );
  }

  /** Why appends are refused: 'enospc', 'max-bytes' (not even an empty record fits), or undefined. */
  get full(): FullReason | undefined {
    if (this.#writer.diskFull) return 'enospc';
    return this.fits(0) ? undefined : 'max-bytes';
  }

  /** Someone waits for space (the compactor then deletes what it can at once). */
  get wanted(): boolean {
    return this.#waiters.length > 0;
  }

  /** Resolves once a record of `payloadBytes` fits (see wake); for a record that does not fit now. */
  wait(payloadBytes: number): Promise<void> {
    return new Promise<void>((resolve, reject) => this.#waiters.push({ bytes: payloadBytes, resolve, reject }));
  }

  /** Space may have been freed, or the writer failed: resolves the waiters that fit now, or rejects all with the failure. */
  wake(): void {
    if (this.#waiters.length === 0) return;
    const failure = this.#writer.failure;
    const still: SpaceWaiter[] = [];
    for (const waiter of this.#waiters) {
      if (failure !== undefined) waiter.reject(failure);
      else if (this.fits(waiter.bytes)) waiter.resolve();
      else still.push(waiter);
    }
    this.#waiters = still;
  }

  /** The log closed: every waiter is rejected with `error`. */
  rejectAll(error: Error): void {
    for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
  }
}
