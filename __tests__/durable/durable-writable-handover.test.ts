/**
 * Once the replay has caught up with what this process appended, records come from the intake's copy
 * of their bytes instead of being read back from disk (SegmentLog.handOver). Nothing about the stream
 * may tell the difference: the same decoded items in the same order, the same decode failures, the
 * acknowledgements at the records' exact places (the checkpoint's hint names the frame of the first
 * unacknowledged record), and reads from disk that go on where the hand-over stopped — across segment
 * rollovers, with a keep window smaller than the backlog, and after a restart.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BackpressureWritable, bytesCodec } from '../../lib';
import { SegmentLog } from '../../lib/durable';
import { SharedLineRecord } from '../../lib/ndjson/chunk-records';
import { NdjsonSplitter, type NdjsonRecord } from '../../lib/ndjson/ndjson-splitter';
import { ndjsonRecordCodec } from '../../lib/ndjson/record-codec';
import { CheckpointFile } from '../../lib/durable/checkpoint-file';
import { expectConserved, range } from '../helpers/core-helpers';
import { removeDir, segmentPaths, tempDir } from '../helpers/durable-helpers';
import { closed, durableWritable, endAndFinish, ids, items, waitFor, type Item } from '../helpers/durable-writable';

let dir: string;
beforeEach(() => {
  dir = tempDir('durable-handover-');
});
afterEach(() => {
  jest.restoreAllMocks();
  removeDir(dir);
});

/** seq → [segment path, byte offset] of every complete frame in `dir`'s segment files. */
function framesOnDisk(): Map<number, [string, number]> {
  const found = new Map<number, [string, number]>();
  for (const path of segmentPaths(dir)) {
    const bytes = readFileSync(path);
    let offset = 0;
    while (offset + 24 <= bytes.length) {
      const length = bytes.readUInt32LE(offset + 4);
      const seq = bytes.readUInt32LE(offset + 8) + bytes.readUInt32LE(offset + 12) * 2 ** 32;
      found.set(seq, [path, offset]);
      offset += 24 + length;
    }
  }
  return found;
}

test('with the replay caught up, records are handed over without a read: in order, once each, across segments', async () => {
  const read = jest.spyOn(SegmentLog.prototype, 'read');
  const handOver = jest.spyOn(SegmentLog.prototype, 'handOver');
  const delivered: number[] = [];
  const w = durableWritable(dir, { batchSize: 16, flush: async (batch: Item[]) => void delivered.push(...ids(batch)) });
  for (const item of items(0, 3000)) if (!w.write(item)) await new Promise((resolve) => w.once('drain', resolve));
  await endAndFinish(w);
  expect(delivered).toEqual(range(3000));
  expect(read).not.toHaveBeenCalled();
  const handed = handOver.mock.results.reduce((sum, r) => sum + (r.value as number), 0);
  expect(handed).toBe(3000);
  expectConserved(w.getMetrics());
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 3000, itemsOnDisk: 0, eventsCorrupt: 0 });
});

test('items handed over are decoded copies, exactly as a read would give them (jsonCodec: a Date comes as its string)', async () => {
  const got: unknown[] = [];
  const w = durableWritable<{ id: number; at: Date }>(dir, { flush: async (batch) => void got.push(...batch) });
  const at = new Date(1_760_000_000_000);
  const written = { id: 1, at };
  w.write(written);
  await endAndFinish(w);
  expect(got).toEqual([{ id: 1, at: at.toISOString() }]);
  expect(got[0]).not.toBe(written);
});

test('a record decode throws on is counted corrupt and dead-lettered as raw bytes, as from a read; the others arrive', async () => {
  const delivered: number[] = [];
  const raw: string[] = [];
  const w = durableWritable<Item>(dir, {
    durable: {
      codec: {
        encode: (item) => Buffer.from(JSON.stringify(item)),
        decode: (bytes) => {
          const item = JSON.parse(bytes.toString('utf8')) as Item;
          if (item.id === 5) throw new Error('refused');
          return item;
        },
      },
    },
    onDeadLetter: (batch) => void raw.push(...batch.map((b) => (b as unknown as Buffer).toString('utf8'))),
    flush: async (batch) => void delivered.push(...ids(batch)),
  });
  const corrupt: string[] = [];
  w.on('corrupt', (event) => corrupt.push(event.error.code));
  for (const item of items(0, 10)) w.write(item);
  await endAndFinish(w);
  expect(delivered).toEqual(range(10).filter((id) => id !== 5));
  expect(raw).toEqual(['{"id":5}']);
  expect(corrupt).toEqual(['ERR_DURABLE_DECODE_FAILED']);
  expect(w.getMetrics()).toMatchObject({ eventsCorrupt: 1, eventsFlushed: 9 });
  expectConserved(w.getMetrics());
});

