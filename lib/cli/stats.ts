/** What the input side counted (the splitter's metrics). */
export interface InputCounts {
  valid: number;
  invalid: number;
  /** The line reading stopped in the middle of (`truncated-at-stop`), if any. @default 0 */
  truncated?: number;
}

/** What the output side counted (the backpressure stream's metrics). */
export interface OutputCounts {
  eventsFlushed: number;
  eventsDropped: number;
  droppedByReason: Record<string, number>;
  eventsDeadLettered: number;
  eventsRetried: number;
  /** --buffer-dir: records of an earlier run's backlog taken in. @default 0 */
  eventsRecovered?: number;
  /** --buffer-dir: records that came back from disk damaged. @default 0 */
  eventsCorrupt?: number;
  /** --buffer-dir: the log's unacknowledged records and its bytes. @default 0 */
  itemsOnDisk?: number;
  bytesOnDisk?: number;
}

/** What only the CLI knows about --buffer-dir at the end of a run. */
export interface DiskCounts {
  /** Records this run accounted for (read or recovered) and left on disk, undelivered, for the next run. */
  leftOnDisk: number;
  /** Damaged records --dead-letter could not take (they move from `corrupt` to `lost`). */
  corruptNotKept: number;
}

/**
 * What a run that reads a Redis stream (`--source redis://…`) adds to `--stats`, as `redis`.
 */
export interface RedisRunCounts {
  /** Entries whose acknowledgement (XACK) Redis confirmed: delivered, dead-lettered, dropped, invalid or empty. */
  acknowledged: number;
  /** Of the records read, how many were this consumer's own pending entries from an earlier run. */
  readPending: number;
  /** Of the records read, how many were taken over from idle consumers. */
  claimed: number;
  /** Entries delivered more than maxDeliveries times: in `--dead-letter` as `poison`, or left pending. Not in `read`. */
  poison: number;
  /**
   * Valid records read but never handed to the sink, because the run gave up (drain deadline,
   * failure): left pending in the stream, not acknowledged, to be delivered again. Part of the balance.
   */
  leftPending: number;
  /** Settled entries whose acknowledgement Redis did not confirm before exit: pending, delivered again. */
  unacknowledged: number;
}

/**
 * The `--stats` line. Every line read is accounted for:
 *   read  === valid + invalid + truncated
 *   valid + recovered === flushed + dropped + deadLettered + corrupt + leftOnDisk + lost   (+ redis.leftPending, reading a Redis stream)
 * `lost` (records that were neither delivered nor dead-lettered, e.g. after a
 * second Ctrl-C) is 0 on every clean exit; anything else exits 1. Without --buffer-dir,
 * recovered, corrupt and leftOnDisk are absent (0).
 */
export interface RunSummary {
  read: number;
  valid: number;
  invalid: number;
  /**
   * Lines cut off by a stop (a signal, the sink going away): their start was read, their end was
   * not, so they are neither valid nor invalid. In `--dead-letter` as `truncated-at-stop`. 0 or 1.
   */
  truncated: number;
  flushed: number;
  dropped: number;
  droppedByReason: Record<string, number>;
  deadLettered: number;
  retried: number;
  /**
   * --buffer-dir only (absent without it): records an earlier run left in the directory, taken in (and
   * delivered first) by this one.
   */
  recovered?: number;
  /** --buffer-dir only: records that came back from disk damaged; in --dead-letter as raw bytes (`"reason":"corrupt"`). */
  corrupt?: number;
  /**
   * --buffer-dir only: records of this run's account (read or recovered) neither delivered nor given up
   * on, left in the directory for the next run (after a signal's drain deadline, or a sink that went away).
   */
  leftOnDisk?: number;
  /** --buffer-dir only, at exit: records in the directory not yet delivered — leftOnDisk plus any backlog not reached. */
  itemsOnDisk?: number;
  /** --buffer-dir only, at exit: bytes of its segment files. */
  bytesOnDisk?: number;
  lost: number;
  /**
   * Records counted in `flushed` that were written into a pipe (stdout, an exec child) whose reader
   * then died, so it may not have read them; they are also in `--dead-letter` as
   * "possibly-undelivered" (at-least-once). Not part of the balance above.
   */
  possiblyUndelivered: number;
  elapsedMs: number;
  linesPerSecond: number;
  /** Only when reading a Redis stream; `valid` then also covers `redis.leftPending`. */
  redis?: RedisRunCounts;
}

/**
 * @param extraDeadLettered records the CLI dead-lettered itself (read but never
 *   handed to the stream because the drain deadline passed first), less the records
 *   the stream dead-lettered that could not be written to `--dead-letter` (those are `lost`).
 * @param disk --buffer-dir figures only the CLI knows; given, the summary has the --buffer-dir keys.
 */
export function summarize(
  input: InputCounts,
  output: OutputCounts,
  extraDeadLettered: number,
  elapsedMs: number,
  possiblyUndelivered = 0,
  disk?: DiskCounts,
  redis?: RedisRunCounts,
): RunSummary {
  const truncated = input.truncated ?? 0;
  const read = input.valid + input.invalid + truncated;
  const deadLettered = output.eventsDeadLettered + extraDeadLettered;
  const recovered = output.eventsRecovered ?? 0;
  const corrupt = (output.eventsCorrupt ?? 0) - (disk?.corruptNotKept ?? 0);
  const leftOnDisk = disk?.leftOnDisk ?? 0;
  const rounded = Math.round(elapsedMs);
  return {
    read,
    valid: input.valid,
    invalid: input.invalid,
    truncated,
    flushed: output.eventsFlushed,
    dropped: output.eventsDropped,
    droppedByReason: { ...output.droppedByReason },
    deadLettered,
    retried: output.eventsRetried,
    ...(disk !== undefined && {
      recovered,
      corrupt,
      leftOnDisk,
      itemsOnDisk: output.itemsOnDisk ?? 0,
      bytesOnDisk: output.bytesOnDisk ?? 0,
    }),
    lost:
      input.valid +
      recovered -
      output.eventsFlushed -
      output.eventsDropped -
      deadLettered -
      corrupt -
      leftOnDisk -
      (redis?.leftPending ?? 0),
    possiblyUndelivered,
    elapsedMs: rounded,
    linesPerSecond: elapsedMs > 0 ? Math.round((read * 1000) / elapsedMs) : 0,
    ...(redis === undefined ? {} : { redis: { ...redis } }),
  };
}

/** One JSON line, newline included. */
export function formatSummary(summary: RunSummary): string {
  return `${JSON.stringify(summary)}\n`;
}
