import fc from 'fast-check';
import { checkJson, JsonCheck } from '../../lib/ndjson/json-check';

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** JSON_CHECK_RUNS multiplies the property runs for a longer local campaign. */
const RUNS = Number(process.env['JSON_CHECK_RUNS'] ?? '1');

const check = (text: string): JsonCheck => checkJson(Buffer.from(text, 'utf8'));

describe('checkJson', () => {
  test.each([
    '0',
    '-0',
    '1.5e+10',
    '-12.0E-3',
    'true',
    'false',
    'null',
    '""',
    '"\\u00e9\\n\\"\\/"',
    '[]',
    '{}',
    ' \t[1, [2, {"a": [ ]}], "x"] \r\n',
    '{"a":{"b":{"c":[null,true,false,0.1]}}}',
    '['.repeat(5000) + ']'.repeat(5000),
  ])('accepts case %#', (text) => {
    expect(parses(text)).toBe(true);
    expect(check(text)).toBe(JsonCheck.VALID_ASCII);
  });

  test.each([
    '',
    ' ',
    '01',
    '1.',
    '.5',
    '-',
    '+1',
    '1e',
    '0x10',
    'NaN',
    'Infinity',
    'tru',
    'nul',
    'True',
    "'a'",
    '"a',
    '"\\x"',
    '"\\u12g4"',
    '"tab\there"',
    '[1,]',
    '[,1]',
    '{"a":1,}',
    '{"a"}',
    '{a:1}',
    '{"a":1 "b":2}',
    '[1 2]',
    '1 2',
    '{}}',
    '[[]',
    '{"a":[}]',
    '['.repeat(5000),
    '\uFEFF1',
  ])('rejects case %#', (text) => {
    expect(parses(text)).toBe(false);
    expect(check(text)).toBe(JsonCheck.INVALID);
  });

  test('non-ASCII inside strings asks for a UTF-8 check; outside strings it is invalid', () => {
    expect(check('{"name":"Zoë"}')).toBe(JsonCheck.VALID_NON_ASCII);
    expect(check('{"é":1}')).toBe(JsonCheck.VALID_NON_ASCII);
    expect(check('[1,é]')).toBe(JsonCheck.INVALID);
  });

  test('checks only bytes[start, end)', () => {
    const bytes = Buffer.from('xx{"a":1}yy');
    expect(checkJson(bytes, 2, 9)).toBe(JsonCheck.VALID_ASCII);
    expect(checkJson(bytes, 2, 10)).toBe(JsonCheck.INVALID);
  });

  test('agrees with JSON.parse on every serialized JSON value (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.boolean(), (value, pretty) => {
        const text = pretty ? JSON.stringify(value, null, 2) : JSON.stringify(value);
        expect(check(text)).not.toBe(JsonCheck.INVALID);
      }),
      { numRuns: 300 * RUNS },
    );
  });

  test('agrees with JSON.parse on arbitrary and mutated text (property)', () => {
    const mutated = fc
      .tuple(
        fc.jsonValue().map((v) => JSON.stringify(v)),
        fc.nat(),
        fc.constantFrom('', ',', ']', '}', '"', '\\', ':', ' ', '-', '.', 'e', '0', '\n', '\u0001'),
      )
      .map(([text, at, insert]) => {
        const i = text.length === 0 ? 0 : at % text.length;
        return text.slice(0, i) + insert + text.slice(i + (at % 2));
      });
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 30 }), mutated), (text) => {
        expect(check(text) !== JsonCheck.INVALID).toBe(parses(text));
      }),
      { numRuns: 1000 * RUNS },
    );
  });
});
