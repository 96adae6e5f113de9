import { isUtf8 } from 'node:buffer';
import type { TransformCallback } from 'node:stream';
import { ChunkRecords, SharedLineRecord } from './chunk-records';
import { checkJson, JsonCheck } from './json-check';
import { excerptOf, EXCERPT_BYTES, isBlank } from './line-text';
import { Transform } from '../util/stream-classes';
import { oneOfList, optionMessage } from '../util/validate';
import { InvalidReasons, NdjsonError, NdjsonErrorCodes, type InvalidReason } from './ndjson-errors';
import {
  DEFAULT_MAX_LINE_BYTES,
  INVALID_POLICY_VALUES,
  InvalidPolicies,
  TRUNCATED_AT_STOP,
  type InvalidLine,
  type NdjsonRecord,
  type NdjsonSplitterMetrics,
  type NdjsonSplitterOptions,
  type TruncatedLine,
} from './ndjson-types';

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
    this.#chunkRecords = options.sharedBytes === true && !this.#keepValue ? new ChunkRecords() : undefined;
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
      if (this.#chunkRecords !== undefined) {
        this.#acceptInChunk(lineNumber, data, start, start + contentLength);
        return;
      }
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

  /**
   * sharedBytes: a line whole inside the chunk, checked where it is. A valid one waits to be released
   * with the rest of the chunk's (ChunkRecords); only an invalid one is copied, for its event.
   */
  #acceptInChunk(lineNumber: number, data: Buffer, start: number, end: number): void {
    const m = this.#metrics;
    m.lines++;
    if (isBlank(data, start, end)) {
      m.emptySkipped++;
      return;
    }
    const check = checkJson(data, start, end);
    if (check === JsonCheck.VALID_ASCII || (check === JsonCheck.VALID_NON_ASCII && isUtf8(data.subarray(start, end)))) {
      m.valid++;
      (this.#chunkRecords as ChunkRecords).add(lineNumber, start, end);
      return;
    }
    const bytes = Buffer.from(data.subarray(start, end));
    const reason = isUtf8(bytes) ? InvalidReasons.INVALID_JSON : InvalidReasons.INVALID_UTF8;
    this.#reject(lineNumber, reason, excerptOf(bytes, bytes.length), bytes);
  }

  #acceptOrReject(lineNumber: number, bytes: Buffer): void {
    const m = this.#metrics;
    m.lines++;
    if (isBlank(bytes, 0, bytes.length)) {
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
        // sharedBytes: a line that spanned chunks has its own copy, but is joined like the others.
        this.push(
          this.#chunkRecords === undefined
            ? { line: lineNumber, bytes }
            : new SharedLineRecord(lineNumber, bytes, 0, bytes),
        );
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
