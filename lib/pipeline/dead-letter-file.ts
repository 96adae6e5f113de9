import { closeSync, openSync, writeSync } from 'node:fs';
import type { InvalidLine, NdjsonRecord } from '../ndjson/ndjson-splitter';

/**
 * Appends what could not be delivered to a file, one JSON object per line:
 *
 *   {"line":12,"reason":"undeliverable","error":"HTTP 400 ...","record":{...the original JSON...}}
 *   {"line":40,"reason":"possibly-undelivered","error":"sink stdout is gone ...","record":{...}}
 *   {"line":97,"reason":"invalid-json","excerpt":"{\"ts\":...","raw":"{\"ts\":..."}
 *
 * Writes are synchronous on purpose: dead-lettering is the rare path, a sync
 * append can neither buffer without bound nor be lost when the process exits
 * right after (a second Ctrl-C, `process.exit`), and the next write starts
 * only once the previous one is on disk.
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
   * JSON, so they are embedded as-is, not re-serialized.
   */
  writeUndeliverable(records: readonly NdjsonRecord[], error: Error, reason: 'undeliverable' | 'possibly-undelivered' = 'undeliverable'): void {
    if (records.length === 0) return;
    const errorJson = JSON.stringify(error.message);
    const parts: string[] = new Array<string>(records.length);
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as NdjsonRecord;
      parts[i] = `{"line":${record.line},"reason":"${reason}","error":${errorJson},"record":${record.bytes.toString('utf8').trim()}}\n`;
    }
    this.#append(parts.join(''));
    this.#written += records.length;
  }

  /** An invalid input line: its number, why, an excerpt, and the raw bytes when the splitter kept them. */
  writeInvalid(invalid: InvalidLine): void {
    const entry: Record<string, unknown> = { line: invalid.line, reason: invalid.reason, excerpt: invalid.excerpt };
    if (invalid.bytes !== undefined) {
      // Invalid UTF-8 cannot survive a round trip through a JSON string; base64 can.
      if (invalid.reason === 'invalid-utf8') entry['rawBase64'] = invalid.bytes.toString('base64');
      else entry['raw'] = invalid.bytes.toString('utf8');
    }
    this.#append(`${JSON.stringify(entry)}\n`);
    this.#written++;
  }

  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }

  #append(text: string): void {
    if (this.#fd === undefined) throw new Error(`dead-letter file ${this.path} is closed`);
    const buffer = Buffer.from(text, 'utf8');
    let offset = 0;
    // writeSync may write less than asked (e.g. to a pipe); loop until all is out.
    while (offset < buffer.length) offset += writeSync(this.#fd, buffer, offset, buffer.length - offset);
  }
}
