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
 * The `--stats` line. Every line read is accounted for:
 *   read  === valid + invalid + truncated
 *   valid === flushed + dropped + deadLettered + lost
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
    lost: input.valid - output.eventsFlushed - output.eventsDropped - deadLettered,
    possiblyUndelivered,
    elapsedMs: rounded,
    linesPerSecond: elapsedMs > 0 ? Math.round((read * 1000) / elapsedMs) : 0,
  };
}

/** One JSON line, newline included. */
export function formatSummary(summary: RunSummary): string {
  return `${JSON.stringify(summary)}\n`;
}
