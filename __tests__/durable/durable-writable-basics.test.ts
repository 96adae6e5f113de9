/**
 * Durable mode, the basics, checked item by item: every accepted item goes through the log and comes
 * back in order; a write's callback completes only once its record is on disk (per sync mode), one
 * log flush for a burst of writes; what a previous stream left is delivered first; memory holds at
 * most maxBufferSize items read ahead, whatever the backlog; end() leaves an empty directory.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { SegmentLog } from '../../lib/durable';
import { Readable } from '../../lib/util/stream-classes';
import { expectConserved, range } from '../helpers/core-helpers';
import { removeDir, segmentPaths, tempDir } from '../helpers/durable-helpers';
import { closed, durableWritable, endAndFinish, ids, items, waitFor, type Item } from '../helpers/durable-writable';

let dir: string;
beforeEach(() => {
  dir = tempDir('durable-writable-');
});
afterEach(() => {
  jest.restoreAllMocks();
  removeDir(dir);
});

/** Every id whose record is in a segment file of `dir` right now. */
function idsOnDisk(): Set<number> {
  const found = new Set<number>();
  for (const path of segmentPaths(dir)) {
    for (const match of readFileSync(path)
      .toString('latin1')
      .matchAll(/\{"id":(\d+)\}/g))
      found.add(Number(match[1]));
  }
  return found;
}

test('every item goes through the log and reaches flush once, in write order; end() closes the log and leaves only the checkpoint', async () => {
  const delivered: number[] = [];
  const w = durableWritable(dir, { batchSize: 7, flush: async (batch: Item[]) => void delivered.push(...ids(batch)) });
  await pipeline(Readable.from(items(0, 2000)), w);
  expect(delivered).toEqual(range(2000));
  const m = w.getMetrics();
  expectConserved(m);
  expect(m).toMatchObject({ eventsAccepted: 2000, eventsFlushed: 2000, bufferSize: 0, inFlight: 0, state: 'closed' });
  expect(m).toMatchObject({ itemsOnDisk: 0, bytesOnDisk: 0, eventsRecovered: 0, eventsCorrupt: 0 });
  expect(readdirSync(dir)).toEqual(['checkpoint']);
});

test.each(['batch', 'always', 'none'] as const)(
  "sync '%s': a write's callback is called only once its record is in a segment file",
  async (sync) => {
    // A sink that never answers: no record is acknowledged, so no segment is deleted under the check.
    const w = durableWritable(dir, {
      durable: { sync, maxBytes: 1 << 20 },
      flush: () => new Promise<void>(() => undefined),
    });
    const missing: number[] = [];
    const completed: number[] = [];
    await new Promise<void>((resolve) => {
      for (const item of items(0, 300)) {
        w.write(item, (err?: Error | null) => {
          expect(err ?? null).toBeNull();
          if (!idsOnDisk().has(item.id)) missing.push(item.id);
          completed.push(item.id);
          if (completed.length === 300) resolve();
        });
      }
    });
    expect(missing).toEqual([]);
    expect(completed).toEqual(range(300)); // in write order
    const gone = closed(w);
    w.destroy();
    await gone;
  },
);

test("group commit: a burst of writes costs one or two flushes of the log, not one per item (sync 'batch')", async () => {
  const flushes = jest.spyOn(SegmentLog.prototype, 'flush');
  const w = durableWritable(dir, { durable: { maxBytes: 1 << 20 }, flush: async () => undefined });
  let done = 0;
  for (const item of items(0, 500)) w.write(item, () => done++);
  await waitFor(() => done === 500, 'every write callback');
  expect(flushes.mock.calls.length).toBeGreaterThanOrEqual(1);
  expect(flushes.mock.calls.length).toBeLessThanOrEqual(3);
  await endAndFinish(w);
});

test('what a previous stream left on disk is delivered first, in order, then what this one is written', async () => {
  const first = durableWritable(dir, { flush: () => new Promise<void>(() => undefined) }); // a sink that never answers
  const written: number[] = [];
  for (const item of items(0, 100)) first.write(item, () => written.push(item.id));
  await waitFor(() => written.length === 100, 'the first stream to have its 100 writes on disk');
  const gone = closed(first);
  first.destroy();
  expect(await gone).toBeNull();
  // Nothing was lost and nothing dead-lettered: the 100 items stay in the log.
  expect(first.getMetrics()).toMatchObject({
    eventsAccepted: 100,
    eventsDeadLettered: 0,
    bufferSize: 100,
    inFlight: 0,
  });
  expectConserved(first.getMetrics());

  const delivered: number[] = [];
  const second = durableWritable(dir, {
    batchSize: 10,
    flush: async (batch: Item[]) => void delivered.push(...ids(batch)),
  });
  for (const item of items(100, 150)) second.write(item);
  await endAndFinish(second);
  expect(delivered).toEqual(range(150));
  const m = second.getMetrics();
  expect(m).toMatchObject({ eventsAccepted: 50, eventsRecovered: 100, eventsFlushed: 150, bufferSize: 0 });
  expectConserved(m);
  expect(readdirSync(dir)).toEqual(['checkpoint']);
});

test('memory holds at most maxBufferSize items read ahead while a 5,000-item backlog is replayed', async () => {
  const writer = durableWritable(dir, {
    durable: { maxBytes: 4 << 20, segmentBytes: 64 * 1024 },
    flush: () => new Promise<void>(() => undefined),
  });
  let written = 0;
  for (const item of items(0, 5000)) writer.write(item, () => written++);
  await waitFor(() => written === 5000, 'the backlog on disk');
  writer.destroy();
  await closed(writer);

  const delivered: number[] = [];
  let mostInMemory = 0;
  // sizeOf 1 per item: bufferBytes then counts the items in memory (read ahead, not in flight).
  const reader = durableWritable(dir, {
    durable: { maxBytes: 4 << 20, segmentBytes: 64 * 1024 },
    maxBufferSize: 50,
    batchSize: 20,
    sizeOf: () => 1,
    flush: async (batch: Item[]) => {
      mostInMemory = Math.max(mostInMemory, reader.getMetrics().bufferBytes);
      expectConserved(reader.getMetrics());
      delivered.push(...ids(batch));
    },
  });
  await endAndFinish(reader);
  expect(delivered).toEqual(range(5000));
  expect(mostInMemory).toBeGreaterThan(0);
  expect(mostInMemory).toBeLessThanOrEqual(50);
});

test('flush receives decoded copies: a JSON round trip of each item', async () => {
  const got: unknown[] = [];
  const w = durableWritable<{ id: number; at: Date; skip?: undefined }>(dir, {
    flush: async (batch) => void got.push(...batch),
  });
  const original = { id: 1, at: new Date(0), skip: undefined };
  w.write(original);
  await endAndFinish(w);
  expect(got).toEqual([{ id: 1, at: '1970-01-01T00:00:00.000Z' }]);
  expect(got[0]).not.toBe(original);
});
