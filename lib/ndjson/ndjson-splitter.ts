import { isUtf8 } from 'node:buffer';
import type { TransformCallback } from 'node:stream';
import { ChunkRecords, SharedLineRecord } from './chunk-records';
import { checkJson, JsonCheck } from './json-check';
import { CheckedLines, checkLines, LineCheck } from './json-lines';
import { excerptOf, isBlank } from './line-text';
import { invalidLine, invalidLineFailure, tooLongExcerpt, truncatedLine } from './line-reports';
import { Transform } from '../util/stream-classes';
import { InvalidReasons, type NdjsonError, type InvalidReason } from './ndjson-errors';
import { resolveSplitterOptions } from './splitter-options';
import type { NdjsonRecord, NdjsonSplitterMetrics, NdjsonSplitterOptions } from './ndjson-types';

export { InvalidReasons, type InvalidReason } from './ndjson-errors';
export {
  DEFAULT_MAX_LINE_BYTES,
  InvalidPolicies,
  TRUNCATED_AT_STOP,
  type InvalidLine,
  type InvalidPolicy,
  type NdjsonRecord,
  type NdjsonSplitterMetrics,
  type NdjsonSplitterOptions,
  type TruncatedLine,
} from './ndjson-types';

const NEWLINE = 0x0a;
const CR = 0x0d;
const BOM = [0xef, 0xbb, 0xbf] as const;
const EMPTY = Buffer.alloc(0);

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
  /** sharedBytes: the valid lines of the chunk being scanned, released as records once it is scanned. */
  readonly #chunkRecords: ChunkRecords | undefined;
  /** The chunk being scanned (sharedBytes), for a release before the end of it (a 'fail' stop). */
  #chunk: Buffer = EMPTY;
  readonly #pushRecord = (record: NdjsonRecord): void => {
    this.push(record);
  };
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
  /** checkLines' results for the chunk being scanned, reused. */
  readonly #checked = new CheckedLines();
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
    const settings = resolveSplitterOptions(options);
    this.#maxLineBytes = settings.maxLineBytes;
    this.#keepValue = settings.keepValue;
    this.#failOnInvalid = settings.failOnInvalid;
    this.#chunkRecords = settings.sharedBytes ? new ChunkRecords() : undefined;
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
    if (data !== undefined) this.#scanChunk(data);
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
      this.#scanChunk(prefix);
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
    this.emit('truncated', truncatedLine(this.#line++, bytes));
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

  /** Scans one chunk, then releases its valid lines (sharedBytes). */
  #scanChunk(data: Buffer): void {
    const pending = this.#chunkRecords;
    if (pending === undefined) {
      this.#scan(data);
      return;
    }
    this.#chunk = data;
    this.#scan(data);
    pending.release(data, this.#pushRecord);
    this.#chunk = EMPTY;
  }

  #scan(data: Buffer): void {
    const length = data.length;
    let pos = 0;
    // The line held from earlier chunks ends here (or goes on): that one alone, as a line of its own.
    if (this.#held > 0 || this.#discarding) {
      const newline = data.indexOf(NEWLINE);
      if (newline === -1) {
        this.#hold(data, 0, length);
        return;
      }
      this.#completeLine(data, 0, newline);
      pos = newline + 1;
    }
    // The lines whole inside the chunk: split and checked in one pass.
    const last = data.lastIndexOf(NEWLINE);
    if (this.#failure === undefined && last >= pos) pos = this.#checkWholeLines(data, pos, last + 1);
    if (this.#failure !== undefined) this.#metrics.discardedBytes += length - pos;
    else if (pos < length) this.#hold(data, pos, length);
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
    // Only a line begun in an earlier chunk comes here (#scan): the rest go through #checkWholeLines.
    const pieces = this.#pieces;
    if (end > start) pieces.push(data.subarray(start, end));
    const bytes = Buffer.concat(pieces, total).subarray(0, contentLength);
    this.#pieces = [];
    this.#held = 0;
    this.#lastHeldByte = -1;
    this.#acceptOrReject(lineNumber, bytes);
  }

  /**
   * The lines of `data[from, to)` (`to` just after a newline), none held from an earlier chunk:
   * checked in one pass, then counted and handed on in order as #completeLine would. Returns where
   * it stopped: `to`, or just after the first invalid line in 'fail' mode.
   */
  #checkWholeLines(data: Buffer, from: number, to: number): number {
    const checked = this.#checked;
    checkLines(data, from, to, checked);
    const { ends, kinds } = checked;
    const count = checked.count;
    const m = this.#metrics;
    const max = this.#maxLineBytes;
    const records = this.#chunkRecords;
    // One isUtf8 for all the lines (valid UTF-8 cut at newlines is valid line by line); per line only if it fails.
    let allUtf8: boolean | undefined;
    let start = from;
    for (let i = 0; i < count; i++) {
      const newline = ends[i] as number;
      const lineNumber = this.#line++;
      const end = newline > start && data[newline - 1] === CR ? newline - 1 : newline;
      const kind = kinds[i];
      if (end - start > max) {
        this.#rejectTooLong(lineNumber, data, start, newline);
      } else if (kind === LineCheck.BLANK) {
        m.lines++;
        m.emptySkipped++;
      } else if (
        kind === LineCheck.VALID &&
        ((allUtf8 ??= isUtf8(data.subarray(from, to))) || isUtf8(data.subarray(start, end)))
      ) {
        m.lines++;
        if (records !== undefined) {
          m.valid++;
          records.add(lineNumber, start, end);
        }
        // Copy so the record owns its memory: a view would pin the whole input chunk.
        else this.#pushValid(lineNumber, Buffer.from(data.subarray(start, end)));
      } else {
        m.lines++;
        const bytes = Buffer.from(data.subarray(start, end));
        const reason = isUtf8(bytes) ? InvalidReasons.INVALID_JSON : InvalidReasons.INVALID_UTF8;
        this.#reject(lineNumber, reason, excerptOf(bytes, bytes.length), bytes);
      }
      start = newline + 1;
      if (this.#failure !== undefined) break;
    }
    return start;
  }

  /** A line in its own copy (it spanned chunks). */
  #acceptOrReject(lineNumber: number, bytes: Buffer): void {
    const m = this.#metrics;
    m.lines++;
    if (isBlank(bytes, 0, bytes.length)) {
      m.emptySkipped++;
      return;
    }
    // isUtf8 — a C++ call, costly once per line — only for the lines that have non-ASCII bytes at all.
    const check = checkJson(bytes);
    if (check === JsonCheck.VALID_ASCII || (check === JsonCheck.VALID_NON_ASCII && isUtf8(bytes))) {
      this.#pushValid(lineNumber, bytes);
      return;
    }
    // Bad UTF-8 is reported as such even when the JSON is bad too.
    const reason = isUtf8(bytes) ? InvalidReasons.INVALID_JSON : InvalidReasons.INVALID_UTF8;
    this.#reject(lineNumber, reason, excerptOf(bytes, bytes.length), bytes);
  }

  /** A valid line with bytes of its own: pushed (with keepValue, parsed first) and counted. */
  #pushValid(lineNumber: number, bytes: Buffer): void {
    if (!this.#keepValue) {
      this.#metrics.valid++;
      // sharedBytes: a line that spanned chunks has its own copy, but is joined like the others.
      this.push(
        this.#chunkRecords === undefined
          ? { line: lineNumber, bytes }
          : new SharedLineRecord(lineNumber, bytes, 0, bytes),
      );
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(bytes.toString('utf8'));
    } catch {
      // Never expected (the check is JSON.parse's grammar), but a failure is never a success.
      this.#reject(lineNumber, InvalidReasons.INVALID_JSON, excerptOf(bytes, bytes.length), bytes);
      return;
    }
    this.#metrics.valid++;
    this.push({ line: lineNumber, bytes, value });
  }

  /** Rejects the current line as too long; it is counted now, its bytes are dropped. */
  #rejectTooLong(lineNumber: number, data: Buffer, start: number, end: number): void {
    const excerpt = tooLongExcerpt(this.#pieces, data, start, end);
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
    const event = invalidLine(lineNumber, reason, excerpt, bytes);
    if (this.#failOnInvalid) {
      this.#failure = invalidLineFailure(lineNumber, reason);
      // Every valid record before this line must reach downstream: those of this chunk first.
      this.#chunkRecords?.release(this.#chunk, this.#pushRecord);
      this.emit('invalid', event);
      // End the output cleanly.
      this.push(null);
      return;
    }
    this.emit('invalid', event);
  }
}

export function createNdjsonSplitter(options: NdjsonSplitterOptions = {}): NdjsonSplitter {
  return new NdjsonSplitter(options);
}
