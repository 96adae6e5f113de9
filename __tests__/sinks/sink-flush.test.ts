import { sinkFlush } from '../../lib/sinks/sink-flush';
import type { NdjsonRecord } from '../../lib/ndjson/ndjson-splitter';
import type { LineSink, LineSinkResult } from '../../lib/sinks/line-sink';
import { SinkError, SinkErrorCodes } from '../../lib/sinks/sink-errors';

const ctx = { signal: new AbortController().signal, attempt: 1 };
const records = (n: number): NdjsonRecord[] =>
  Array.from({ length: n }, (_, i) => ({ line: i + 1, bytes: Buffer.from(`{"i":${i}}`) }));

function sink(write: LineSink['write']): LineSink {
  return { write, close: async () => undefined, description: 'test' };
}

describe('sinkFlush', () => {
  test("hands the sink exactly the records' line bytes, in order", async () => {
    const seen: Buffer[][] = [];
    const batch = records(3);
    await expect(sinkFlush(sink(async (lines) => void seen.push(lines)))(batch, ctx)).resolves.toBeUndefined();
    expect(seen).toEqual([batch.map((r) => r.bytes)]);
    expect(seen[0]?.[1]).toBe(batch[1]?.bytes); // the same Buffers, not copies
  });

  test("maps a partial failure's failedItems (Buffers) back to their records", async () => {
    const batch = records(5);
    const flush = sinkFlush(
      sink(async (lines): Promise<LineSinkResult> => ({
        success: 3,
        failed: 2,
        errors: [new Error('x')],
        failedItems: [lines[1]!, lines[4]!],
      })),
    );
    const result = await flush(batch, ctx);
    expect(result).toMatchObject({ success: 3, failed: 2 });
    expect(result && result.failedItems).toEqual([batch[1], batch[4]]);
  });

  test('a rejection passes through; onSinkGone is told only when the sink is gone for good', async () => {
    const gone: Error[] = [];
    const closed = new SinkError(SinkErrorCodes.CLOSED, 'EPIPE', { retryable: false });
    const transient = new SinkError(SinkErrorCodes.HTTP_NETWORK, 'reset', { retryable: true });
    const http400 = new SinkError(SinkErrorCodes.HTTP_STATUS, '400', { retryable: false, statusCode: 400 });
    for (const error of [transient, http400, closed]) {
      const flush = sinkFlush(
        sink(async () => Promise.reject(error)),
        { onSinkGone: (e) => gone.push(e) },
      );
      await expect(flush(records(1), ctx)).rejects.toBe(error);
    }
    expect(gone).toEqual([closed]);
  });

  test('unconfirmedTailBytes: when the reader is gone, the most recent records written (at least that many bytes) are handed over', async () => {
    let fail = false;
    const closed = new SinkError(SinkErrorCodes.CLOSED, 'EPIPE', { retryable: false });
    const handed: NdjsonRecord[][] = [];
    const all = records(30); // each line is 7-8 bytes + newline
    const flush = sinkFlush(
      sink(async () => {
        if (fail) throw closed;
      }),
      { unconfirmedTailBytes: 40, onSinkGone: (_e, unconfirmed) => handed.push(unconfirmed) },
    );
    for (let i = 0; i < 30; i += 5) await flush(all.slice(i, i + 5), ctx);
    fail = true;
    await expect(flush(records(1), ctx)).rejects.toBe(closed);
    const tail = handed[0] as NdjsonRecord[];
    const bytes = tail.reduce((n, r) => n + r.bytes.length + 1, 0);
    expect(bytes).toBeGreaterThanOrEqual(40);
    expect(bytes - ((tail[0] as NdjsonRecord).bytes.length + 1)).toBeLessThan(40); // no more than needed
    expect(tail).toEqual(all.slice(30 - tail.length)); // the newest records, in order
    await expect(flush(records(1), ctx)).rejects.toBe(closed);
    expect(handed[1]).toEqual([]); // handed over once
  });
});
