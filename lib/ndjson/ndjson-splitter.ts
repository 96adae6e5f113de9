import { isUtf8 } from 'node:buffer';
import type { TransformCallback } from 'node:stream';
import { checkJson, JsonCheck } from './json-check';
import { Transform } from '../util/stream-classes';
import { oneOfList, optionMessage } from '../util/validate';
import { InvalidReasons, NdjsonError, NdjsonErrorCodes, type InvalidReason } from './ndjson-errors';

export { InvalidReasons, type InvalidReason } from './ndjson-errors';

/** One valid line. */
export interface NdjsonRecord {
  /** 1-based physical line number in the input (empty and invalid lines count too). */
  line: number;
  /** The line's original bytes, without the newline, a trailing CR or the input's BOM. Owned: never a view into a larger input chunk. */
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

const INVALID_POLICY_VALUES: readonly InvalidPolicy[] = Object.values(InvalidPolicies);

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

const NEWLINE = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const BOM = [0xef, 0xbb, 0xbf] as const;
const EMPTY = Buffer.alloc(0);
const EXCERPT_CHARS = 80;
// Enough bytes for 80 characters of up to 4 bytes each: the excerpt never needs more.
const EXCERPT_BYTES = EXCERPT_CHARS * 4;
// Control, format (bidi overrides, zero-width, BOM) and line/paragraph separators:
// anything that could corrupt a terminal line or a log record.
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/**
 * Splits a byte stream into NDJSON records (readable side in object mode).
 *
 * Works on bytes and decodes only complete lines, so multi-byte characters
 * split across chunks are never mangled. Each new byte is scanned once
 * (`indexOf` from where the last scan stopped; held bytes are never
 * re-scanned) and copied at most twice, so the cost is O(n) in input bytes
 * however the input is chunked. Unlike split2's `maxLength` (which only looks
 * at what stays buffered after a chunk), the limit is checked for every line,
 * including lines that arrive whole inside one chunk.
 */
export class NdjsonSplitter extends Transform {
  readonly #maxLineBytes: number;
  readonly #keepValue: boolean;
  readonly #failOnInvalid: boolean;
  /** Owned copies of the unfinished line's bytes (never views into input chunks, which could be much larger). */
  #pieces: Buffer[] = [];
  #held = 0;
  #lastHeldByte = -1;
  /** Inside a line already rejected as too long: drop bytes until the next newline. */
  #discarding = false;
  /** Until the first 3 bytes are seen: a BOM may be split across chunks. */
  #atStart = true;
  #bomPrefix: Buffer = EMPTY;
  /** Number of the line being assembled. */
  #line = 1;
  #failure: NdjsonError | undefined = undefined;
  /** stop() was called: a line still unfinished at the end was cut off by the stop, not by the input. */
  #stopping = false;
  readonly #metrics: NdjsonSplitterMetrics = {
    lines: 0,
    valid: 0,
    invalid: 0,
    invalidByReason: { 'invalid-json': 0, 'line-too-long': 0, 'invalid-utf8': 0 },
    emptySkipped: 0,
    truncated: 0,
    discardedBytes: 0,
  };

