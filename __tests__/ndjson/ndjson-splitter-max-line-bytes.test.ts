import { isNdjsonError, NdjsonErrorCodes } from '../../lib/ndjson/ndjson-errors';
import { NdjsonSplitter } from '../../lib/ndjson/ndjson-splitter';
import { split } from '../helpers/ndjson-helpers';

describe('ndjson splitter: maxLineBytes', () => {
  it('rejects an over-long line that arrives whole inside one chunk (split2 maxLength misses this)', async () => {
    const long = JSON.stringify({ s: 'x'.repeat(100) });
    const { records, invalid, metrics } = await split([`{"a":1}\n${long}\n{"b":2}\n`], { maxLineBytes: 50 });
    expect(records.map((r) => r.line)).toEqual([1, 3]);
    expect(invalid).toEqual([{ line: 2, reason: 'line-too-long', excerpt: expect.any(String) }]);
    expect(invalid[0]?.bytes).toBeUndefined();
    expect(metrics).toMatchObject({ lines: 3, valid: 2, invalid: 1, invalidByReason: { 'line-too-long': 1 } });
  });

  it('rejects an over-long line spread over many small chunks and resumes at the next line', async () => {
    const chunks = ['{"a":1}\n', ...Array.from({ length: 200 }, () => 'yyyyy'), '\n{"b":2}\n'];
    const { records, invalid, maxHeld } = await split(chunks, { maxLineBytes: 64 });
    expect(records.map((r) => [r.line, r.bytes.toString()])).toEqual([
      [1, '{"a":1}'],
      [3, '{"b":2}'],
    ]);
    expect(invalid.map((i) => [i.line, i.reason])).toEqual([[2, 'line-too-long']]);
    expect(maxHeld).toBeLessThanOrEqual(65);
  });

  it('accepts a line of exactly maxLineBytes, also with CRLF whose CR arrives alone', async () => {
    const line = `"${'z'.repeat(8)}"`; // 10 bytes
    const { records, invalid } = await split([line, '\r', '\n', line, '\r\n', `${line}\n`], { maxLineBytes: 10 });
    expect(invalid).toEqual([]);
    expect(records.map((r) => r.bytes.toString())).toEqual([line, line, line]);
  });

  it('rejects a line of maxLineBytes + 1', async () => {
    const { invalid } = await split([`"${'z'.repeat(9)}"\n`], { maxLineBytes: 10 });
    expect(invalid.map((i) => i.reason)).toEqual(['line-too-long']);
  });

  it('a too-long last line without newline is counted once', async () => {
    const { invalid, metrics } = await split(['{"a":1}\n', 'q'.repeat(100)], { maxLineBytes: 10 });
    expect(invalid.map((i) => i.line)).toEqual([2]);
    expect(metrics).toMatchObject({ lines: 2, valid: 1, invalid: 1 });
  });

  it('holds at most maxLineBytes + 1 bytes across a 50 MB stream without newline', async () => {
    const maxLineBytes = 4096;
    const splitter = new NdjsonSplitter({ maxLineBytes });
    const lines: number[] = [];
    const invalid: string[] = [];
    splitter.on('data', (r: { line: number }) => lines.push(r.line));
    splitter.on('invalid', (e: { reason: string }) => invalid.push(e.reason));
    const chunk = Buffer.alloc(64 * 1024, 0x61); // 'a', reused: the test itself stays small
    let maxHeld = 0;
    for (let written = 0; written < 50 * 1024 * 1024; written += chunk.length) {
      splitter.write(chunk);
      maxHeld = Math.max(maxHeld, splitter.heldBytes);
    }
    splitter.end('\n{"after":true}\n');
    await new Promise((resolve) => splitter.on('end', resolve));
    expect(maxHeld).toBeLessThanOrEqual(maxLineBytes + 1);
    expect(invalid).toEqual(['line-too-long']);
    expect(lines).toEqual([2]);
  });

  it('a single 8 MB chunk that is one huge line is rejected without being copied into a record', async () => {
    const huge = Buffer.alloc(8 * 1024 * 1024, 0x62);
    const { records, invalid, maxHeld } = await split([huge, '\n{"ok":1}\n'], { maxLineBytes: 1024 });
    expect(invalid.map((i) => i.reason)).toEqual(['line-too-long']);
    expect(records.map((r) => r.line)).toEqual([2]);
    expect(maxHeld).toBeLessThanOrEqual(1025);
  });

  it('the default limit is 1 MiB', async () => {
    const ok = `"${'k'.repeat(1024 * 1024 - 2)}"`;
    const { records, invalid } = await split([`${ok}\n`, `${ok} \n`]);
    expect(records.map((r) => r.bytes.length)).toEqual([1024 * 1024]);
    expect(invalid.map((i) => [i.line, i.reason])).toEqual([[2, 'line-too-long']]);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects maxLineBytes %p with a coded error', (maxLineBytes) => {
    expect.assertions(1);
    try {
      new NdjsonSplitter({ maxLineBytes });
    } catch (err) {
      expect(isNdjsonError(err, NdjsonErrorCodes.INVALID_OPTION)).toBe(true);
    }
  });
});
