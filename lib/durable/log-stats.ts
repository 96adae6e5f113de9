/** The reports of a `SegmentLog`: what `open` found (`log.recovery`) and `log.stats()`. */
import type { FullReason } from './durable-errors';

/** What `open` found and did. */
export interface RecoveryReport {
  /** Records on disk not yet acknowledged when the log was opened (good or corrupt): replayed first. */
  recoveredOnOpen: number;
  /** Bytes cut from the end of the last segment (a torn write, zero fill after a power loss). */
  truncatedBytes: number;
  /** Segment files deleted at open (fully acknowledged, or empty). */
  deletedSegments: number;
  /** Whether a valid checkpoint was found (false: reading starts at the oldest segment). */
  checkpointFound: boolean;
}

export interface DurableLogStats {
  /** Bytes in segment files (written; synced or not). */
  bytesOnDisk: number;
  /** Records appended and not acknowledged (including those not yet durable). */
  itemsOnDisk: number;
  /** Bytes appended and not yet written to a file. */
  pendingBytes: number;
  /** Segment files. */
  segments: number;
  /** The seq the next append gets. */
  nextSeq: number;
  /** Records below it are durable (and readable). */
  durableSeq: number;
  /** The next seq `read()` hands out. */
  readSeq: number;
  /** Records below it are acknowledged. */
  ackedSeq: number;
  /** Records below it are acknowledged in the checkpoint on disk (a restart resumes here). */
  checkpointedSeq: number;
  /** Good records handed out that were on disk when the log was opened. */
  recovered: number;
  /** Sequence numbers handed out as corrupt (damaged or missing records). */
  corrupt: number;
  /** Intact records the `decode` given to `read()` threw on (handed out as ERR_DURABLE_DECODE_FAILED entries). */
  undecodable: number;
  /** Bytes skipped while reading that covered no missing record. */
  skippedBytes: number;
  /** 'enospc' while the disk is full, 'max-bytes' while not even an empty record fits, else null. */
  full: FullReason | null;
  /**
   * The last error writing the checkpoint or deleting a segment, cleared by the next
   * successful checkpoint. Both are retried; until then only duplicates after a
   * crash (and disk space) are at stake.
   */
  checkpointError: Error | null;
}
