/**
 * checkLines (the splitter's one-pass check of a chunk's whole lines) and checkJson (lines that span
 * chunks, the public API) against JSON.parse: table-driven edge cases, then differential properties.
 * JSON_CHECK_RUNS multiplies the property runs for a longer local campaign (JSON_CHECK_RUNS=50).
 */
import fc from 'fast-check';
import { checkJson, JsonCheck } from '../../lib/ndjson/json-check';
import { CheckedLines, checkLines, LineCheck } from '../../lib/ndjson/json-lines';

const RUNS = Number(process.env['JSON_CHECK_RUNS'] ?? '1');

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** What checkLines says of each line of `bytes` (which ends with a newline), with each line's newline position. */
function linesOf(bytes: Buffer): { kinds: number[]; ends: number[] } {
  const into = new CheckedLines();
  checkLines(bytes, 0, bytes.length, into);
  return { kinds: into.kinds.slice(0, into.count), ends: into.ends.slice(0, into.count) };
}

/** checkLines' verdict on one line, and checkJson's, as booleans "valid JSON syntax". */
function verdicts(line: Buffer): { lines: number; json: JsonCheck } {
  const { kinds } = linesOf(Buffer.concat([line, Buffer.from('\n')]));
  expect(kinds).toHaveLength(1);
  return { lines: kinds[0] as number, json: checkJson(line) };
}

/** Both checkers agree with JSON.parse on `text` (a line without newline). */
function expectAgrees(text: string): void {
  const expected = /^[ \t\r]*$/.test(text) ? LineCheck.BLANK : parses(text) ? LineCheck.VALID : LineCheck.INVALID;
  const { lines, json } = verdicts(Buffer.from(text, 'utf8'));
  expect({ text, lines }).toEqual({ text, lines: expected });
  expect({ text, json: json !== JsonCheck.INVALID }).toEqual({ text, json: expected === LineCheck.VALID });
}

const CONTROL = Array.from({ length: 0x20 }, (_, c) => c);