/** The records a splitter with `sharedBytes` makes of `text` written as one chunk. */
async function sharedRecords(text: string): Promise<{ chunk: Buffer; records: NdjsonRecord[] }> {
  const chunk = Buffer.from(text);
  const splitter = new NdjsonSplitter({ sharedBytes: true });
  const records: NdjsonRecord[] = [];
  splitter.on('data', (record: NdjsonRecord) => records.push(record));
  splitter.end(chunk);
  await new Promise((resolve) => splitter.once('end', resolve));
  return { chunk, records };
}

test('ndjsonRecordCodec hands its records back without a copy: line 0 as read back, bytes shared with the input chunk', async () => {
  const { chunk, records } = await sharedRecords('{"a":1}\n{"a":2}\n{"a":3}\n{"a":4}\n');
  const batches: NdjsonRecord[][] = [];
  const w = durableWritable<NdjsonRecord>(dir, {
    batchSize: 4,
    durable: { codec: ndjsonRecordCodec },
    flush: async (batch) => void batches.push([...batch]),
  });
  for (const record of records) w.write(record);
  await endAndFinish(w);
  const got = batches.flat();
  expect(got.map((r) => r.bytes.toString())).toEqual(['{"a":1}', '{"a":2}', '{"a":3}', '{"a":4}']);
  expect(got.map((r) => r.line)).toEqual([0, 0, 0, 0]); // as a record read from disk: its input line is not kept
  for (let i = 0; i < got.length; i++) {
    expect(got[i]).not.toBe(records[i]); // a record of its own…
    expect((got[i] as NdjsonRecord).bytes.buffer).toBe(chunk.buffer); // …whose bytes are the input's, not a copy
  }
  // Still one run of the input chunk: the sink writes the batch as a view of it.
  const joined = SharedLineRecord.joined(batches[0] as NdjsonRecord[]);
  expect(joined?.buffer).toBe(chunk.buffer);
  expect(joined?.toString()).toBe('{"a":1}\n{"a":2}\n{"a":3}\n{"a":4}\n');
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 4, itemsOnDisk: 0 });
});

test('ndjsonRecordCodec: a record whose bytes were replaced after the split is handed back as decode makes it (a copy)', async () => {
  const { records } = await sharedRecords('{"a":1}\n{"a":2}\n');
  const own = Buffer.from('{"b":2}');
  (records[1] as NdjsonRecord).bytes = own; // no longer the splitter's view: not joined from the chunk
  const got: NdjsonRecord[] = [];
  const w = durableWritable<NdjsonRecord>(dir, {
    durable: { codec: ndjsonRecordCodec },
    flush: async (batch) => void got.push(...batch),
  });
  for (const record of records) w.write(record);
  await endAndFinish(w);
  expect(got.map((r) => [r.line, r.bytes.toString()])).toEqual([
    [0, '{"a":1}'],
    [0, '{"b":2}'],
  ]);
  expect(got[1]).not.toBeInstanceOf(SharedLineRecord);
  expect((got[1] as NdjsonRecord).bytes).not.toBe(own); // decode's copy: the writer's buffer is not handed on
});

