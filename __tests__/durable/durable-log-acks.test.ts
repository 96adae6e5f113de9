/**
 * Acknowledgements in any order, the checkpoint of their contiguous prefix,
 * and the deletion of whole segments: what a restart replays is exactly what
 * was not acknowledged before the last checkpoint, and the disk shrinks back to
 * nothing once everything is acknowledged.
 */
import fc from 'fast-check';
import { DurableErrorCodes, isDurableError } from '../../lib/durable';
import { AckTracker } from '../../lib/durable/ack-tracker';
import {
  appendIds,
  checkpointed,
  goodIds,
  idOf,
  openLog,
  range,
  readAll,
  segmentPaths,
  removeDir,
  tempDir,
} from '../helpers/durable-helpers';

let dir: string;
beforeEach(() => {
  dir = tempDir('acks-');
});
afterEach(() => removeDir(dir));

test('out-of-order acks: the checkpoint covers only the contiguous acknowledged prefix, and a restart replays from its first gap', async () => {
  let log = await openLog(dir);
  await appendIds(log, range(0, 20));
  const entries = await log.read(20);
  for (const id of [0, 1, 2, 5, 6, 9]) log.ack((entries[id] as { seq: number }).seq);
  await log.checkpointNow();
  expect(log.stats().ackedSeq).toBe(3);
  expect(log.stats().checkpointedSeq).toBe(3);
  expect(log.itemsOnDisk).toBe(20 - 6);
  log.ack(3);
  log.ack(4); // closes the gap up to 7 (5 and 6 were acknowledged already)
  await log.checkpointNow();
  expect(log.stats().ackedSeq).toBe(7);
  await log.close();

  log = await openLog(dir);
  // 7..19 again: 9 was acknowledged, but above the gap at 7, so it comes back too (at least once).
  expect(goodIds(await readAll(log))).toEqual(range(7, 20));
  await log.close();
});

test('acknowledging twice is harmless; acknowledging a seq never read is a coded error', async () => {
  const log = await openLog(dir);
  await appendIds(log, range(0, 5));
  const entries = await log.read(3);
  log.ack(entries[0]?.seq as number);
  log.ack(entries[0]?.seq as number);
  expect(log.stats().ackedSeq).toBe(1);
  let thrown: unknown;
  try {
    log.ack(4); // appended, not read yet
  } catch (err) {
    thrown = err;
  }
  expect(isDurableError(thrown, DurableErrorCodes.ACK_UNKNOWN)).toBe(true);
  await log.close();
});

test('a segment is deleted once every record in it is acknowledged, not before; all of them once everything is', async () => {
  const log = await openLog(dir);
  await appendIds(log, range(0, 400));
  const before = segmentPaths(dir);
  expect(before.length).toBeGreaterThanOrEqual(3);
  const entries = await readAll(log);
  expect(entries.map((e) => idOf(e.payload))).toEqual(range(0, 400));

  // Everything but the very first record: no segment may go.
  for (const entry of entries.slice(1)) log.ack(entry.seq);
  await log.checkpointNow();
  expect(segmentPaths(dir)).toEqual(before);
  const bytesBefore = log.bytesOnDisk;

  log.ack(entries[0]?.seq as number);
  await log.checkpointNow();
  // The sealed segments go; the active one stays (appends continue into it) until close.
  expect(segmentPaths(dir)).toEqual(before.slice(-1));
  expect(log.bytesOnDisk).toBeLessThan(bytesBefore);
  expect(log.itemsOnDisk).toBe(0);
  await log.close();
  expect(segmentPaths(dir)).toEqual([]);
});

test('the checkpoint follows acks on its own (checkpointIntervalMs) and segments are deleted without help', async () => {
  const log = await openLog(dir, { checkpointIntervalMs: 0 });
  await appendIds(log, range(0, 400));
  const first = segmentPaths(dir)[0];
  for (const entry of await readAll(log)) log.ack(entry.seq);
  await checkpointed(log, 400);
  for (let i = 0; i < 200 && segmentPaths(dir).includes(first as string); i++)
    await new Promise((resolve) => setTimeout(resolve, 5));
  expect(segmentPaths(dir)).not.toContain(first);
  await log.close();
});

test('appends after a restart come after the whole backlog, with the next sequence numbers', async () => {
  let log = await openLog(dir);
  await appendIds(log, range(0, 50));
  await log.close();
  log = await openLog(dir);
  await appendIds(log, range(1000, 1010));
  const entries = await readAll(log);
  expect(goodIds(entries)).toEqual([...range(0, 50), ...range(1000, 1010)]);
  expect(entries.map((e) => e.seq)).toEqual(range(0, 60));
  expect(log.recovered).toBe(50);
  await log.close();
});

test('AckTracker: thousands of records in flight acknowledged in reverse (its ring grows) end at the right watermark', () => {
  const tracker = new AckTracker(0);
  for (let seq = 0; seq < 5000; seq++) tracker.push(seq, 1, 0, seq * 10);
  for (let seq = 4999; seq >= 1; seq--) expect(tracker.ack(seq)).toBe(false);
  expect(tracker.watermark).toBe(0);
  expect(tracker.ackedAhead).toBe(4999);
  expect(tracker.ack(0)).toBe(true);
  expect(tracker.watermark).toBe(5000);
  expect(tracker.ackedAhead).toBe(0);
});

test('AckTracker: any permutation of acks ends at the same watermark, and it only ever moves over a contiguous prefix', () => {
  fc.assert(
    fc.property(
      fc
        .array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 60 })
        .chain((counts) =>
          fc.tuple(
            fc.constant(counts),
            fc.shuffledSubarray(range(0, counts.length), { minLength: counts.length, maxLength: counts.length }),
          ),
        ),
      ([counts, order]) => {
        const tracker = new AckTracker(10);
        const starts: number[] = [];
        let seq = 10;
        for (const count of counts) {
          starts.push(seq);
          tracker.push(seq, count, 0, 0);
          seq += count;
        }
        const acked = new Set<number>();
        for (const index of order) {
          tracker.ack(starts[index] as number);
          acked.add(index);
          let prefix = 0;
          while (acked.has(prefix)) prefix++;
          expect(tracker.watermark).toBe(prefix === counts.length ? seq : starts[prefix]);
          const ahead = [...acked].filter((i) => i >= prefix).reduce((sum, i) => sum + (counts[i] as number), 0);
          expect(tracker.ackedAhead).toBe(ahead);
        }
        expect(tracker.watermark).toBe(seq);
      },
    ),
  );
});
