/**
 * The disk bound (`maxBytes`): a full log refuses appends with a coded
 * condition — never a crash, never by dropping old data — and takes them again
 * once acknowledged segments are deleted. Also: bad options and misuse get coded
 * errors, and every sync mode keeps what it was given across a close and reopen.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DurableErrorCodes, isDurableError, SegmentLog, type SyncMode } from '../../lib/durable';
import {
  appendIds,
  goodIds,
  idOf,
  openLog,
  range,
  readAll,
  recordOf,
  removeDir,
  segmentPaths,
  tempDir,
} from '../helpers/durable-helpers';

let dir: string;
beforeEach(() => {
  dir = tempDir('space-');
});
afterEach(() => removeDir(dir));

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/** Lets the log's background work (commits, checkpoint, deletion) run for a few turns. */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

test('maxBytes reached: append throws ERR_DURABLE_FULL (max-bytes), waitForSpace waits, and acknowledging frees a segment', async () => {
  const log = await openLog(dir, { maxBytes: 8192, segmentBytes: 2048 });
  let id = 0;
  while (log.canAppend(recordOf(id).length)) log.append(recordOf(id++));
  await log.flush();
  const appended = id;
  expect(appended).toBeGreaterThan(100);
  const err = errorOf(() => log.append(recordOf(id)));
  expect(isDurableError(err, DurableErrorCodes.FULL)).toBe(true);
  expect((err as { reason: string }).reason).toBe('max-bytes');
  expect(log.bytesOnDisk).toBeLessThanOrEqual(8192);

  let spaceAt: number | undefined;
  const space = log.waitForSpace(recordOf(id).length).then(() => (spaceAt = log.stats().ackedSeq));
  await turns();
  expect(spaceAt).toBeUndefined(); // nothing acknowledged yet: still waiting

  const entries = await log.read(60);
  for (const entry of entries) log.ack(entry.seq);
  await space;
  expect(spaceAt).toBe(60);
  while (log.canAppend(recordOf(id).length)) log.append(recordOf(id++));
  await log.flush();
  expect(id).toBeGreaterThan(appended);
  // Nothing was dropped to make room: everything not acknowledged is still there, in order.
  expect(goodIds(await readAll(log))).toEqual(range(60, id));
  await log.close();
});

test('a full log whose records are all acknowledged frees everything, the active segment included', async () => {
  const log = await openLog(dir, { maxBytes: 4096, segmentBytes: 2048 });
  let id = 0;
  while (log.canAppend(recordOf(id).length)) log.append(recordOf(id++));
  await log.flush();
  for (const entry of await readAll(log)) log.ack(entry.seq);
  await log.waitForSpace(1000);
  await log.checkpointNow();
  expect(log.bytesOnDisk).toBe(0);
  expect(segmentPaths(dir)).toEqual([]);
  expect(log.append(recordOf(id))).toBe(id);
  await log.flush();
  expect(goodIds(await readAll(log))).toEqual([id]);
  await log.close();
});

test('a record larger than a segment can hold: ERR_DURABLE_RECORD_TOO_LARGE, from append and from waitForSpace', async () => {
  const log = await openLog(dir, { maxBytes: 8192, segmentBytes: 2048 });
  expect(
    isDurableError(
      errorOf(() => log.append(Buffer.alloc(2048 - 24 + 1))),
      DurableErrorCodes.RECORD_TOO_LARGE,
    ),
  ).toBe(true);
  expect(log.append(Buffer.alloc(2048 - 24))).toBe(0); // exactly the largest
  await expect(log.waitForSpace(5000)).rejects.toMatchObject({ code: DurableErrorCodes.RECORD_TOO_LARGE });
  await log.close();
});

