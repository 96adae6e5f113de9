/**
 * Durable mode, acknowledgement: a record is acknowledged exactly when its item is settled — delivered
 * by flush (only the delivered part of a partial result), or taken by onDeadLetter — and never
 * otherwise. Checked by what a second stream on the same directory gets again: an unsettled item
 * comes back, a settled one does not. Equal primitive items, partial failures, retries, concurrency
 * with out-of-order completion.
 */
import type { FlushResult, Settlement } from '../../lib';
import { ErrorCodes } from '../../lib';
import { SegmentLog } from '../../lib/durable';
import { expectConserved, range } from '../helpers/core-helpers';
import { removeDir, tempDir } from '../helpers/durable-helpers';
import { closed, durableWritable, endAndFinish, ids, items, waitFor, type Item } from '../helpers/durable-writable';

let dir: string;
beforeEach(() => {
  dir = tempDir('durable-acks-');
});
afterEach(() => {
  jest.restoreAllMocks();
  removeDir(dir);
});

/** Destroys `w` (its log closes with its final checkpoint) and waits for 'close'. */
async function crash(w: NodeJS.EventEmitter & { destroy(): unknown }): Promise<void> {
  const gone = closed(w);
  w.destroy();
  await gone;
}

/** What a fresh stream on `dir` delivers when nothing new is written: the records not acknowledged before. */
async function leftOnDisk<T = Item>(): Promise<T[]> {
  const got: T[] = [];
  const w = durableWritable<T>(dir, { flush: async (batch) => void got.push(...batch) });
  await endAndFinish(w);
  return got;
}

/** Every seq the log was asked to acknowledge, in order. */
function spyAcks(): number[] {
  const acked: number[] = [];
  const ack = SegmentLog.prototype.ack;
  jest.spyOn(SegmentLog.prototype, 'ack').mockImplementation(function (this: SegmentLog, seq: number) {
    acked.push(seq);
    ack.call(this, seq);
  });
  return acked;
}

test('a partial FlushResult acknowledges only the delivered items; the failed ones are acknowledged when their retry succeeds', async () => {
  const acked = spyAcks();
  let call = 0;
  let release: () => void = () => undefined;
  const retried = new Promise<void>((resolve) => (release = resolve));
  const w = durableWritable(dir, {
    batchSize: 6,
    retry: { retries: 5, minDelayMs: 1, maxDelayMs: 1 },
    flush: async (batch: Item[]): Promise<void | FlushResult<Item>> => {
      call++;
      if (call === 2) {
        expect(ids(batch)).toEqual([2, 5]);
        await retried;
        return undefined;
      }
      return { success: 4, failed: 2, errors: [new Error('two refused')], failedItems: [batch[2], batch[5]] as Item[] };
    },
  });
  for (const item of items(0, 6)) w.write(item);
  await waitFor(() => call === 2, 'the retry');
  expect(acked).toEqual([0, 1, 3, 4]); // seqs of ids 0, 1, 3, 4 (a fresh log numbers from 0)
  expectConserved(w.getMetrics());
  release();
  await endAndFinish(w);
  expect(acked).toEqual([0, 1, 3, 4, 2, 5]);
  expect(await leftOnDisk()).toEqual([]);
});

test('a crash after a partial result: the failed items come back; the delivered ones before them do not', async () => {
  let call = 0;
  const w = durableWritable(dir, {
    batchSize: 6,
    retry: { retries: 5, minDelayMs: 60_000, maxDelayMs: 60_000 }, // the retry never comes before the crash
    flush: async (batch: Item[]): Promise<void | FlushResult<Item>> => {
      call++;
      return { success: 4, failed: 2, errors: [new Error('two refused')], failedItems: [batch[2], batch[5]] as Item[] };
    },
  });
  for (const item of items(0, 6)) w.write(item);
  await waitFor(() => call === 1 && w.getMetrics().eventsFlushed === 4, 'the partial result');
  await crash(w);
  // Only the acknowledged prefix is checkpointed: 3 and 4, acknowledged behind the gap at 2, may come again.
  const again = ids(await leftOnDisk());
  expect(again[0]).toBe(2);
  expect(again).toContain(5);
  expect(again.every((id) => id >= 2)).toBe(true);
});

test("equal primitive items: a partial failure naming one 'a' acknowledges the other three records, then that one once retried", async () => {
  const acked = spyAcks();
  let call = 0;
  const got: string[][] = [];
  const w = durableWritable<string>(dir, {
    batchSize: 4,
    retry: { retries: 5, minDelayMs: 1, maxDelayMs: 1 },
    flush: async (batch): Promise<void | FlushResult<string>> => {
      got.push([...batch]);
      if (++call === 1) return { success: 3, failed: 1, errors: [], failedItems: ['a'] };
      return undefined;
    },
  });
  for (const s of ['a', 'b', 'a', 'a']) w.write(s);
  await endAndFinish(w);
  expect(got).toEqual([['a', 'b', 'a', 'a'], ['a']]);
  // The first 'a' (seq 0) is the one retried: each record acknowledged exactly once.
  expect(acked).toEqual([1, 2, 3, 0]);
  expect(await leftOnDisk<string>()).toEqual([]);
});

