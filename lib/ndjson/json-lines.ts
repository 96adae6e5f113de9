/**
 * Splitting and JSON-checking the complete lines of a chunk in one pass, for the NDJSON splitter.
 * Checking line by line (`indexOf` for the newline, a blank test, then `checkJson`) visits every
 * byte three times and pays two calls per line; here every byte is visited once, with no bounds
 * test in the loops: the region ends with a newline, and every loop stops at a newline (it is a
 * control character inside strings, not a digit, not part of a literal, and not the whitespace
 * this scanner skips), so none can run past the end.
 *
 * Grammar: each line must be one JSON value (RFC 8259, exactly what `JSON.parse` accepts; a
 * property test compares them) with optional spaces, tabs and CRs around it. UTF-8 validity is not
 * checked here: bytes ≥ 0x80 are accepted inside strings and refused elsewhere, and the caller checks
 * the whole region with one `isUtf8` call (valid UTF-8 cut at newlines — ASCII bytes, never inside
 * a multi-byte character — is valid UTF-8 line by line), rather than paying a per-byte test here.
 */
export const LineCheck = {
  /** Not one JSON value. */
  INVALID: 0,
  /** One JSON value, if its bytes ≥ 0x80 are valid UTF-8. */
  VALID: 1,
  /** Nothing but spaces, tabs and CRs (or nothing at all). */
  BLANK: 2,
} as const;

export type LineCheck = (typeof LineCheck)[keyof typeof LineCheck];

/** What {@link checkLines} found: reused from call to call (no allocation per line or per chunk). */
export class CheckedLines {
  /** Lines found. */
  count = 0;
  /** The position of each line's newline: line `i` is `[ends[i - 1] + 1, ends[i])`, the first starts at `start`. */
  readonly ends: number[] = [];
  /** The {@link LineCheck} of each line. */
  readonly kinds: LineCheck[] = [];
}

const LF = 0x0a;
const CR = 0x0d;
const TAB = 0x09;
const SPACE = 0x20;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const ONE = 0x31;
const NINE = 0x39;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
/** `}` and `]` are 2 above `{` and `[`. */
const CLOSER_OFFSET = 2;

const HEX_DIGIT = new Uint8Array(256);
const SIMPLE_ESCAPE = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX_DIGIT[c.charCodeAt(0)] = 1;
for (const c of '"\\/bfnrt') SIMPLE_ESCAPE[c.charCodeAt(0)] = 1;

/** The closer each open container waits for, innermost last; grows by doubling, and a big one is dropped after use. */
let nesting = new Uint8Array(64);
const KEEP_NESTING = 4096;

/**
 * Checks every line of `bytes[start, end)`, which must end with a newline (a `RangeError`
 * otherwise), and writes each line's newline position and {@link LineCheck} into `into`.
 * A trailing CR is whitespace here; the caller leaves it out of the line's bytes.
 */