test('bad options are refused with coded TypeError/RangeError naming the option', async () => {
  const cases: Array<[Record<string, unknown>, string, string]> = [
    [{ dir: '' }, 'dir', 'TypeError'],
    [{ dir, maxBytes: 'big' }, 'maxBytes', 'TypeError'],
    [{ dir, maxBytes: 1000 }, 'maxBytes', 'RangeError'],
    [{ dir, maxBytes: 10_000, segmentBytes: 6000 }, 'segmentBytes', 'RangeError'],
    [{ dir, segmentBytes: 1.5e6 + 0.5 }, 'segmentBytes', 'RangeError'],
    [{ dir, sync: 'sometimes' }, 'sync', 'RangeError'],
    [{ dir, checkpointIntervalMs: 2 ** 31 }, 'checkpointIntervalMs', 'RangeError'],
  ];
  for (const [options, name, kind] of cases) {
    const err = await SegmentLog.open(options as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(kind === 'TypeError' ? TypeError : RangeError);
    expect(err).toMatchObject({ code: DurableErrorCodes.INVALID_OPTION });
    expect((err as Error).message).toContain(`"${name}"`);
  }
});

test('a directory path that is a file: open rejects with ERR_DURABLE_IO_FAILED, not a raw system error', async () => {
  const file = join(dir, 'not-a-dir');
  writeFileSync(file, 'x');
  await expect(SegmentLog.open({ dir: file })).rejects.toMatchObject({ code: DurableErrorCodes.IO_FAILED });
});

test('misuse gets coded errors: a non-Buffer payload, read(0), overlapping reads, anything after close', async () => {
  const log = await openLog(dir);
  expect(errorOf(() => log.append('text' as never))).toMatchObject({ code: DurableErrorCodes.INVALID_OPTION });
  await expect(log.read(0)).rejects.toMatchObject({ code: DurableErrorCodes.INVALID_OPTION });
  const first = log.read(10);
  await expect(log.read(10)).rejects.toMatchObject({ code: DurableErrorCodes.READ_IN_PROGRESS });
  await first;
  await log.close();
  expect(
    isDurableError(
      errorOf(() => log.append(recordOf(1))),
      DurableErrorCodes.CLOSED,
    ),
  ).toBe(true);
  await expect(log.read(1)).rejects.toMatchObject({ code: DurableErrorCodes.CLOSED });
  expect(
    isDurableError(
      errorOf(() => log.ack(0)),
      DurableErrorCodes.CLOSED,
    ),
  ).toBe(true);
  await log.close(); // idempotent
});

test.each<SyncMode>(['always', 'batch', 'none'])(
  "sync '%s': flush resolves, and what was appended is there after close and reopen",
  async (sync) => {
    let log = await openLog(dir, { sync });
    const n = sync === 'always' ? 40 : 500;
    for (const id of range(0, n)) log.append(recordOf(id));
    await log.flush();
    expect(log.stats().durableSeq).toBe(n);
    expect(goodIds(await log.read(5))).toEqual(range(0, 5));
    await log.close();
    log = await openLog(dir, { sync });
    const entries = await readAll(log);
    expect(entries.map((e) => idOf(e.payload))).toEqual(range(0, n));
    await appendIds(log, [n]);
    expect(goodIds(await readAll(log))).toEqual([n]);
    await log.close();
  },
);

test('usedBytes counts written and pending bytes; onSpaceFreed hears of every deletion of acknowledged segments', async () => {
  const log = await openLog(dir, { maxBytes: 8192, segmentBytes: 1024 });
  let freed = 0;
  log.onSpaceFreed(() => {
    freed++;
    expect(log.usedBytes).toBe(log.bytesOnDisk + log.stats().pendingBytes);
  });
  for (const id of range(0, 30)) log.append(recordOf(id));
  expect(log.usedBytes).toBe(log.stats().pendingBytes); // appended, not yet written
  await log.flush();
  const full = log.usedBytes;
  expect(full).toBe(log.bytesOnDisk);
  expect(segmentPaths(dir).length).toBeGreaterThan(1);
  for (const entry of await readAll(log)) log.ack(entry.seq);
  await log.checkpointNow();
  expect(freed).toBeGreaterThan(0);
  expect(log.usedBytes).toBeLessThan(full);
  log.onSpaceFreed(undefined); // removed: no more calls
  const before = freed;
  for (const id of range(30, 60)) log.append(recordOf(id));
  await log.flush();
  for (const entry of await readAll(log)) log.ack(entry.seq);
  await log.checkpointNow();
  expect(freed).toBe(before);
  await log.close();
});
