import { inspect } from 'node:util';
import fc from 'fast-check';
import { SharedLineRecord } from '../../lib/ndjson/chunk-records';
import type { NdjsonRecord } from '../../lib/ndjson/ndjson-splitter';
import { cut, split } from '../helpers/ndjson-helpers';

/**
 * `sharedBytes`: records are views (into the input chunk, or into one compact copy of a chunk's
 * valid lines) instead of a copy each. Whatever the chunking and whatever is mixed in (invalid,
 * blank, CRLF lines), it must produce exactly what the copying splitter produces: the oracle.
 */
const line = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.constantFrom('', '  ', '{"a":', 'not json', '[1,]', '\u00ff\u00fe') },
);

describe('ndjson splitter with sharedBytes', () => {
  it('produces the same records, events and counts as the copying splitter, at any chunking, in both modes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(line, fc.boolean()), { maxLength: 30 }),
        fc.array(fc.nat(3000), { maxLength: 30 }),
        fc.constantFrom('skip' as const, 'fail' as const),
        async (entries, offsets, onInvalid) => {
          const text = entries.map(([l, crlf]) => l + (crlf ? '\r\n' : '\n')).join('');
          const input = Buffer.from(text, 'latin1');
          const copied = await split(cut(input, offsets), { onInvalid });
          const shared = await split(cut(input, offsets), { onInvalid, sharedBytes: true });
          const view = (r: { line: number; bytes: Buffer }) => [r.line, r.bytes.toString('hex')];
          expect(shared.records.map(view)).toEqual(copied.records.map(view));
          expect(shared.invalid).toEqual(copied.invalid);
          expect(shared.metrics).toEqual(copied.metrics);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('lines of a chunk they mostly fill are views into it, adjacent with the newline between them', async () => {
    const chunk = Buffer.from('{"a":1}\n{"b":2}\n\n{"c":3}\n');
    const { records } = await split([chunk], { sharedBytes: true });
    expect(records.map((r) => r.bytes.toString())).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
    for (const r of records) expect(r.bytes.buffer).toBe(chunk.buffer);
    const [a, b] = records as unknown as [{ bytes: Buffer }, { bytes: Buffer }];
    expect(b.bytes.byteOffset).toBe(a.bytes.byteOffset + a.bytes.length + 1);
  });

  it('a chunk that is mostly something else is not kept alive: its valid lines are copied together', async () => {
    const chunk = Buffer.from(`{"a":1}\n${'x'.repeat(10_000)}\n{"b":2}\n`);
    const { records, invalid } = await split([chunk], { sharedBytes: true });
    expect(invalid).toHaveLength(1);
    expect(records.map((r) => r.bytes.toString())).toEqual(['{"a":1}', '{"b":2}']);
    for (const r of records) expect(r.bytes.buffer).not.toBe(chunk.buffer);
    const [a, b] = records as unknown as [{ bytes: Buffer }, { bytes: Buffer }];
    expect(b.bytes.buffer).toBe(a.bytes.buffer);
    expect(b.bytes.byteOffset).toBe(a.bytes.byteOffset + a.bytes.length + 1);
  });

  it("'fail': every valid line before the invalid one is delivered, none after it", async () => {
    const { records, metrics } = await split(['{"a":1}\n{"b":2}\nnope\n{"c":3}\n'], {
      sharedBytes: true,
      onInvalid: 'fail',
    });
    expect(records.map((r) => r.line)).toEqual([1, 2]);
    expect(metrics.invalid).toBe(1);
  });

  it('is ignored with keepValue: records own their bytes and carry the value', async () => {
    const text = '{"a":1}\n{"b":2}\n';
    const chunk = Buffer.alloc(text.length, text); // not from Buffer's shared pool, unlike a small copy
    const { records } = await split([chunk], { sharedBytes: true, keepValue: true });
    expect(records.map((r) => r.value)).toEqual([{ a: 1 }, { b: 2 }]);
    for (const r of records) expect(r.bytes.buffer).not.toBe(chunk.buffer);
  });

  it('joins any run of its records, in the order given, as each line followed by a newline (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(line, fc.boolean()), { minLength: 1, maxLength: 30 }),
        fc.array(fc.nat(3000), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        fc.boolean(),
        async (entries, offsets, batchCuts, shuffle) => {
          const text = entries.map(([l, crlf]) => l + (crlf ? '\r\n' : '\n')).join('');
          const { records } = await split(cut(Buffer.from(text, 'latin1'), offsets), { sharedBytes: true });
          // Batches as the writable would cut them (or reordered, as a user's flush never sees them).
          const bounds = [...new Set([0, ...batchCuts.map((c) => c % (records.length + 1)), records.length])].sort(
            (a, b) => a - b,
          );
          for (let k = 1; k < bounds.length; k++) {
            const batch = records.slice(bounds[k - 1], bounds[k]);
            if (shuffle) batch.reverse();
            const joined = SharedLineRecord.joined(batch);
            const expected = Buffer.concat(batch.flatMap((r) => [r.bytes, Buffer.from('\n')]));
            if (batch.length === 0) expect(joined).toBeUndefined();
            else expect((joined as Buffer).toString('hex')).toBe(expected.toString('hex'));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('does not join records it cannot vouch for: other records, or bytes replaced after the split', async () => {
    const { records } = await split(['{"a":1}\n{"b":2}\n'], { sharedBytes: true });
    const [a, b] = records as [NdjsonRecord, NdjsonRecord];
    expect(SharedLineRecord.joined([a, { line: 9, bytes: Buffer.from('{}') }])).toBeUndefined();
    b.bytes = Buffer.from('{"c":3}');
    expect(SharedLineRecord.joined([a, b])).toBeUndefined();
    expect(SharedLineRecord.joined([a])?.toString()).toBe('{"a":1}\n');
  });

  it("a record's bytes are a Buffer in every way a consumer can tell", async () => {
    const { records } = await split([Buffer.from('{"name":"Zoë"}\n[1]\n')], { sharedBytes: true });
    const bytes = (records[0] as NdjsonRecord).bytes;
    expect(Buffer.isBuffer(bytes)).toBe(true);
    expect(bytes).toBeInstanceOf(Buffer);
    expect(bytes.toString('utf8')).toBe('{"name":"Zoë"}');
    expect(bytes.equals(Buffer.from('{"name":"Zoë"}'))).toBe(true);
    expect(Buffer.concat([bytes, Buffer.from('!')]).toString()).toBe('{"name":"Zoë"}!');
    expect(bytes.subarray(1, 7).toString()).toBe('"name"');
    expect(inspect(bytes)).toMatch(/^<Buffer 7b 22/);
    expect(JSON.parse(bytes.toString())).toEqual({ name: 'Zoë' });
  });
});
