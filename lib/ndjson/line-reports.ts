import { excerptOf, EXCERPT_BYTES } from './line-text';
import { NdjsonError, NdjsonErrorCodes, type InvalidReason } from './ndjson-errors';
import { TRUNCATED_AT_STOP, type InvalidLine, type TruncatedLine } from './ndjson-types';

/**
 * What the splitter reports of a line it does not pass on: the `'invalid'` and `'truncated'`
 * payloads, the excerpt of a line too long to hold, and the error a `'fail'` stop sets. Only
 * the lines not passed on come here, never the per-line path of valid ones.
 */

/** The `'invalid'` payload; `bytes` is absent for `line-too-long` (such a line is never held whole). */
export function invalidLine(
  line: number,
  reason: InvalidReason,
  excerpt: string,
  bytes: Buffer | undefined,
): InvalidLine {
  return bytes === undefined ? { line, reason, excerpt } : { line, reason, excerpt, bytes };
}

/** The ERR_NDJSON_INVALID_LINE error of `onInvalid: 'fail'`, for the first invalid line. */
export function invalidLineFailure(line: number, reason: InvalidReason): NdjsonError {
  return new NdjsonError(NdjsonErrorCodes.INVALID_LINE, `line ${line}: ${reason}`, { line, reason });
}

/** The `'truncated'` payload of the unfinished line a `stop()` cut off. */
export function truncatedLine(line: number, bytes: Buffer): TruncatedLine {
  return { line, reason: TRUNCATED_AT_STOP, excerpt: excerptOf(bytes, bytes.length), bytes };
}

/**
 * The excerpt of a line rejected as too long: its held `pieces`, then `data[start, end)`, read only
 * as far as an excerpt needs (the line itself is never joined, however long it is).
 */
export function tooLongExcerpt(pieces: readonly Buffer[], data: Buffer, start: number, end: number): string {
  const head: Buffer[] = [];
  let headBytes = 0;
  for (const piece of pieces) {
    if (headBytes >= EXCERPT_BYTES) break;
    head.push(piece);
    headBytes += piece.length;
  }
  if (headBytes < EXCERPT_BYTES) head.push(data.subarray(start, Math.min(end, start + EXCERPT_BYTES - headBytes)));
  return excerptOf(Buffer.concat(head), Number.POSITIVE_INFINITY);
}
