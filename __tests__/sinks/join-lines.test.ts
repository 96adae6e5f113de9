import fc from 'fast-check';
import { joinLines } from '../../lib/sinks/line-sink';

/**
 * joinLines writes runs of lines that lie next to each other in memory (with a newline between)
 * as one copy, or returns a view when the whole batch is one run: whatever the lines are views of,
 * the result must be exactly each line followed by '\n'.
 */
const expected = (lines: Buffer[]): Buffer => Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]));

describe('joinLines', () => {
  it('equals each line followed by a newline, for views cut anywhere out of shared memory (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 200 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(20), fc.boolean()), { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (bytes, cuts, newlineAt) => {
          // A memory with some newlines planted, and lines that are views into it (or copies).
          const memory = Buffer.alloc(bytes.length + 1, 0);
          memory.set(bytes);
          for (const at of newlineAt) if (memory.length > 0) memory[at % memory.length] = 0x0a;
          const lines = cuts.map(([at, len, copy]) => {
            const start = memory.length === 0 ? 0 : at % memory.length;
            const view = memory.subarray(start, Math.min(memory.length, start + len));
            return copy ? Buffer.from(view) : view;
          });
          expect(joinLines(lines).equals(expected(lines))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a batch that is one run of its memory, final newline included, is that memory, not a copy', () => {
    const chunk = Buffer.from('{"a":1}\n{"b":2}\n{"c":3}\n');
    const lines = [chunk.subarray(0, 7), chunk.subarray(8, 15), chunk.subarray(16, 23)];
    const joined = joinLines(lines);
    expect(joined.toString()).toBe('{"a":1}\n{"b":2}\n{"c":3}\n');
    expect(joined.buffer).toBe(chunk.buffer);
    expect(joined.byteOffset).toBe(chunk.byteOffset);
  });

  it('adjacent lines with something other than a newline between them are not joined as a run', () => {
    const chunk = Buffer.from('ab cd\r\nef');
    const lines = [chunk.subarray(0, 2), chunk.subarray(3, 5), chunk.subarray(7, 9)];
    expect(joinLines(lines).toString()).toBe('ab\ncd\nef\n');
  });
});
