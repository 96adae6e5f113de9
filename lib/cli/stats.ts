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
 *   valid === flushed + dropped + deadLettered + lost   (+ redis.leftPending, reading a Redis stream)
 * `lost` (records that were neither delivered nor dead-lettered, e.g. after a
 * second Ctrl-C) is 0 on every clean exit; anything else exits 1.
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
 */
export function summarize(
  input: InputCounts,
  output: OutputCounts,
  extraDeadLettered: number,
  elapsedMs: number,
  possiblyUndelivered = 0,
  redis?: RedisRunCounts,
): RunSummary {
  const truncated = input.truncated ?? 0;
  const read = input.valid + input.invalid + truncated;
  const deadLettered = output.eventsDeadLettered + extraDeadLettered;
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
    lost: input.valid - output.eventsFlushed - output.eventsDropped - deadLettered - (redis?.leftPending ?? 0),
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
