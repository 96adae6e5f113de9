/**
 * What read() hands out: payloads that stay valid however much is read after
 * them (the read buffer is reused), or — with a decode function — decoded values
 * made straight from the read buffer; a record decode throws on is handed out
 * with its raw bytes and a coded error, and reading goes on.
 */
import { DurableErrorCodes, isDurableError } from '../../lib/durable';
import { appendIds, idOf, openLog, range, readAll, recordOf, removeDir, tempDir } from '../helpers/durable-helpers';

let dir: string;
beforeEach(() => {
  dir = tempDir('decode-');
});
afterEach(() => removeDir(dir));

test('payloads handed out stay intact while later reads refill the read buffer', async () => {
  const log = await openLog(dir, { readChunkBytes: 4096, segmentBytes: 64 * 1024 });
  await appendIds(log, range(0, 2000), 40);
  const first = await log.read(100);
  const rest = await readAll(log);
  expect(first.map((e) => e.payload.toString())).toEqual(range(0, 100).map((id) => recordOf(id, 40).toString()));
  expect(rest.map((e) => idOf(e.payload))).toEqual(range(100, 2000));
  await log.close();
});

test('with decode, read() hands out what decode made of each record', async () => {
  const log = await openLog(dir);
  await appendIds(log, range(0, 300));
  const entries = await log.read(300, (bytes, seq) => ({ id: idOf(bytes), seq }));
  expect(entries.map((e) => (e.error === null ? e.payload : undefined))).toEqual(
    range(0, 300).map((id) => ({ id, seq: id })),
  );
  await log.close();
});

test('a record decode throws on: an ERR_DURABLE_DECODE_FAILED entry with its raw bytes and the cause; the rest is decoded', async () => {
  const log = await openLog(dir);
  await appendIds(log, range(0, 10));
  const boom = new Error('not my format');
  const entries = await log.read(10, (bytes) => {
    const id = idOf(bytes);
    if (id === 4) throw boom;
    return id;
  });
  expect(entries.filter((e) => e.error === null).map((e) => e.payload)).toEqual([0, 1, 2, 3, 5, 6, 7, 8, 9]);
  const bad = entries[4];
  expect(bad?.seq).toBe(4);
  expect(isDurableError(bad?.error, DurableErrorCodes.DECODE_FAILED)).toBe(true);
  expect(bad?.error?.cause).toBe(boom);
  expect(bad?.payload).toEqual(recordOf(4));
  expect(log.stats().undecodable).toBe(1);
  expect(log.corrupt).toBe(0);
  for (const entry of entries) log.ack(entry.seq);
  await log.checkpointNow();
  expect(log.itemsOnDisk).toBe(0);
  await log.close();
});
