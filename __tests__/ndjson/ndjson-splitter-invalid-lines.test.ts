import fc from 'fast-check';
import { cut, split } from '../helpers/ndjson-helpers';

describe('ndjson splitter: invalid lines are reported and counted, never fatal in skip mode', () => {
  it('reports invalid JSON with its line number, bytes and excerpt, and continues', async () => {
    const { records, invalid, metrics } = await split(['{"a":1}\n{not json}\n{"b":2}\n']);
    expect(records.map((r) => r.line)).toEqual([1, 3]);
    expect(invalid).toEqual([
      { line: 2, reason: 'invalid-json', excerpt: '{not json}', bytes: Buffer.from('{not json}') },
    ]);
    expect(metrics).toEqual({
      lines: 3,
      valid: 2,
      invalid: 1,
      invalidByReason: { 'invalid-json': 1, 'line-too-long': 0, 'invalid-utf8': 0 },
      emptySkipped: 0,
      truncated: 0,
      discardedBytes: 0,
    });
  });

  it('reports invalid UTF-8 (overlong, lone continuation, truncated sequence) as invalid-utf8', async () => {
    const bad = [
      Buffer.from([0x22, 0xc0, 0xaf, 0x22]),
      Buffer.from([0x22, 0x80, 0x22]),
      Buffer.from([0x22, 0xe2, 0x82, 0x22]),
    ];
    const input = Buffer.concat(bad.flatMap((b) => [b, Buffer.from('\n')]));
    const { records, invalid } = await split([input]);
    expect(records).toEqual([]);
    expect(invalid.map((i) => [i.line, i.reason])).toEqual([
      [1, 'invalid-utf8'],
      [2, 'invalid-utf8'],
      [3, 'invalid-utf8'],
    ]);
    expect(invalid.map((i) => i.bytes?.toString('hex'))).toEqual(bad.map((b) => b.toString('hex')));
  });

  it('excerpts are at most 80 printable characters', async () => {
    const nasty = `{"x":"\u0007\u001b[31m\u202e${'é'.repeat(200)}`;
    const { invalid } = await split([`${nasty}\n`, Buffer.from([0xff, 0xfe, 0x0a])]);
    for (const { excerpt } of invalid) {
      expect(excerpt.length).toBeLessThanOrEqual(80);
      expect(excerpt).not.toMatch(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u);
    }
    expect(invalid[0]?.excerpt.endsWith('…')).toBe(true);
  });

  it('property: lines === valid + invalid + emptySkipped, and every line number appears exactly once', async () => {
    const lineArb = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
      fc.constantFrom('', '  ', '{', 'nope', '"unterminated', '\u00ff\u00fe'),
      fc.string({ maxLength: 30 }).filter((s) => !s.includes('\n')),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(lineArb, { maxLength: 30 }),
        fc.array(fc.nat(600), { maxLength: 20 }),
        async (lines, offsets) => {
          const input = Buffer.from(lines.map((l) => `${l}\n`).join(''), 'latin1');
          const { records, invalid, metrics } = await split(cut(input, offsets), { maxLineBytes: 40 });
          expect(metrics.lines).toBe(lines.length);
          expect(metrics.lines).toBe(metrics.valid + metrics.invalid + metrics.emptySkipped);
          expect(records.length).toBe(metrics.valid);
          expect(invalid.length).toBe(metrics.invalid);
          const seen = [...records.map((r) => r.line), ...invalid.map((i) => i.line)];
          expect(new Set(seen).size).toBe(seen.length);
        },
      ),
      { numRuns: 150 },
    );
  });
});
