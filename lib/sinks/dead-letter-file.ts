import { closeSync, fstatSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import type { DurableError } from '../durable/durable-errors';
import type { InvalidLine, NdjsonRecord, TruncatedLine } from '../ndjson/ndjson-splitter';

/**
 * A dead-letter write failed (ENOSPC, EIO, EBADF, …). `written` entries of the batch did reach
 * the file (whole: a partly written entry is cut off again where the file allows it); the rest
 * did not. `code` is the file system's code.
 */
export class DeadLetterWriteError extends Error {
  readonly code: string;
  /** Entries of the failed call that are in the file. */
  readonly written: number;

  constructor(path: string, cause: unknown, written: number) {
    const code = (cause as { code?: unknown } | undefined)?.code;
    // Duck-typed: an fs error may come from another realm (a vm context), where instanceof Error fails.
    const message = (cause as { message?: unknown } | undefined)?.message;
    super(`cannot write to --dead-letter file ${path}: ${typeof message === 'string' ? message : String(cause)}`, {
      cause,
    });
    this.name = 'DeadLetterWriteError';
    this.code = typeof code === 'string' ? code : 'EIO';
    this.written = written;
  }
}

/**
 * Appends what could not be delivered to a file, one JSON object per line:
 *
 *   {"line":12,"reason":"undeliverable","error":"HTTP 400 ...","record":{...the original JSON...}}
 *   {"line":40,"reason":"possibly-undelivered","error":"sink stdout is gone ...","record":{...}}
 *   {"line":97,"reason":"invalid-json","excerpt":"{\"ts\":...","raw":"{\"ts\":..."}
 *   {"line":98,"reason":"truncated-at-stop","excerpt":"{\"ts\":...","raw":"{\"ts\":..."}
 *   {"reason":"corrupt","code":"ERR_DURABLE_CORRUPT_RECORD","error":"...","seq":41,"count":1,"rawBase64":"..."}
 *
 * A record read back from a durable log (`--buffer-dir`) does not know its input line: `"line":null`.
 *
 * Writes are synchronous on purpose: dead-lettering is the rare path, a sync
 * append can neither buffer without bound nor be lost when the process exits
 * right after (a second Ctrl-C, `process.exit`), and the next write starts
 * only once the previous one is on disk.
 *
 * A write that fails (a full disk, `/dev/full`) throws `DeadLetterWriteError`, which says how many
 * of the entries did reach the file: a caller counts only those as dead-lettered.
 */
export class DeadLetterFile {
  readonly path: string;
  #fd: number | undefined;
  #written = 0;

  /** Opens (creating or appending to) `path`. Throws the `fs` error if it cannot. */
  constructor(path: string) {
    this.path = path;
    this.#fd = openSync(path, 'a');
  }

  /** Entries written so far. */
  get written(): number {
    return this.#written;
  }

  /**
   * Records the sink gave up on (`reason` "undeliverable"), or records written into a pipe whose
   * reader then died, which it may not have read ("possibly-undelivered"). Their bytes are valid
   * JSON, so they are embedded as-is, not re-serialized. Returns how many were written (all of them,
   * or it throws `DeadLetterWriteError`).
   */
  writeUndeliverable(
    records: readonly NdjsonRecord[],
    error: Error,
    reason: 'undeliverable' | 'possibly-undelivered' = 'undeliverable',
  ): number {
    if (records.length === 0) return 0;
    const errorJson = JSON.stringify(error.message);
    const parts: string[] = new Array<string>(records.length);
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as NdjsonRecord;
      // A record read from a Redis stream names its entry, to find it there.
      const id = (record as { id?: unknown }).id;
      const idJson = typeof id === 'string' ? `,"id":${JSON.stringify(id)}` : '';
      parts[i] =
        `{"line":${record.line > 0 ? record.line : null}${idJson},"reason":"${reason}","error":${errorJson},"record":${record.bytes.toString('utf8').trim()}}\n`;
    }
    this.#append(parts);
    return records.length;
  }

  /**
   * An invalid input line, or the line reading stopped in the middle of (`truncated-at-stop`): its
   * number, why, an excerpt, and the raw bytes when the splitter kept them.
   */
  writeInvalid(invalid: (InvalidLine | TruncatedLine) & { id?: string }): void {
    const entry: Record<string, unknown> = { line: invalid.line };
    if (invalid.id !== undefined) entry['id'] = invalid.id;
    entry['reason'] = invalid.reason;
    entry['excerpt'] = invalid.excerpt;
    addRaw(entry, invalid.bytes, invalid.reason === 'invalid-utf8');
    this.#append([`${JSON.stringify(entry)}\n`]);
  }

  /**
   * Bytes a durable log gave back damaged (a failed checksum, a missing range) or that its codec
   * refused: they may not be JSON, or even whole, so they are kept as they are — `raw` when they are
   * UTF-8, else `rawBase64` — with the log's own account of them (code, message, sequence range).
   */
  writeCorrupt(bytes: Buffer, error: DurableError): void {
    const entry: Record<string, unknown> = { reason: 'corrupt', code: error.code, error: error.message };
    if (error.seq !== undefined) entry['seq'] = error.seq;
    if (error.count !== undefined) entry['count'] = error.count;
    if (error.segment !== undefined) entry['segment'] = error.segment;
    if (error.offset !== undefined) entry['offset'] = error.offset;
    if (error.rawTruncated === true) entry['rawTruncated'] = true;
    addRaw(entry, bytes, false);
    this.#append([`${JSON.stringify(entry)}\n`]);
  }

  /**
   * Stream entries delivered more than `maxDeliveries` times (reason "poison"), with their raw
   * record: nobody checked it (it may be what made every delivery fail), so it is kept as bytes.
   */
  writePoison(entries: readonly { id: string; record: Buffer | undefined }[], error: Error): void {
    if (entries.length === 0) return;
    this.#append(
      entries.map((e) => {
        const entry: Record<string, unknown> = { id: e.id, reason: 'poison', error: error.message };
        addRaw(entry, e.record, false);
        return `${JSON.stringify(entry)}\n`;
      }),
    );
  }

  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }

  /** Appends whole entries; on failure, reports (and keeps) only the entries that are whole in the file. */
  #append(entries: readonly string[]): void {
    const fd = this.#fd;
    if (fd === undefined) throw new DeadLetterWriteError(this.path, new Error('the file is closed'), 0);
    const buffer = Buffer.from(entries.join(''), 'utf8');
    let offset = 0;
    try {
      // writeSync may write less than asked (e.g. to a pipe); loop until all is out.
      while (offset < buffer.length) offset += writeSync(fd, buffer, offset, buffer.length - offset);
    } catch (err) {
      let whole = 0;
      let end = 0;
      for (const entry of entries) {
        const next = end + Buffer.byteLength(entry, 'utf8');
        if (next > offset) break;
        end = next;
        whole++;
      }
      if (offset > end) cutPartialEntry(fd, offset - end);
      this.#written += whole;
      throw new DeadLetterWriteError(this.path, err, whole);
    }
    this.#written += entries.length;
  }
}

/** `raw` (UTF-8 text), or `rawBase64` when the bytes are not valid UTF-8: they would not survive a JSON string. */
function addRaw(entry: Record<string, unknown>, bytes: Buffer | undefined, knownBadUtf8: boolean): void {
  if (bytes === undefined) return;
  if (knownBadUtf8 || !isUtf8(bytes)) entry['rawBase64'] = bytes.toString('base64');
  else entry['raw'] = bytes.toString('utf8');
}

/** A full disk may take the start of an entry: cut it off, so that the file stays whole JSON lines (regular files only). */
function cutPartialEntry(fd: number, partialBytes: number): void {
  try {
    const stat = fstatSync(fd);
    if (stat.isFile()) ftruncateSync(fd, stat.size - partialBytes);
  } catch {
    // Not a regular file, or the truncate failed too: nothing more can be done.
  }
}
