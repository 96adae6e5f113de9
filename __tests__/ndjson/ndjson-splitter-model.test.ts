/**
 * The splitter against a line-by-line model (JSON.parse, isUtf8, the length limit), on mixed input —
 * valid, blank, invalid JSON, bad UTF-8 inside and outside strings, too long, LF and CRLF — at any
 * chunking, in every mode (copies, sharedBytes, keepValue, 'fail'). Lines whole inside a chunk go
 * through checkLines with one isUtf8 per chunk, lines that span chunks through checkJson: both must
 * give every line exactly the model's verdict, in order.
 */
import { isUtf8 } from 'node:buffer';
import fc from 'fast-check';
import type { InvalidReason } from '../../lib/ndjson/ndjson-splitter';
import { cut, split } from '../helpers/ndjson-helpers';

const RUNS = Number(process.env['JSON_CHECK_RUNS'] ?? '1');
const MAX = 40;

type Verdict = { kind: 'valid' } | { kind: 'blank' } | { kind: 'invalid'; reason: InvalidReason };

function model(line: Buffer): Verdict {
  if (line.length > MAX) return { kind: 'invalid', reason: 'line-too-long' };
  if (/^[ \t\r]*$/.test(line.toString('latin1'))) return { kind: 'blank' };
  if (!isUtf8(line)) return { kind: 'invalid', reason: 'invalid-utf8' };
  try {
    JSON.parse(line.toString('utf8'));
    return { kind: 'valid' };
  } catch {
    return { kind: 'invalid', reason: 'invalid-json' };
  }
}

const line = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v), 'utf8')),
  fc
    .constantFrom(
      '{"a":"Zoë"}',
      '',
      ' \t',
      '{"a":1',
      '[1,]',
      '01',
      '"\\u12"',
      '"\\ud83d"',
      `{"long":"${'x'.repeat(MAX)}"}`,
    )
    .map((s) => Buffer.from(s, 'utf8')),
  // Bad UTF-8 inside a string (valid JSON syntax), and outside one.
  fc
    .constantFrom(
      [0x22, 0xff, 0x22],
      [0x22, 0xc3, 0x22],
      [0x22, 0xed, 0xa0, 0x80, 0x22],
      [0x5b, 0xc3, 0xa9, 0x5d],
      [0xff],
    )
    .map((bytes) => Buffer.from(bytes)),
);

const options = fc.constantFrom(
  {},
  { sharedBytes: true },
  { keepValue: true },
  { onInvalid: 'fail' as const },
  { sharedBytes: true, onInvalid: 'fail' as const },
);

describe('ndjson splitter against a line-by-line model', () => {
  it('property: every line gets the model’s verdict, in order, at any chunking and in every mode', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(line, fc.boolean()), { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(600), { maxLength: 12 }),
        options,
        async (entries, offsets, opts) => {
          const input = Buffer.concat(entries.flatMap(([bytes, crlf]) => [bytes, Buffer.from(crlf ? '\r\n' : '\n')]));
          const { records, invalid, metrics } = await split(cut(input, offsets), { maxLineBytes: MAX, ...opts });
          const verdicts = entries.map(([bytes]) => model(bytes));
          // 'fail': everything up to the first invalid line, nothing after it.
          const firstBad = verdicts.findIndex((v) => v.kind === 'invalid');
          const seen = opts.onInvalid === 'fail' && firstBad !== -1 ? firstBad + 1 : entries.length;
          const expectedRecords: { line: number; hex: string }[] = [];
          const expectedInvalid: { line: number; reason: InvalidReason }[] = [];
          verdicts.slice(0, seen).forEach((v, i) => {
            if (v.kind === 'valid')
              expectedRecords.push({ line: i + 1, hex: (entries[i]?.[0] as Buffer).toString('hex') });
            if (v.kind === 'invalid') expectedInvalid.push({ line: i + 1, reason: v.reason });
          });
          expect(records.map((r) => ({ line: r.line, hex: r.bytes.toString('hex') }))).toEqual(expectedRecords);
          expect(invalid.map((e) => ({ line: e.line, reason: e.reason }))).toEqual(expectedInvalid);
          if ('keepValue' in opts) {
            for (const r of records) expect(r.value).toEqual(JSON.parse(r.bytes.toString('utf8')));
          }
          expect(metrics.lines).toBe(seen);
          expect(metrics.lines).toBe(metrics.valid + metrics.invalid + metrics.emptySkipped + metrics.truncated);
        },
      ),
      { numRuns: 300 * RUNS },
    );
  });
});