describe('checkLines and checkJson: edge cases, each against JSON.parse', () => {
  test.each(CONTROL)('a raw control character 0x%s inside a string is invalid', (c) => {
    const text = `{"a":"x${String.fromCharCode(c)}y"}`;
    if (c === 0x0a) {
      // A newline ends the line: two invalid lines for checkLines.
      expect(linesOf(Buffer.from(`${text}\n`)).kinds).toEqual([LineCheck.INVALID, LineCheck.INVALID]);
      expect(checkJson(Buffer.from(text))).toBe(JsonCheck.INVALID);
      return;
    }
    expect(parses(text)).toBe(false);
    expectAgrees(text);
  });

  test.each(CONTROL.filter((c) => c !== 0x0a))('control character 0x%s outside strings', (c) => {
    expectAgrees(`[1,${String.fromCharCode(c)}2]`);
    expectAgrees(`${String.fromCharCode(c)}{}`);
  });

  test('DEL (0x7f) and every printable ASCII byte are plain inside strings', () => {
    for (let c = 0x20; c < 0x80; c++) {
      if (c === 0x22 || c === 0x5c) continue;
      expectAgrees(`"${String.fromCharCode(c)}"`);
    }
  });

  test.each(['\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t', '\\u0041', '\\uFFFF', '\\uabcd', '\\u0000'])(
    'escape %s is valid',
    (escape) => {
      expect(parses(`"${escape}"`)).toBe(true);
      expectAgrees(`"${escape}"`);
      expectAgrees(`{"k${escape}":"v${escape}"}`);
    },
  );

  test.each(['\\a', '\\x41', '\\U0041', "\\'", '\\0', '\\u004', '\\u00G1', '\\u', '\\', '\\ '])(
    'escape %s is invalid',
    (escape) => {
      expectAgrees(`"${escape}"`);
      expectAgrees(`["${escape}"]`);
    },
  );

  test.each(['"\\ud800"', '"\\udc00"', '"\\ud800\\ud800"', '"\\udfff\\ud800"'])(
    'lone surrogate escapes %s are valid (JSON.parse accepts them)',
    (text) => {
      expect(parses(text)).toBe(true);
      expectAgrees(text);
    },
  );

  test.each([
    '0',
    '-0',
    '-0.0',
    '0e0',
    '0E+0',
    '1e400',
    '-1e-400',
    '123456789012345678901234567890',
    '0.5',
    '1.5e10',
    '01',
    '-01',
    '00',
    '1.',
    '.5',
    '-.5',
    '-',
    '+1',
    '1e',
    '1e+',
    '1e-',
    '1.e1',
    '0x1',
    '1_000',
    '--1',
    '-a',
    '1.5.5',
    '1e5e5',
    'Infinity',
    '-Infinity',
    'NaN',
    '[1.]',
    '[-]',
    '{"a":01}',
    '{"a":-}',
  ])('number %s', (text) => {
    expectAgrees(text);
    expectAgrees(`[${text}]`);
    expectAgrees(`{"n":${text}}`);
    expectAgrees(` ${text} `);
  });

  test.each([
    'true',
    'false',
    'null',
    'tru',
    'fals',
    'nul',
    'truex',
    'nulll',
    'True',
    'NULL',
    't',
    'f',
    'n',
    '[true,false,null]',
    '[nul]',
  ])('literal %s', (text) => {
    expectAgrees(text);
    expectAgrees(`{"a":${text}}`);
  });

  test.each([
    '{}',
    '[]',
    '{ }',
    '[ ]',
    '{"a":1}',
    '{"a":1,}',
    '{,"a":1}',
    '{"a" 1}',
    '{"a":}',
    '{1:2}',
    '{"a":1 "b":2}',
    '[1,]',
    '[,1]',
    '[1 2]',
    '{]',
    '[}',
    '{"a":[}]',
    '[[]',
    '[]]',
    '{}{}',
    '1 2',
    '"a" "b"',
    '{"a":1}x',
    ' \t\r{"a" : [ 1 , { } , [ ] ] }\r\t ',
    '\r',
    ' ',
    '',
    '\t\r \r',
  ])('structure %j', (text) => {
    expectAgrees(text);
  });

  test('deep nesting: 20,000 levels valid, one missing closer or one extra invalid', () => {
    const depth = 20_000;
    expectAgrees('['.repeat(depth) + ']'.repeat(depth));
    expectAgrees('['.repeat(depth) + ']'.repeat(depth - 1));
    expectAgrees('['.repeat(depth) + ']'.repeat(depth + 1));
    expectAgrees('{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
    expectAgrees('{"a":'.repeat(depth) + '1' + '}'.repeat(depth - 1) + ']');
    // Still right after a deep line (the stack shrinks back to its usual size).
    expectAgrees('[[1],{"a":[2]}]');
  });

  test('bytes >= 0x80: accepted inside strings (UTF-8 is the caller’s check), refused elsewhere', () => {
    const inString = [
      Buffer.from('{"a":"Zoë"}'),
      Buffer.from([0x22, 0xff, 0xfe, 0x22]),
      Buffer.from([0x22, 0xc3, 0x22]),
    ];
    for (const line of inString) {
      expect(verdicts(line)).toEqual({ lines: LineCheck.VALID, json: JsonCheck.VALID_NON_ASCII });
    }
    const outside = [
      Buffer.from('[1,é]'),
      Buffer.from([0x5b, 0x80, 0x5d]),
      Buffer.from([0xef, 0xbb, 0xbf, 0x31]),
      Buffer.from([0xc3, 0xa9]),
    ];
    for (const line of outside) expect(verdicts(line)).toEqual({ lines: LineCheck.INVALID, json: JsonCheck.INVALID });
  });

  test('several lines: each judged alone, newline positions exact, CRLF and blank lines included', () => {
    const text = '{"a":1}\r\n\n  \r\n[1,\n"x"\n{"b":\n\t"y" \r\nnull';
    const bytes = Buffer.from(`${text}\n`);
    const { kinds, ends } = linesOf(bytes);
    expect(kinds).toEqual([
      LineCheck.VALID,
      LineCheck.BLANK,
      LineCheck.BLANK,
      LineCheck.INVALID,
      LineCheck.VALID,
      LineCheck.INVALID,
      LineCheck.VALID,
      LineCheck.VALID,
    ]);
    const newlines = [...bytes.entries()].filter(([, b]) => b === 0x0a).map(([i]) => i);
    expect(ends).toEqual(newlines);
  });

  test('only bytes[start, end) are read as lines', () => {
    const bytes = Buffer.from('xx{"a":1}\n[2]\nyy');
    const into = new CheckedLines();
    checkLines(bytes, 2, 14, into);
    expect(into.count).toBe(2);
    expect(into.kinds.slice(0, 2)).toEqual([LineCheck.VALID, LineCheck.VALID]);
    expect(into.ends.slice(0, 2)).toEqual([9, 13]);
  });

  test('a range that does not end with a newline is a RangeError', () => {
    const into = new CheckedLines();
    expect(() => checkLines(Buffer.from('{}'), 0, 2, into)).toThrow(RangeError);
    expect(() => checkLines(Buffer.from('{}\n'), 0, 0, into)).toThrow(RangeError);
    expect(() => checkLines(Buffer.from('{}\n'), 0, 4, into)).toThrow(RangeError);
    expect(() => checkLines(Buffer.from('{}\n'), -1, 3, into)).toThrow(RangeError);
  });
});

/** Text of one line (no newline): JSON, JSON cut or spliced, or arbitrary characters. */
const lineText = fc.oneof(
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc
    .tuple(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.nat(),
      fc.constantFrom(
        '',
        ',',
        ']',
        '}',
        '[',
        '{',
        '"',
        '\\',
        ':',
        ' ',
        '\r',
        '\t',
        '-',
        '.',
        'e',
        '0',
        '\u0001',
        'é',
        'u',
      ),
    )
    .map(([text, at, insert]) => {
      const i = text.length === 0 ? 0 : at % text.length;
      return text.slice(0, i) + insert + text.slice(i + (at % 2));
    }),
  fc.string({ maxLength: 30 }).map((s) => s.replace(/\n/g, ' ')),
  fc.constantFrom('', ' ', '\r', ' \t\r'),
);

describe('checkLines and checkJson against JSON.parse (properties)', () => {
  test('every line of a multi-line chunk gets the verdict JSON.parse gives it alone', () => {
    fc.assert(
      fc.property(fc.array(lineText, { minLength: 1, maxLength: 12 }), (lines) => {
        const bytes = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
        const { kinds } = linesOf(bytes);
        const expected = lines.map((t) =>
          /^[ \t\r]*$/.test(t) ? LineCheck.BLANK : parses(t) ? LineCheck.VALID : LineCheck.INVALID,
        );
        expect(kinds).toEqual(expected);
        for (const t of lines) {
          const json = checkJson(Buffer.from(t, 'utf8'));
          expect(json !== JsonCheck.INVALID).toBe(expected[lines.indexOf(t)] === LineCheck.VALID);
        }
      }),
      { numRuns: 500 * RUNS },
    );
  });

  test('pretty-printed JSON (newlines as whitespace) is valid for checkJson', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(checkJson(Buffer.from(JSON.stringify(value, null, 2)))).not.toBe(JsonCheck.INVALID);
      }),
      { numRuns: 200 * RUNS },
    );
  });
});