test('a batch retried until it succeeds is acknowledged once delivered; a crash between attempts brings it back', async () => {
  let call = 0;
  const w = durableWritable(dir, {
    batchSize: 3,
    retry: { retries: 5, minDelayMs: 1, maxDelayMs: 1 },
    flush: async () => {
      call++;
      if (call <= 2) throw new Error('not yet');
    },
  });
  for (const item of items(0, 3)) w.write(item);
  await endAndFinish(w);
  expect(call).toBe(3);
  expect(await leftOnDisk()).toEqual([]);

  let failures = 0;
  const again = durableWritable(dir, {
    batchSize: 3,
    retry: { retries: 5, minDelayMs: 60_000, maxDelayMs: 60_000 },
    flush: async () => {
      failures++;
      throw new Error('down');
    },
  });
  for (const item of items(10, 13)) again.write(item);
  await waitFor(() => failures === 1, 'the first failed attempt');
  await crash(again);
  expect(ids(await leftOnDisk())).toEqual([10, 11, 12]);
});

test('concurrency 2, completing out of order: nothing is lost; once both batches are delivered nothing comes back', async () => {
  const pending: Array<{ batch: number[]; resolve: () => void }> = [];
  const w = durableWritable(dir, {
    batchSize: 3,
    concurrency: 2,
    flush: (batch: Item[]) => new Promise<void>((resolve) => pending.push({ batch: ids(batch), resolve })),
  });
  for (const item of items(0, 6)) w.write(item);
  await waitFor(() => pending.length === 2, 'two batches in flight');
  expect(pending.map((p) => p.batch)).toEqual([
    [0, 1, 2],
    [3, 4, 5],
  ]);
  pending[1]?.resolve(); // the later batch first
  await waitFor(() => w.getMetrics().eventsFlushed === 3, 'the second batch');
  pending[0]?.resolve();
  await waitFor(() => w.getMetrics().eventsFlushed === 6, 'the first batch');
  await crash(w);
  expect(await leftOnDisk()).toEqual([]);
});

test('concurrency 2: only the later batch delivered before a crash — the earlier one comes back (the later one may too: at least once)', async () => {
  const pending: Array<{ batch: number[]; resolve: () => void }> = [];
  const w = durableWritable(dir, {
    batchSize: 3,
    concurrency: 2,
    flush: (batch: Item[]) => new Promise<void>((resolve) => pending.push({ batch: ids(batch), resolve })),
  });
  for (const item of items(0, 6)) w.write(item);
  await waitFor(() => pending.length === 2, 'two batches in flight');
  pending[1]?.resolve();
  await waitFor(() => w.getMetrics().eventsFlushed === 3, 'the second batch');
  await crash(w);
  const again = ids(await leftOnDisk());
  expect(again.slice(0, 3)).toEqual([0, 1, 2]);
  expect([[0, 1, 2], range(6)]).toContainEqual(again); // acknowledged ahead of a gap: not checkpointed yet
});

test('items taken by onDeadLetter are acknowledged; items whose onDeadLetter call failed are not, and come back', async () => {
  const taken: number[] = [];
  const w = durableWritable(dir, {
    batchSize: 2,
    retry: { retries: 0 },
    onDeadLetter: async (batch: Item[]) => {
      if (batch.some((item) => item.id >= 2)) throw new Error('dead-letter store down');
      taken.push(...ids(batch));
    },
    flush: async () => {
      throw new Error('sink down');
    },
  });
  for (const item of items(0, 4)) w.write(item);
  const error = await closed(w);
  expect(taken).toEqual([0, 1]);
  expect(error).toMatchObject({ code: ErrorCodes.DEAD_LETTER_FAILED });
  expect(ids((error as unknown as { items: Item[] }).items)).toEqual([2, 3]);
  expect(ids(await leftOnDisk())).toEqual([2, 3]);
});

test('without onDeadLetter, items handed back in the stream error are not acknowledged: they come back after a restart', async () => {
  const w = durableWritable(dir, {
    batchSize: 3,
    retry: { retries: 0 },
    flush: async () => {
      throw new Error('sink down');
    },
  });
  for (const item of items(0, 3)) w.write(item);
  const error = await closed(w);
  expect(error).toMatchObject({ code: ErrorCodes.FLUSH_FAILED });
  expect(ids((error as unknown as { items: Item[] }).items)).toEqual([0, 1, 2]);
  expect(ids(await leftOnDisk())).toEqual([0, 1, 2]);
});

test("the user's onSettled still hears of every settled item, after its record is acknowledged", async () => {
  const heard: Array<{ ids: number[]; how: Settlement }> = [];
  let call = 0;
  const w = durableWritable(dir, {
    batchSize: 2,
    retry: { retries: 0 },
    onDeadLetter: () => undefined,
    onSettled: (batch: Item[], how) => heard.push({ ids: ids(batch), how }),
    flush: async () => {
      if (++call === 2) throw Object.assign(new Error('refused'), { retryable: false });
    },
  });
  for (const item of items(0, 6)) w.write(item);
  await endAndFinish(w);
  // Each settled batch once, with how it settled; across batches the order is not promised (a dead-letter
  // hand-over settles when onDeadLetter's promise does, which may be after the next batch's flush).
  heard.sort((a, b) => (a.ids[0] ?? 0) - (b.ids[0] ?? 0));
  expect(heard).toEqual([
    { ids: [0, 1], how: 'flushed' },
    { ids: [2, 3], how: 'dead-lettered' },
    { ids: [4, 5], how: 'flushed' },
  ]);
  expect(await leftOnDisk()).toEqual([]);
});
