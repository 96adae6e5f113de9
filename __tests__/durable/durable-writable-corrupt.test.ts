/**
 * Durable mode, records that cannot be read back (a flipped bit, a missing segment, a codec that
 * refuses them): counted in eventsCorrupt (one per record), reported in a 'corrupt' event with the raw
 * bytes and a coded DurableError, and handed to onDeadLetter as raw Buffers — acknowledged once it took
 * them. Without onDeadLetter: counted, reported, then skipped (acknowledged), never a crash or a stuck
 * restart. Every good record around them is delivered, in order.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { backpressure, DurableErrorCodes, isDurableError, type CorruptEvent, type DurableCodec } from '../../lib';
import { expectConserved, range } from '../helpers/core-helpers';
import { removeDir, segmentPaths, tempDir } from '../helpers/durable-helpers';
import { closed, durableWritable, endAndFinish, ids, items, waitFor, type Item } from '../helpers/durable-writable';

let dir: string;
beforeEach(() => {
  dir = tempDir('durable-corrupt-');
});
afterEach(() => removeDir(dir));

/** Leaves items `from`..`to - 1` on disk, undelivered (a stream whose sink never answers, destroyed). */
async function leaveOnDisk(from: number, to: number): Promise<void> {
  const w = durableWritable(dir, { flush: () => new Promise<void>(() => undefined) });
  let written = 0;
  for (const item of items(from, to)) w.write(item, () => written++);
  await waitFor(() => written === to - from, 'the writes on disk');
  const gone = closed(w);
  w.destroy();
  await gone;
}

/** Flips one bit inside the record of item `id`. */
function flipBitIn(id: number): void {
  const needle = Buffer.from(`{"id":${id}}`);
  for (const path of segmentPaths(dir)) {
    const bytes = readFileSync(path);
    const at = bytes.indexOf(needle);
    if (at === -1) continue;
    bytes[at + 2] = (bytes[at + 2] as number) ^ 0x04; // 'i' → 'm'
    writeFileSync(path, bytes);
    return;
  }
  throw new Error(`record ${id} not found on disk`);
}

test('a flipped bit: counted, reported with the raw bytes, handed to onDeadLetter as a Buffer, acknowledged; the rest delivered in order', async () => {
  await leaveOnDisk(0, 20);
  flipBitIn(7);
  const delivered: number[] = [];
  const corrupt: CorruptEvent[] = [];
  const deadLetters: Array<{ items: unknown[]; error: Error }> = [];
  const settled: unknown[] = [];
  const w = durableWritable(dir, {
    batchSize: 5,
    onSettled: (batch) => settled.push(...batch),
    onDeadLetter: (batch, error) => {
      expectConserved(w.getMetrics());
      deadLetters.push({ items: [...batch], error });
    },
    flush: async (batch: Item[]) => void delivered.push(...ids(batch)),
  });
  w.on('corrupt', (event) => {
    expectConserved(w.getMetrics());
    corrupt.push(event);
  });
  await endAndFinish(w);
  expect(delivered).toEqual(range(20).filter((id) => id !== 7));
  expect(corrupt).toHaveLength(1);
  const [event] = corrupt as [CorruptEvent];
  expect(isDurableError(event.error, DurableErrorCodes.CORRUPT_RECORD)).toBe(true);
  expect(event.error).toMatchObject({ seq: 7, count: 1 });
  expect(event.bytes.toString()).toBe('{"md":7}'); // the damaged bytes, as found
  expect(deadLetters).toEqual([{ items: [event.bytes], error: event.error }]);
  expect(Buffer.isBuffer(deadLetters[0]?.items[0])).toBe(true);
  expect(settled).toHaveLength(19); // onSettled hears of items, not of raw records
  const m = w.getMetrics();
  expect(m).toMatchObject({ eventsRecovered: 20, eventsCorrupt: 1, eventsFlushed: 19, eventsDeadLettered: 0 });
  expectConserved(m);
  // Acknowledged once onDeadLetter took it: a new stream finds nothing.
  const again: number[] = [];
  await endAndFinish(durableWritable(dir, { flush: async (batch: Item[]) => void again.push(...ids(batch)) }));
  expect(again).toEqual([]);
});

test('without onDeadLetter a damaged record is counted, reported, then skipped: the stream carries on, and it is not reported again', async () => {
  await leaveOnDisk(0, 10);
  flipBitIn(3);
  const delivered: number[] = [];
  const corrupt: CorruptEvent[] = [];
  const w = durableWritable(dir, { flush: async (batch: Item[]) => void delivered.push(...ids(batch)) });
  w.on('corrupt', (event) => corrupt.push(event));
  await endAndFinish(w);
  expect(delivered).toEqual([0, 1, 2, 4, 5, 6, 7, 8, 9]);
  expect(corrupt.map((e) => e.error.seq)).toEqual([3]);
  expect(w.getMetrics()).toMatchObject({ eventsCorrupt: 1, eventsDeadLettered: 0 });
  expectConserved(w.getMetrics());
  const second = durableWritable(dir, { flush: async () => undefined });
  const reported: CorruptEvent[] = [];
  second.on('corrupt', (event) => reported.push(event));
  await endAndFinish(second);
  expect(reported).toEqual([]);
});

