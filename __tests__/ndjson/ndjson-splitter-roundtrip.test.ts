import fc from 'fast-check';
import { bytewise, cut, split } from '../helpers/ndjson-helpers';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

describe('ndjson splitter: output bytes equal input lines at any chunking', () => {
  it('property: arbitrary JSON values, LF/CRLF endings, optional BOM and final newline, arbitrary cut points', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.jsonValue({ stringUnit: 'grapheme', maxDepth: 3 }), fc.boolean()), { maxLength: 25 }),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.nat(4000), { maxLength: 40 }),
        async (entries, withBom, finalNewline, offsets) => {
          const lines = entries.map(([value]) => Buffer.from(JSON.stringify(value), 'utf8'));
          const parts: Buffer[] = withBom ? [BOM] : [];
          entries.forEach(([, crlf], i) => {
            parts.push(lines[i] as Buffer);
            if (i < entries.length - 1 || finalNewline) parts.push(Buffer.from(crlf ? '\r\n' : '\n'));
          });
          const input = Buffer.concat(parts);
          const { records, invalid, metrics } = await split(cut(input, offsets));
          expect(invalid).toEqual([]);
          expect(records.map((r) => r.bytes.toString('hex'))).toEqual(lines.map((l) => l.toString('hex')));
          expect(records.map((r) => r.line)).toEqual(lines.map((_, i) => i + 1));
          expect(metrics).toMatchObject({ lines: lines.length, valid: lines.length, invalid: 0, emptySkipped: 0 });
        },
      ),
      { numRuns: 150 },
    );
  });

  it('multi-byte characters split in every possible place decode to the same value', async () => {
    const values = [{ msg: 'héllo wörld €uro 𝄞 日本語 🎉' }, ['😀😃', 'ß'], '∑'];
    const input = Buffer.from(`${values.map((v) => JSON.stringify(v)).join('\r\n')}\r\n`, 'utf8');
    const { records } = await split(bytewise(input), { keepValue: true });
    expect(records.map((r) => r.value)).toEqual(values);
    expect(records.map((r) => r.bytes.toString('utf8'))).toEqual(values.map((v) => JSON.stringify(v)));
  });

  it('keepValue adds the parsed value; without it records carry only line and bytes', async () => {
    const withValue = await split(['{"a":1}\n[2]\n'], { keepValue: true });
    expect(withValue.records).toEqual([
      { line: 1, bytes: Buffer.from('{"a":1}'), value: { a: 1 } },
      { line: 2, bytes: Buffer.from('[2]'), value: [2] },
    ]);
    const without = await split(['{"a":1}\n']);
    expect(without.records).toEqual([{ line: 1, bytes: Buffer.from('{"a":1}') }]);
    expect('value' in (without.records[0] as object)).toBe(false);
  });

  it('record bytes own their memory (not views into a larger input chunk)', async () => {
    const chunk = Buffer.from(`{"a":1}\n${'x'.repeat(10_000)}`);
    const { records } = await split([chunk]);
    expect(records[0]?.bytes.buffer).not.toBe(chunk.buffer);
  });
});