export function checkLines(bytes: Uint8Array, start: number, end: number, into: CheckedLines): void {
  if (!(end > start && end <= bytes.length && bytes[end - 1] === LF) || start < 0) {
    throw new RangeError(`checkLines: bytes[${start}, ${end}) must be a range that ends with a newline`);
  }
  const b = bytes;
  const ends = into.ends;
  const kinds = into.kinds;
  let stack = nesting;
  let n = 0;
  let p = start;
  let c: number;
  while (p < end) {
    const lineStart = p;
    let kind: LineCheck = LineCheck.INVALID;
    let depth = 0;
    let expectKey = false;
    while ((c = b[p] as number) <= SPACE && (c === SPACE || c === TAB || c === CR)) p++;
    if (c === LF) kind = LineCheck.BLANK;
    // At a byte that is not whitespace (`c`, at `p`), where a value — or a key — starts.
    else
      value: for (;;) {
        if (c === QUOTE) {
          p++;
          for (;;) {
            c = b[p++] as number;
            if (c > QUOTE && c !== BACKSLASH) continue; // the common case first: one test per plain byte
            if (c === QUOTE) break;
            if (c === BACKSLASH) {
              c = b[p++] as number;
              if (c === 0x75 /* u */) {
                if (
                  HEX_DIGIT[b[p] as number] === 1 &&
                  HEX_DIGIT[b[p + 1] as number] === 1 &&
                  HEX_DIGIT[b[p + 2] as number] === 1 &&
                  HEX_DIGIT[b[p + 3] as number] === 1
                ) {
                  p += 4;
                } else break value;
              } else if (SIMPLE_ESCAPE[c] !== 1) break value;
            } else if (c < SPACE) break value; // a raw control character, the newline included
          }
          if (expectKey) {
            while ((c = b[p] as number) <= SPACE && (c === SPACE || c === TAB || c === CR)) p++;
            if (c !== COLON) break value;
            p++;
            expectKey = false;
            while ((c = b[p] as number) <= SPACE && (c === SPACE || c === TAB || c === CR)) p++;
            continue;
          }
        } else if (expectKey) {
          break value;
        } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
          const close = c + CLOSER_OFFSET;
          p++;
          while ((c = b[p] as number) <= SPACE && (c === SPACE || c === TAB || c === CR)) p++;
          if (c === close) {
            p++; // an empty container: a complete value
          } else {
            if (depth === stack.length) {
              const grown = new Uint8Array(depth * 2);
              grown.set(stack);
              nesting = stack = grown;
            }
            stack[depth++] = close;
            expectKey = close === CLOSE_OBJECT;
            continue;
          }
        } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
          if (c === MINUS) c = b[++p] as number;
          if (c === ZERO) p++;
          else if (c >= ONE && c <= NINE) {
            p++;
            while ((c = b[p] as number) >= ZERO && c <= NINE) p++;
          } else break value;
          if (b[p] === DOT) {
            c = b[++p] as number;
            if (c < ZERO || c > NINE) break value;
            p++;
            while ((c = b[p] as number) >= ZERO && c <= NINE) p++;
          }
          if ((c = b[p] as number) === 0x65 /* e */ || c === 0x45 /* E */) {
            c = b[++p] as number;
            if (c === PLUS || c === MINUS) c = b[++p] as number;
            if (c < ZERO || c > NINE) break value;
            p++;
            while ((c = b[p] as number) >= ZERO && c <= NINE) p++;
          }
        } else if (c === 0x74 /* t */) {
          if (b[p + 1] === 0x72 && b[p + 2] === 0x75 && b[p + 3] === 0x65) p += 4;
          else break value;
        } else if (c === 0x66 /* f */) {
          if (b[p + 1] === 0x61 && b[p + 2] === 0x6c && b[p + 3] === 0x73 && b[p + 4] === 0x65) p += 5;
          else break value;
        } else if (c === 0x6e /* n */) {
          if (b[p + 1] === 0x75 && b[p + 2] === 0x6c && b[p + 3] === 0x6c) p += 4;
          else break value;
        } else {
          break value;
        }
        // A value ended: close containers until one continues with a comma, or the line ends.
        for (;;) {
          while ((c = b[p] as number) <= SPACE && (c === SPACE || c === TAB || c === CR)) p++;
          if (depth === 0) {
            if (c === LF) kind = LineCheck.VALID;
            break value;
          }
          if (c === COMMA) {
            p++;
            expectKey = stack[depth - 1] === CLOSE_OBJECT;
            while ((c = b[p] as number) <= SPACE && (c === SPACE || c === TAB || c === CR)) p++;
            continue value;
          }
          if (c !== stack[depth - 1]) break value;
          p++;
          depth--;
        }
      }
    if (kind === LineCheck.INVALID) {
      // The line ends at the next newline. A failed test may have read the newline itself, never
      // more than one byte past it: look from one byte back.
      if (p > lineStart) p--;
      while (b[p] !== LF) p++;
    }
    ends[n] = p;
    kinds[n] = kind;
    n++;
    p++;
  }
  into.count = n;
  if (stack.length > KEEP_NESTING) nesting = new Uint8Array(64); // one deep line must not pin its stack
}
