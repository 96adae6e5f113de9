/**
 * The acknowledged side of the log: persists the contiguous acknowledged prefix
 * in the checkpoint (at most every `checkpointIntervalMs`, retried after a
 * failure), then deletes the segments it covers — never before the checkpoint
 * that covers them is on disk.
 */
import { promises as fsp } from 'node:fs';
import type { AckTracker } from './ack-tracker';
import type { CheckpointFile } from './checkpoint-file';
import type { ResolvedLogOptions } from './log-options';
import type { Segment } from './segment';
import type { SegmentReader } from './segment-reader';
import type { SegmentWriter } from './segment-writer';

const CHECKPOINT_RETRY_MS = 200;

/** What the compactor asks of its log. */
export interface CompactorHost {
  /** The log is closing or closed: no more timers, and an idle active segment may be sealed. */
  isClosed(): boolean;
  /** Someone waits for space: a fully acknowledged active segment should be sealed so it can go. */
  spaceWanted(): boolean;
  /** A segment file of `bytes` was deleted. */
  onDeleted(bytes: number): void;
  /** One or more segments were deleted: retry a commit that hit a full disk, wake space waiters. */
  onFreed(): void;
}

export class LogCompactor {
  /** Records below it are acknowledged in the checkpoint on disk (a restart resumes here). */
  checkpointedSeq: number;
  /**
   * The last error writing the checkpoint or deleting a segment, cleared by the next
   * successful checkpoint.
   */
  checkpointError: Error | null = null;

  private checkpointTimer: NodeJS.Timeout | undefined;
  private checkpointRun: Promise<void> | undefined;
  private lastCheckpointAt = 0;
  private collecting: Promise<void> | undefined;
  private collectAgain = false;

  constructor(
    private readonly options: ResolvedLogOptions,
    private readonly segments: Segment[],
    private readonly tracker: AckTracker,
    private readonly reader: SegmentReader,
    private readonly writer: SegmentWriter,
    private readonly checkpoint: CheckpointFile,
    private readonly host: CompactorHost,
    startSeq: number,
  ) {
    this.checkpointedSeq = startSeq;
  }

  /** Writes the checkpoint within `checkpointIntervalMs` of the last one (acks arrived). */
  scheduleCheckpoint(): void {
    if (this.checkpointTimer !== undefined || this.checkpointRun !== undefined || this.host.isClosed()) return;
    // After a failed write, wait a little (it is retried even if no further ack comes).
    const interval =
      this.checkpointError === null
        ? this.options.checkpointIntervalMs
        : Math.max(this.options.checkpointIntervalMs, CHECKPOINT_RETRY_MS);
    const wait = this.lastCheckpointAt + interval - Date.now();
    const run = (): void => {
      this.checkpointTimer = undefined;
      this.checkpointRun = this.writeCheckpoint()
        .catch((err: unknown) => {
          this.checkpointError = err as Error;
        })
        .finally(() => {
          this.checkpointRun = undefined;
          if (this.tracker.watermark > this.checkpointedSeq) this.scheduleCheckpoint();
        });
    };
    this.checkpointTimer = setTimeout(run, Math.max(0, wait));
  }

  /** Writes the checkpoint now and deletes what it covers; resolves once both are done. */
  async checkpointNow(): Promise<void> {
    this.cancelTimer();
    await this.checkpointRun;
    await this.writeCheckpoint();
    this.collect();
    while (this.collecting !== undefined) await this.collecting;
  }

  /** At close: the final checkpoint (best effort) and every deletion it allows. */
  async close(): Promise<void> {
    this.cancelTimer();
    await this.checkpointRun;
    await this.writeCheckpoint().catch(() => undefined);
    await this.collecting;
    await this.deleteAcknowledged();
  }

  /** Runs the deleter (one at a time; a request while it runs makes it run again). */
  collect(): void {
    if (this.collecting !== undefined) {
      this.collectAgain = true;
      return;
    }
    this.collecting = (async () => {
      do {
        this.collectAgain = false;
        await this.deleteAcknowledged();
      } while (this.collectAgain && !this.host.isClosed());
    })()
      .catch((err: unknown) => {
        this.checkpointError = err as Error;
      })
      .finally(() => {
        this.collecting = undefined;
      });
  }

  private cancelTimer(): void {
    if (this.checkpointTimer !== undefined) clearTimeout(this.checkpointTimer);
    this.checkpointTimer = undefined;
  }

  /** Persists the acknowledged prefix, then deletes the segments it covers. */
  private async writeCheckpoint(): Promise<void> {
    const acked = this.tracker.watermark;
    if (acked <= this.checkpointedSeq) return;
    const where = this.tracker.watermarkPosition() ?? this.reader.position();
    this.lastCheckpointAt = Date.now();
    await this.checkpoint.write(
      { ackedSeq: acked, segmentFirstSeq: where.segmentFirstSeq, offset: where.offset },
      this.options.sync !== 'none',
    );
    this.checkpointError = null;
    this.checkpointedSeq = acked;
    this.collect();
  }

  /**
   * Deletes, oldest first, the segments whose every record is acknowledged in the
   * checkpoint on disk — never before: a crash between the two then leaves files
   * that the next open deletes, instead of a checkpoint pointing at a file that is
   * gone. When space is short (or on close), a fully acknowledged active segment
   * is sealed first so that it can go too.
   */
  private async deleteAcknowledged(): Promise<void> {
    const upTo = this.checkpointedSeq;
    const short = this.writer.diskFull || this.host.spaceWanted() || this.host.isClosed();
    if (short && upTo >= this.writer.nextSeq) await this.writer.sealIfIdle();
    let freed = false;
    for (;;) {
      const seg = this.segments[0];
      if (seg === undefined || !seg.sealed || seg.endSeq > upTo) break;
      if (!(await this.reader.release(seg))) break;
      this.segments.shift();
      try {
        await fsp.unlink(seg.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          this.segments.unshift(seg);
          throw err;
        }
      }
      this.host.onDeleted(seg.writtenBytes);
      freed = true;
    }
    if (freed) this.host.onFreed();
  }
}