test('a missing segment: one corrupt entry covering every record it held, counted one per record', async () => {
  await leaveOnDisk(0, 200); // 1 KiB segments: several of them
  const paths = segmentPaths(dir);
  expect(paths.length).toBeGreaterThan(2);
  rmSync(paths[1] as string);
  const delivered: number[] = [];
  const lost: Array<{ seq: number; count: number; bytes: number }> = [];
  const w = durableWritable(dir, {
    onDeadLetter: (batch, error) => {
      if (isDurableError(error))
        lost.push({ seq: error.seq ?? -1, count: error.count ?? -1, bytes: (batch[0] as unknown as Buffer).length });
    },
    flush: async (batch: Item[]) => void delivered.push(...ids(batch)),
  });
  await endAndFinish(w);
  expect(lost).toHaveLength(1);
  const [gap] = lost as [{ seq: number; count: number; bytes: number }];
  expect(gap.bytes).toBe(0);
  expect(delivered).toEqual(range(200).filter((id) => id < gap.seq || id >= gap.seq + gap.count));
  expect(w.getMetrics()).toMatchObject({ eventsRecovered: 200, eventsCorrupt: gap.count });
  expectConserved(w.getMetrics());
});

test('a record the codec cannot decode goes to onDeadLetter as its raw bytes with ERR_DURABLE_DECODE_FAILED (a record of this very stream too)', async () => {
  const codec: DurableCodec<Item> = {
    encode: (item) => Buffer.from(JSON.stringify(item)),
    decode: (bytes) => {
      const item = JSON.parse(bytes.toString()) as Item;
      if (item.id === 4) throw new Error('unsupported version');
      return item;
    },
  };
  const delivered: number[] = [];
  const refused: Array<{ raw: string; code: string | undefined }> = [];
  const w = durableWritable(dir, {
    durable: { codec },
    onDeadLetter: (batch, error) => {
      refused.push({ raw: String(batch[0]), code: (error as { code?: string }).code });
    },
    flush: async (batch: Item[]) => void delivered.push(...ids(batch)),
  });
  for (const item of items(0, 8)) w.write(item);
  await endAndFinish(w);
  expect(delivered).toEqual([0, 1, 2, 3, 5, 6, 7]);
  expect(refused).toEqual([{ raw: '{"id":4}', code: DurableErrorCodes.DECODE_FAILED }]);
  expect(w.getMetrics()).toMatchObject({ eventsAccepted: 8, eventsRecovered: 0, eventsCorrupt: 1, eventsFlushed: 7 });
  expectConserved(w.getMetrics());
});

test('onDeadLetter failing for a damaged record: the stream fails with ERR_BACKPRESSURE_DEAD_LETTER_FAILED carrying the Buffer, and the record stays on disk', async () => {
  await leaveOnDisk(0, 5);
  flipBitIn(2);
  const w = durableWritable(dir, {
    onDeadLetter: async () => {
      throw new Error('dead-letter store down');
    },
    flush: async () => undefined,
  });
  const error = await closed(w);
  expect(error).toMatchObject({ code: 'ERR_BACKPRESSURE_DEAD_LETTER_FAILED' });
  const carried = (error as unknown as { items: unknown[] }).items;
  expect(carried).toHaveLength(1);
  expect(Buffer.isBuffer(carried[0])).toBe(true);
  const reported: number[] = [];
  const again = durableWritable(dir, { onDeadLetter: () => undefined, flush: async () => undefined });
  again.on('corrupt', (event) => reported.push(event.error.seq ?? -1));
  await endAndFinish(again);
  expect(reported).toEqual([2]);
});

test("a composition forwards 'corrupt' from its writable", async () => {
  await leaveOnDisk(0, 5);
  flipBitIn(1);
  const delivered: number[] = [];
  const bp = backpressure<Item>({
    strategy: 'drop-newest',
    minFlushIntervalMs: 0,
    durable: { dir, segmentBytes: 1024, maxBytes: 64 * 1024, checkpointIntervalMs: 0 },
    flush: async (batch) => void delivered.push(...ids(batch)),
  });
  const seen: number[] = [];
  bp.on('corrupt', (event) => {
    expectConserved(bp.getMetrics());
    seen.push(event.error.seq ?? -1);
  });
  await endAndFinish(bp);
  expect(seen).toEqual([1]);
  expect(delivered).toEqual([0, 2, 3, 4]);
  expectConserved(bp.getMetrics());
});
