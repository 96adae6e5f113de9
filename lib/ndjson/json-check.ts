/**
 * A JSON syntax check over bytes that allocates nothing: what NDJSON validation
 * needs when the parsed value itself is not wanted (the CLI needs it only for
 * `--priority-field`). Parsing with `JSON.parse` first decodes the line into a
 * string and then builds every object, array and string in it, only for the
 * garbage collector to throw them away; this scanner visits each byte once.
 * On log-like records (~150 bytes) it is ~4× faster than
 * `JSON.parse(buf.toString())` (`npm run bench:json-check`). The NDJSON splitter checks the
 * lines of a chunk with `checkLines` (json-lines.ts), the same grammar in a newline-bounded pass;
 * this one serves lines that span chunks, other callers, and the public API.
 *
 * Grammar: RFC 8259, exactly what `JSON.parse` accepts (checked by a
 * property test against it), one value with optional surrounding whitespace.
 * Bytes ≥ 0x80 are accepted inside strings only; whether they form valid
 * UTF-8 is the caller's check — the result says when it is needed, so that
 * the common all-ASCII line skips it.
 */
export const JsonCheck = {
  /** Not one valid JSON value. */
  INVALID: 0,
  /** Valid, and every byte is ASCII (so the line is valid UTF-8 too). */
  VALID_ASCII: 1,
  /** Valid JSON syntax, with bytes ≥ 0x80 inside strings: check UTF-8 validity (`buffer.isUtf8`) too. */
  VALID_NON_ASCII: 2,
} as const;

export type JsonCheck = (typeof JsonCheck)[keyof typeof JsonCheck];

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const ONE = 0x31;
const NINE = 0x39;
/** `}` and `]` are 2 above `{` and `[`. */
const CLOSER_OFFSET = 2;

const HEX_DIGIT = new Uint8Array(256);
const SIMPLE_ESCAPE = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX_DIGIT[c.charCodeAt(0)] = 1;
for (const c of '"\\/bfnrt') SIMPLE_ESCAPE[c.charCodeAt(0)] = 1;

/** The closer each open container waits for, innermost last; grows by doubling (JSON.parse has no fixed depth limit either), and a big one is dropped after use. */
let nesting = new Uint8Array(64);
const KEEP_NESTING = 4096;

/**
 * Checks that `bytes[start, end)` is exactly one JSON value (RFC 8259), allocating nothing.
 *
 * One function, every step written out in it, with its state in locals: V8 does not inline the
 * helpers of a function this size, and a call per string or number cost a third of the time.
 * A loop over values instead of recursion: nesting depth costs no JS stack.
 */
export function checkJson(bytes: Uint8Array, start = 0, end = bytes.length): JsonCheck {
  const b = bytes;
  let stack = nesting;
  let p = start;
  let depth = 0;
  let bits = 0; // OR of every string byte: bit 7 set means some byte was >= 0x80
  let c: number;
  let expectKey = false;
  let result: JsonCheck = JsonCheck.INVALID;
  // Whitespace, then a value or (expectKey) a key.
  value: for (;;) {
    for (;;) {
      if (p >= end) break value;
      c = b[p] as number;
      if (c > SPACE || (c !== SPACE && c !== LF && c !== CR && c !== TAB)) break;
      p++;
    }
    if (c === QUOTE) {
      p++;
      for (;;) {
        if (p >= end) break value;
        c = b[p++] as number;
        if (c > QUOTE && c !== BACKSLASH) {
          bits |= c;
          continue;
        }
        if (c === QUOTE) break;
        if (c === BACKSLASH) {
          if (p >= end) break value;
          c = b[p++] as number;
          if (c === 0x75 /* u */) {
            if (
              p + 4 > end ||
              (HEX_DIGIT[b[p] as number]! &
                HEX_DIGIT[b[p + 1] as number]! &
                HEX_DIGIT[b[p + 2] as number]! &
                HEX_DIGIT[b[p + 3] as number]!) ===
                0
            ) {
              break value;
            }
            p += 4;
          } else if (SIMPLE_ESCAPE[c] !== 1) break value;
        } else if (c < SPACE) break value; // a raw control character
      }
      if (expectKey) {
        for (;;) {
          if (p >= end) break value;
          c = b[p] as number;
          if (c > SPACE || (c !== SPACE && c !== LF && c !== CR && c !== TAB)) break;
          p++;
        }
        if (c !== COLON) break value;
        p++;
        expectKey = false;
        continue;
      }
    } else if (expectKey) {
      break value;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      const close = c + CLOSER_OFFSET;
      p++;
      for (;;) {
        if (p >= end) break value;
        c = b[p] as number;
        if (c > SPACE || (c !== SPACE && c !== LF && c !== CR && c !== TAB)) break;
        p++;
      }
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
      if (c === MINUS) {
        if (++p >= end) break value;
        c = b[p] as number;
      }
      if (c === ZERO) p++;
      else if (c >= ONE && c <= NINE) {
        p++;
        while (p < end && (c = b[p] as number) >= ZERO && c <= NINE) p++;
      } else break value;
      if (p < end && b[p] === DOT) {
        if (++p >= end || (c = b[p] as number) < ZERO || c > NINE) break value;
        p++;
        while (p < end && (c = b[p] as number) >= ZERO && c <= NINE) p++;
      }
      if (p < end && ((c = b[p] as number) === 0x65 /* e */ || c === 0x45) /* E */) {
        if (++p < end && ((c = b[p] as number) === PLUS || c === MINUS)) p++;
        if (p >= end || (c = b[p] as number) < ZERO || c > NINE) break value;
        p++;
        while (p < end && (c = b[p] as number) >= ZERO && c <= NINE) p++;
      }
    } else if (c === 0x74 /* t */) {
      if (p + 3 < end && b[p + 1] === 0x72 && b[p + 2] === 0x75 && b[p + 3] === 0x65) p += 4;
      else break value;
    } else if (c === 0x66 /* f */) {
      if (p + 4 < end && b[p + 1] === 0x61 && b[p + 2] === 0x6c && b[p + 3] === 0x73 && b[p + 4] === 0x65) p += 5;
      else break value;
    } else if (c === 0x6e /* n */) {
      if (p + 3 < end && b[p + 1] === 0x75 && b[p + 2] === 0x6c && b[p + 3] === 0x6c) p += 4;
      else break value;
    } else {
      break value;
    }
    // A value ended: close containers until one continues with a comma, or the input ends.
    for (;;) {
      for (;;) {
        if (p >= end) {
          if (depth === 0) result = (bits & 0x80) === 0 ? JsonCheck.VALID_ASCII : JsonCheck.VALID_NON_ASCII;
          break value;
        }
        c = b[p] as number;
        if (c > SPACE || (c !== SPACE && c !== LF && c !== CR && c !== TAB)) break;
        p++;
      }
      if (depth === 0) break value;
      if (c === COMMA) {
        p++;
        expectKey = stack[depth - 1] === CLOSE_OBJECT;
        continue value;
      }
      if (c !== stack[depth - 1]) break value;
      p++;
      depth--;
    }
  }
  if (stack.length > KEEP_NESTING) nesting = new Uint8Array(64); // one deep value must not pin its stack
  return result;
}
