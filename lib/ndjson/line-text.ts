const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const EXCERPT_CHARS = 80;
/** Enough bytes for 80 characters of up to 4 bytes each: an excerpt never needs more. */
export const EXCERPT_BYTES = EXCERPT_CHARS * 4;
// Control, format (bidi overrides, zero-width, BOM) and line/paragraph separators:
// anything that could corrupt a terminal line or a log record.
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/** `bytes[start, end)` holds only spaces, tabs and CRs (an empty line counts). */
export function isBlank(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
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