  constructor(options: NdjsonSplitterOptions = {}) {
    super({ readableObjectMode: true, writableObjectMode: false });
    const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new NdjsonError(
        NdjsonErrorCodes.INVALID_OPTION,
        optionMessage('NdjsonSplitter', 'maxLineBytes', 'an integer >= 1', max),
      );
    }
    const policy = options.onInvalid ?? InvalidPolicies.SKIP;
    if (!INVALID_POLICY_VALUES.includes(policy)) {
      throw new NdjsonError(
        NdjsonErrorCodes.INVALID_OPTION,
        optionMessage('NdjsonSplitter', 'onInvalid', `one of ${oneOfList(INVALID_POLICY_VALUES)}`, policy),
      );
    }
    this.#maxLineBytes = max;
    this.#keepValue = options.keepValue === true;
    this.#failOnInvalid = policy === InvalidPolicies.FAIL;
  }

  /** Bytes of the unfinished line (and of a possibly partial BOM) currently held. Never more than `maxLineBytes + 1`. */
  get heldBytes(): number {
    return this.#held + this.#bomPrefix.length;
  }

  /** In `'fail'` mode: the ERR_NDJSON_INVALID_LINE error of the first invalid line, once there was one. */
  get failure(): NdjsonError | undefined {
    return this.#failure;
  }

  /**
   * Ends the input because the caller stopped reading (a signal, the sink went away), not because
   * the input ended: every complete line already written is processed as usual, but a last line
   * without its newline was cut off by the stop — it may be valid JSON that continues — so it is
   * reported with a `'truncated'` event (reason `truncated-at-stop`) and counted in `truncated`,
   * not parsed and not blamed as invalid.
   */
  stop(): void {
    this.#stopping = true;
    if (!this.writableEnded) this.end();
  }

  getMetrics(): NdjsonSplitterMetrics {
    const m = this.#metrics;
    return { ...m, invalidByReason: { ...m.invalidByReason } };
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#failure !== undefined) {
      this.#metrics.discardedBytes += chunk.length;
      callback();
      return;
    }
    const data = this.#atStart ? this.#stripBom(chunk) : chunk;
    if (data !== undefined) this.#scan(data);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    if (
      this.#stopping &&
      this.#failure === undefined &&
      !this.#discarding &&
      (this.#held > 0 || this.#bomPrefix.length > 0)
    ) {
      this.#truncate();
      callback();
      return;
    }
    if (this.#atStart && this.#bomPrefix.length > 0) {
      // Input shorter than a BOM that looked like one: it is data after all.
      const prefix = this.#bomPrefix;
      this.#bomPrefix = EMPTY;
      this.#atStart = false;
      this.#scan(prefix);
    }
    if (this.#failure === undefined) {
      if (this.#discarding) {
        // A too-long last line without newline: already counted when it crossed the limit.
        this.#discarding = false;
      } else if (this.#held > 0) {
        // A last line without newline counts like any other.
        this.#completeLine(EMPTY, 0, 0);
      }
    }
    callback();
  }

  /** The unfinished line at a stop: reported as cut off, neither parsed nor counted as invalid. */
  #truncate(): void {
    const bytes = Buffer.concat([this.#bomPrefix, ...this.#pieces]);
    this.#bomPrefix = EMPTY;
    this.#pieces = [];
    this.#held = 0;
    this.#lastHeldByte = -1;
    const m = this.#metrics;
    m.lines++;
    m.truncated++;
    const event: TruncatedLine = {
      line: this.#line++,
      reason: TRUNCATED_AT_STOP,
      excerpt: excerptOf(bytes, bytes.length),
      bytes,
    };
    this.emit('truncated', event);
  }

  /** Returns the data after a leading BOM, or undefined while the first bytes could still be a BOM. */
  #stripBom(chunk: Buffer): Buffer | undefined {
    const start = this.#bomPrefix.length === 0 ? chunk : Buffer.concat([this.#bomPrefix, chunk]);
    let matched = 0;
    while (matched < BOM.length && matched < start.length && start[matched] === BOM[matched]) matched++;
    if (matched < BOM.length && matched === start.length) {
      this.#bomPrefix = Buffer.from(start);
      return undefined;
    }
    this.#atStart = false;
    this.#bomPrefix = EMPTY;
    return matched === BOM.length ? start.subarray(BOM.length) : start;
  }

  #scan(data: Buffer): void {
    const length = data.length;
    let pos = 0;
    while (pos < length) {
      const newline = data.indexOf(NEWLINE, pos);
      if (newline === -1) {
        this.#hold(data, pos, length);
        return;
      }
      this.#completeLine(data, pos, newline);
      pos = newline + 1;
      if (this.#failure !== undefined) {
        this.#metrics.discardedBytes += length - pos;
        return;
      }
    }
  }

  /** `data[start, end)` continues the current line, with no newline in it. */
  #hold(data: Buffer, start: number, end: number): void {
    if (this.#discarding || end === start) return;
    const held = this.#held + (end - start);
    const last = data[end - 1] as number;
    // One byte of slack for a CR whose LF is still to come: "max bytes + CRLF" is a valid line.
    if (held > this.#maxLineBytes + 1 || (held === this.#maxLineBytes + 1 && last !== CR)) {
      this.#rejectTooLong(this.#line, data, start, end);
      this.#discarding = !this.#failOnInvalid;
      return;
    }
    this.#pieces.push(Buffer.from(data.subarray(start, end)));
    this.#held = held;
    this.#lastHeldByte = last;
  }

  /** `data[start, end)` is the last part of the current line (the newline, if any, excluded). */
  #completeLine(data: Buffer, start: number, end: number): void {
    const lineNumber = this.#line++;
    if (this.#discarding) {
      this.#discarding = false;
      return;
    }
    const total = this.#held + (end - start);
    const last = end > start ? data[end - 1] : this.#lastHeldByte;
    const contentLength = last === CR ? total - 1 : total;
    if (contentLength > this.#maxLineBytes) {
      // Checked before any concatenation: a huge line that arrives whole is never copied.
      this.#rejectTooLong(lineNumber, data, start, end);
      return;
    }
    let bytes: Buffer;
    if (this.#held === 0) {
      // Copy so the record owns its memory: a view would pin the whole input chunk.
      bytes = Buffer.from(data.subarray(start, start + contentLength));
    } else {
      const pieces = this.#pieces;
      if (end > start) pieces.push(data.subarray(start, end));
      bytes = Buffer.concat(pieces, total).subarray(0, contentLength);
      this.#pieces = [];
      this.#held = 0;
      this.#lastHeldByte = -1;
    }
    this.#acceptOrReject(lineNumber, bytes);
  }

  #acceptOrReject(lineNumber: number, bytes: Buffer): void {
    const m = this.#metrics;
    m.lines++;
    if (isBlank(bytes)) {
      m.emptySkipped++;
      return;
    }
    if (!this.#keepValue) {
      // Validation only: a byte scan that allocates nothing instead of toString + JSON.parse
      // (~2.5x faster on log records; CLI bench ratio 1.44 -> 2.92), and isUtf8 — a C++ call,
      // costly once per line — only for the lines that have non-ASCII bytes at all.
      const check = checkJson(bytes);
      if (check === JsonCheck.VALID_ASCII || (check === JsonCheck.VALID_NON_ASCII && isUtf8(bytes))) {
        m.valid++;
        this.push({ line: lineNumber, bytes });
        return;
      }
      // Same precedence as below: bad UTF-8 is reported as such even when the JSON is bad too.
      const reason = isUtf8(bytes) ? InvalidReasons.INVALID_JSON : InvalidReasons.INVALID_UTF8;
      this.#reject(lineNumber, reason, excerptOf(bytes, bytes.length), bytes);
      return;
    }
    if (!isUtf8(bytes)) {
      this.#reject(lineNumber, InvalidReasons.INVALID_UTF8, excerptOf(bytes, bytes.length), bytes);
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch {
      this.#reject(lineNumber, InvalidReasons.INVALID_JSON, excerptOf(bytes, bytes.length), bytes);
      return;
    }
    m.valid++;
    this.push({ line: lineNumber, bytes, value });
  }

  /** Rejects the current line as too long; it is counted now, its bytes are dropped. */
  #rejectTooLong(lineNumber: number, data: Buffer, start: number, end: number): void {
    const head: Buffer[] = [];
    let headBytes = 0;
    for (const piece of this.#pieces) {
      if (headBytes >= EXCERPT_BYTES) break;
      head.push(piece);
      headBytes += piece.length;
    }
    if (headBytes < EXCERPT_BYTES) head.push(data.subarray(start, Math.min(end, start + EXCERPT_BYTES - headBytes)));
    const excerpt = excerptOf(Buffer.concat(head), Number.POSITIVE_INFINITY);
    this.#pieces = [];
    this.#held = 0;
    this.#lastHeldByte = -1;
    this.#metrics.lines++;
    this.#reject(lineNumber, InvalidReasons.LINE_TOO_LONG, excerpt, undefined);
  }

  #reject(lineNumber: number, reason: InvalidReason, excerpt: string, bytes: Buffer | undefined): void {
    const m = this.#metrics;
    m.invalid++;
    m.invalidByReason[reason]++;
    const event: InvalidLine =
      bytes === undefined ? { line: lineNumber, reason, excerpt } : { line: lineNumber, reason, excerpt, bytes };
    if (this.#failOnInvalid) {
      this.#failure = new NdjsonError(NdjsonErrorCodes.INVALID_LINE, `line ${lineNumber}: ${reason}`, {
        line: lineNumber,
        reason,
      });
      this.emit('invalid', event);
      // End the output cleanly: every valid record before this line is already pushed and must reach downstream.
      this.push(null);
      return;
    }
    this.emit('invalid', event);
  }
}

export function createNdjsonSplitter(options: NdjsonSplitterOptions = {}): NdjsonSplitter {
  return new NdjsonSplitter(options);
}

/** Empty, or only spaces, tabs and CRs: an empty line, skipped and counted as such. */
export function isBlank(bytes: Buffer): boolean {
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b !== SPACE && b !== TAB && b !== CR) return false;
  }
  return true;
}

/** A printable excerpt of at most 80 characters. `totalBytes` tells whether there was more than `head`. */
export function excerptOf(head: Buffer, totalBytes: number): string {
  const slice = head.length > EXCERPT_BYTES ? head.subarray(0, EXCERPT_BYTES) : head;
  const text = slice.toString('utf8').replace(NON_PRINTABLE, '?');
  const truncated = totalBytes > slice.length || text.length > EXCERPT_CHARS;
  if (!truncated) return text;
  let cut = Math.min(text.length, EXCERPT_CHARS - 1);
  // Never split a surrogate pair.
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return `${text.slice(0, cut)}…`;
}