test('a sink slower than the keep window: reads from disk take over where the hand-over stopped, and it resumes once caught up', async () => {
  const read = jest.spyOn(SegmentLog.prototype, 'read');
  const handOver = jest.spyOn(SegmentLog.prototype, 'handOver');
  const delivered: number[] = [];
  let release: (() => void) | undefined;
  let gate = new Promise<void>((resolve) => (release = resolve));
  // maxBufferSize 8: the intake keeps the bytes of the 8 newest records only.
  const w = durableWritable(dir, {
    maxBufferSize: 8,
    batchSize: 4,
    flush: async (batch: Item[]) => {
      await gate;
      delivered.push(...ids(batch));
    },
  });
  for (const item of items(0, 500)) if (!w.write(item)) await new Promise((resolve) => w.once('drain', resolve));
  await waitFor(() => w.getMetrics().inFlight > 0, 'a batch in flight');
  const releaseAll = release as () => void;
  gate = Promise.resolve();
  releaseAll();
  for (const item of items(500, 600)) if (!w.write(item)) await new Promise((resolve) => w.once('drain', resolve));
  await endAndFinish(w);
  expect(delivered).toEqual(range(600));
  expect(read).toHaveBeenCalled(); // the records beyond the window came from disk
  // …and once the reads had caught up, the hand-over took over again.
  const firstRead = read.mock.invocationCallOrder[0] as number;
  const handedAfter = handOver.mock.results.filter(
    (r, i) => (r.value as number) > 0 && (handOver.mock.invocationCallOrder[i] as number) > firstRead,
  );
  expect(handedAfter.length).toBeGreaterThan(0);
  expectConserved(w.getMetrics());
});

test("the checkpoint's hint names the exact frame of the first unacknowledged record, and a restart delivers from there", async () => {
  let acked = 0;
  const w = durableWritable(dir, {
    batchSize: 10,
    // 1 KiB segments: the hand-over crosses segment boundaries.
    flush: async (batch: Item[]) => {
      if (acked >= 137) await new Promise(() => undefined); // from here on nothing is delivered
      acked += batch.length;
    },
  });
  for (const item of items(0, 300)) if (!w.write(item)) await new Promise((resolve) => w.once('drain', resolve));
  await waitFor(() => acked >= 137 && w.getMetrics().inFlight > 0, 'the sink to stop delivering');
  await new Promise((resolve) => setTimeout(resolve, 50)); // the checkpoint (interval 0) is written
  const done = closed(w);
  w.destroy();
  await done;

  const checkpoint = (await CheckpointFile.open(dir)) as CheckpointFile;
  const hint = checkpoint.recovered;
  await checkpoint.close();
  expect(hint?.ackedSeq).toBe(acked);
  const frame = framesOnDisk().get(acked);
  expect(frame).toBeDefined();
  expect(join(dir, `${String(hint?.segmentFirstSeq).padStart(20, '0')}.seg`)).toBe(frame?.[0]);
  expect(hint?.offset).toBe(frame?.[1]);
  expect(hint?.offset).toBeGreaterThan(0); // not a segment's start: the hint is exact, not a fallback

  const again: number[] = [];
  const w2 = durableWritable(dir, { flush: async (batch: Item[]) => void again.push(...ids(batch)) });
  await endAndFinish(w2);
  expect(again).toEqual(range(300 - acked, acked));
});

test("bytesCodec: a caller's buffer reused once its write completed does not change what is delivered (the replay keeps its own copy)", async () => {
  const delivered: string[] = [];
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const w = new BackpressureWritable<Uint8Array>({
    minFlushIntervalMs: 0,
    maxBufferSize: 2,
    batchSize: 1,
    flush: async (batch) => {
      await gate;
      for (const bytes of batch) delivered.push(Buffer.from(bytes).toString('utf8'));
    },
    durable: { dir, codec: bytesCodec, segmentBytes: 1024, maxBytes: 64 * 1024, checkpointIntervalMs: 0 },
  });
  const written = range(8).map((i) => `record-${i}`);
  // Each buffer is overwritten as soon as its write says it is on disk, as a caller reusing a buffer does.
  const completions = written.map(
    (text) =>
      new Promise<void>((resolve, reject) => {
        const buffer = Buffer.from(text);
        w.write(buffer, (err) => {
          if (err) return reject(err);
          buffer.fill('x');
          resolve();
        });
      }),
  );
  await Promise.all(completions.slice(0, 4));
  open();
  await Promise.all(completions);
  await endAndFinish(w);
  expect(delivered).toEqual(written);
});
