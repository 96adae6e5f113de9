import { isUtf8 } from 'node:buffer';
import type { TransformCallback } from 'node:stream';
import { checkJson, JsonCheck } from '../ndjson/json-check';
import { InvalidReasons, NdjsonError, NdjsonErrorCodes, type InvalidReason } from '../ndjson/ndjson-errors';
import { excerptOf, isBlank } from '../ndjson/line-text';
import {
  InvalidPolicies,
  type InvalidLine,
  type InvalidPolicy,
  type NdjsonRecord,
  type NdjsonSplitterMetrics,
} from '../ndjson/ndjson-splitter';
import type { RedisStreamEntry } from '../redis/source-options';
import { Transform } from '../util/stream-classes';

/** A record read from a Redis stream: an NDJSON record that knows the entry to acknowledge. */
export interface StreamRecord extends NdjsonRecord {
  /** The stream entry's id. */
  id: string;
}

/** An invalid entry (`'invalid'` event): the splitter's report, plus the entry's id. */
export interface InvalidEntry extends InvalidLine {
  id: string;
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Turns stream entries into NDJSON records with the checks stdin lines get: the record (the
 * `data` field) must be one line of valid JSON in valid UTF-8, at most `maxLineBytes` long (one
 * trailing newline, LF or CRLF, is allowed and removed, as a line's newline is). Blank records are
 * skipped and counted (`emptySkipped`); an entry without the field is invalid (`invalid-json`).
 * `line` numbers entries in the order this run read them.
 *
 * Events: `'invalid'` (InvalidEntry), `'empty'` (the entry's id). With `onInvalid: 'fail'`, the
 * first invalid entry sets `failure` and ends the output; entries after it are handed to
 * `'passed-over'` (their ids), never delivered.
 */
export class StreamRecordValidator extends Transform {
  readonly #maxLineBytes: number;
  readonly #keepValue: boolean;
  readonly #failOnInvalid: boolean;
  #failure: NdjsonError | undefined;
  readonly #metrics: NdjsonSplitterMetrics = {
    lines: 0,
    valid: 0,
    invalid: 0,
    invalidByReason: { 'invalid-json': 0, 'line-too-long': 0, 'invalid-utf8': 0 },
    emptySkipped: 0,
    truncated: 0,
    discardedBytes: 0,
  };

  constructor(options: { maxLineBytes: number; keepValue: boolean; onInvalid: InvalidPolicy }) {
    super({ objectMode: true, highWaterMark: 16 });
    this.#maxLineBytes = options.maxLineBytes;
    this.#keepValue = options.keepValue;
    this.#failOnInvalid = options.onInvalid === InvalidPolicies.FAIL;
  }

  get failure(): NdjsonError | undefined {
    return this.#failure;
  }

  getMetrics(): NdjsonSplitterMetrics {
    const m = this.#metrics;
    return { ...m, invalidByReason: { ...m.invalidByReason } };
  }

  override _transform(entry: RedisStreamEntry<Buffer>, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#failure !== undefined) {
      this.emit('passed-over', entry.id);
      callback();
      return;
    }
    this.#check(entry);
    callback();
  }

  #check(entry: RedisStreamEntry<Buffer>): void {
    const m = this.#metrics;
    const line = ++m.lines;
    const raw = entry.record;
    if (raw === undefined) {
      this.#reject(entry.id, line, InvalidReasons.INVALID_JSON, '(the entry has no such field)', undefined);
      return;
    }
    let end = raw.length;
    if (end > 0 && raw[end - 1] === LF) end -= end > 1 && raw[end - 2] === CR ? 2 : 1;
    if (end > this.#maxLineBytes) {
      this.#reject(entry.id, line, InvalidReasons.LINE_TOO_LONG, excerptOf(raw, raw.length), undefined);
      return;
    }
    const bytes = end === raw.length ? raw : raw.subarray(0, end);
    if (isBlankRecord(bytes)) {
      m.emptySkipped++;
      this.emit('empty', entry.id);
      return;
    }
    const reason = invalidReasonOf(bytes);
    if (reason !== undefined) {
      this.#reject(entry.id, line, reason, excerptOf(bytes, bytes.length), bytes);
      return;
    }
    m.valid++;
    const record: StreamRecord = { line, bytes, id: entry.id };
    if (this.#keepValue) record.value = JSON.parse(bytes.toString('utf8'));
    this.push(record);
  }

  #reject(id: string, line: number, reason: InvalidReason, excerpt: string, bytes: Buffer | undefined): void {
    const m = this.#metrics;
    m.invalid++;
    m.invalidByReason[reason]++;
    const event: InvalidEntry =
      bytes === undefined ? { id, line, reason, excerpt } : { id, line, reason, excerpt, bytes };
    if (this.#failOnInvalid) {
      this.#failure = new NdjsonError(NdjsonErrorCodes.INVALID_LINE, `entry ${id}: ${reason}`, { line, reason });
      this.emit('invalid', event);
      this.push(null); // every valid record before it is out and reaches downstream
      return;
    }
    this.emit('invalid', event);
  }
}

/** Blank like an empty line (spaces, tabs, CRs); a record with a newline inside is not one line, so never blank. */
function isBlankRecord(bytes: Buffer): boolean {
  return isBlank(bytes, 0, bytes.length);
}

/**
 * Why a record is not one valid NDJSON line, or undefined when it is: the splitter's rules
 * (bad UTF-8 wins over bad JSON), plus a newline inside, which would split it into lines on output.
 */
function invalidReasonOf(bytes: Buffer): InvalidReason | undefined {
  const check = checkJson(bytes);
  const newline = bytes.indexOf(LF) !== -1;
  if (!newline && (check === JsonCheck.VALID_ASCII || (check === JsonCheck.VALID_NON_ASCII && isUtf8(bytes))))
    return undefined;
  if (check === JsonCheck.VALID_ASCII) return InvalidReasons.INVALID_JSON;
  return isUtf8(bytes) ? InvalidReasons.INVALID_JSON : InvalidReasons.INVALID_UTF8;
}
