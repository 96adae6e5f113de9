import type { InvalidReason } from './ndjson-errors';

/** One valid line. */
export interface NdjsonRecord {
  /** 1-based physical line number in the input (empty and invalid lines count too). */
  line: number;
  /**
   * The line's original bytes, without the newline, a trailing CR or the input's BOM. Its own copy,
   * or with the splitter's `sharedBytes`, a view shared with the other lines of its input chunk
   * (see that option). Never written to by the library; do not write to it either.
   */
  bytes: Buffer;
  /** The parsed JSON value; present only with `keepValue: true`. */
  value?: unknown;
}

/** Payload of the `'invalid'` event. */
export interface InvalidLine {
  line: number;
  reason: InvalidReason;
  /** At most 80 characters of the line's start, control/format characters replaced by '?', '…' when cut. Safe to print. */
  excerpt: string;
  /** The line's bytes (without newline/CR). Absent for `line-too-long`: those are never held whole. */
  bytes?: Buffer;
}

/**
 * Payload of the `'truncated'` event: the line reading stopped in the middle of (`stop()` before
 * its newline arrived). Its bytes are not invalid data, only unfinished: it is neither parsed nor
 * counted as invalid.
 */
export interface TruncatedLine {
  line: number;
  reason: typeof TRUNCATED_AT_STOP;
  /** As in `InvalidLine`: at most 80 printable characters of the line's start. */
  excerpt: string;
  /** The bytes read of the line (a multi-byte character may be cut at the end). */
  bytes: Buffer;
}

/** The reason reported for the line a `stop()` cut off (see `TruncatedLine`). */
export const TRUNCATED_AT_STOP = 'truncated-at-stop';

export const InvalidPolicies = {
  /** Count the line, emit `'invalid'`, go on with the next line. */
  SKIP: 'skip',
  /** Count the line, emit `'invalid'`, set `failure`, end the output cleanly and ignore the rest of the input. */
  FAIL: 'fail',
} as const;

export type InvalidPolicy = (typeof InvalidPolicies)[keyof typeof InvalidPolicies];

export const INVALID_POLICY_VALUES: readonly InvalidPolicy[] = Object.values(InvalidPolicies);

export interface NdjsonSplitterOptions {
  /**
   * Longest accepted line, in bytes (excluding the newline and a trailing CR).
   * A longer line is rejected as `line-too-long` as soon as it crosses the
   * limit, and its remaining bytes are discarded up to the next newline, so
   * the splitter never holds more than `maxLineBytes + 1` bytes whatever the input.
   * @default 1048576 (1 MiB)
   */
  maxLineBytes?: number;
  /** Add the parsed value to each record as `value` (the CLI needs it only for `--priority-field`). @default false */
  keepValue?: boolean;
  /**
   * Records share memory instead of each getting a copy of its line: a line whole inside an input
   * chunk is a view into that chunk when the chunk's valid lines fill at least half of it, otherwise
   * a view into one compact copy of that chunk's valid lines; a line that spans chunks gets its own
   * copy. What a record keeps alive is then at most about twice the bytes of the records of its
   * chunk, as long as records are consumed roughly in order (the CLI's `block`); a consumer that
   * keeps a sparse few (sampling, priority) should leave this off. The input's chunks must not be
   * written to after they were written to the splitter (Node's file, pipe and socket streams never
   * do). Ignored with `keepValue`.
   * @default false
   */
  sharedBytes?: boolean;
  /**
   * What an invalid line does. `'skip'`: counted, `'invalid'` event, continue.
   * `'fail'`: every valid record before it has been pushed; the splitter emits
   * `'invalid'`, sets `failure` (ERR_NDJSON_INVALID_LINE), ends its readable side
   * normally (so downstream drains) and acknowledges-and-discards further input
   * (counted in `discardedBytes`). It never emits `'error'` for bad input.
   * @default 'skip'
   */
  onInvalid?: InvalidPolicy;
}

export interface NdjsonSplitterMetrics {
  /** Physical lines seen so far (valid + invalid + emptySkipped + truncated). */
  lines: number;
  valid: number;
  invalid: number;
  invalidByReason: Record<InvalidReason, number>;
  /** Empty or whitespace-only lines (ignored, but they do count in line numbers). */
  emptySkipped: number;
  /** Lines cut off by `stop()`: started, never finished (0 or 1). Not in `valid` nor in `invalid`. */
  truncated: number;
  /** Input bytes acknowledged and ignored after a `'fail'` stop. */
  discardedBytes: number;
}

/** 1 MiB: far above any sane log record, far below what could exhaust memory on one line. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;
