/**
 * Durable mode, the life of the stream: the open (construct) and its failures as coded stream errors;
 * destroy() leaves on disk what is on disk — in flight and read ahead included — for the next open,
 * and accounts for it (bufferSize after 'close'); items that never reached the disk are dead-lettered;
 * end() delivers the whole backlog and closes the log before 'finish'; the drain deadline stops and
 * leaves the rest on disk.
 */
import { BackpressureState, DurableErrorCodes, ErrorCodes, isDurableError } from '../../lib';
import { expectConserved, range } from '../helpers/core-helpers';
import { removeDir, tempDir } from '../helpers/durable-helpers';
import { closed, durableWritable, endAndFinish, ids, items, waitFor, type Item } from '../helpers/durable-writable';

let dir: string;
beforeEach(() => {
  dir = tempDir('durable-life-');
});
afterEach(() => removeDir(dir));

async function deliveredByNextOpen(): Promise<number[]> {
  const got: number[] = [];
  await endAndFinish(durableWritable(dir, { flush: async (batch: Item[]) => void got.push(...ids(batch)) }));
  return got;
}

test('a directory held by another stream: the second fails with ERR_DURABLE_LOCKED naming the holder', async () => {
  const holder = durableWritable(dir, { flush: async () => undefined });
  const second = durableWritable(dir, { flush: async () => undefined });
  const error = await closed(second);
  expect(isDurableError(error, DurableErrorCodes.LOCKED)).toBe(true);
  expect(error).toMatchObject({ holderPid: process.pid });
  await endAndFinish(holder);
});

test('items written before a failed open are handed back, not lost: in onDeadLetter, or in the error (cause: the open failure)', async () => {
  const holder = durableWritable(dir, { flush: async () => undefined });
  const taken: number[] = [];
  const withHandler = durableWritable(dir, {
    onDeadLetter: (batch: Item[]) => void taken.push(...ids(batch)),
    flush: async () => undefined,
  });
  const callbacks: Array<Error | null | undefined> = [];
  for (const item of items(0, 3)) withHandler.write(item, (err?: Error | null) => callbacks.push(err));
  const first = await closed(withHandler);
  expect(isDurableError(first, DurableErrorCodes.LOCKED)).toBe(true);
  expect(taken).toEqual([0, 1, 2]);
  expect(callbacks.map((err) => (err as { code?: string } | undefined)?.code)).toEqual([
    ErrorCodes.DESTROYED,
    ErrorCodes.DESTROYED,
    ErrorCodes.DESTROYED,
  ]);
  expectConserved(withHandler.getMetrics());

  const without = durableWritable(dir, { flush: async () => undefined });
  for (const item of items(3, 5)) without.write(item);
  const second = await closed(without);
  expect(second).toMatchObject({ code: ErrorCodes.DESTROYED });
  expect(ids((second as unknown as { items: Item[] }).items)).toEqual([3, 4]);
  expect(isDurableError((second as Error).cause, DurableErrorCodes.LOCKED)).toBe(true);
  await endAndFinish(holder);
});

test('destroy() leaves in-flight and read-ahead items on disk (not dead-lettered), accounts for them, and the next open delivers them first', async () => {
  let calls = 0;
  const deadLettered: number[] = [];
  const w = durableWritable(dir, {
    batchSize: 5,
    onDeadLetter: (batch: Item[]) => void deadLettered.push(...ids(batch)),
    flush: () => {
      calls++;
      return calls === 1 ? Promise.resolve() : new Promise<void>(() => undefined); // the second batch hangs
    },
  });
  let aborted = false;
  for (const item of items(0, 20)) w.write(item);
  await waitFor(() => calls === 2 && w.getMetrics().eventsFlushed === 5, 'one batch delivered, one in flight');
  const before = w.getMetrics();
  expect(before.inFlight).toBe(5);
  w.on('state', (change) => {
    if (change.to === BackpressureState.CLOSED) {
      // Everything is accounted for inside the listener: what is not delivered is held — on disk.
      const m = w.getMetrics();
      expectConserved(m);
      aborted = m.inFlight === 0 && m.bufferSize === 15;
    }
  });
  const gone = closed(w);
  w.destroy();
  const error = await gone;
  expect(error).toBeNull();
  expect(aborted).toBe(true);
  expect(deadLettered).toEqual([]);
  const after = w.getMetrics();
  expect(after).toMatchObject({
    eventsAccepted: 20,
    eventsFlushed: 5,
    eventsDeadLettered: 0,
    inFlight: 0,
    bufferSize: 15,
  });
  expectConserved(after);
  expect(await deliveredByNextOpen()).toEqual(range(15, 5));
});

test('end() with a backlog from an earlier stream: delivers all of it, then what was written, closes the log, then finishes', async () => {
  const first = durableWritable(dir, { flush: () => new Promise<void>(() => undefined) });
  let written = 0;
  for (const item of items(0, 300)) first.write(item, () => written++);
  await waitFor(() => written === 300, 'the backlog on disk');
  first.destroy();
  await closed(first);

  const delivered: number[] = [];
  const second = durableWritable(dir, {
    batchSize: 50,
    flush: async (batch: Item[]) => void delivered.push(...ids(batch)),
  });
  for (const item of items(300, 310)) second.write(item);
  let stateAtFinish = '';
  second.on('finish', () => (stateAtFinish = second.state));
  await endAndFinish(second);
  expect(delivered).toEqual(range(310));
  expect(stateAtFinish).toBe(BackpressureState.CLOSED);
  expect(second.getMetrics()).toMatchObject({
    eventsRecovered: 300,
    eventsAccepted: 10,
    itemsOnDisk: 0,
    bytesOnDisk: 0,
  });
  expect(await deliveredByNextOpen()).toEqual([]);
});

test('end() with nothing written and nothing on disk finishes at once (the log is opened and closed)', async () => {
  const w = durableWritable(dir, { flush: async () => undefined });
  await endAndFinish(w);
  expect(w.getMetrics()).toMatchObject({ eventsAccepted: 0, eventsRecovered: 0, state: 'closed' });
});

test('the drain deadline: the stream fails with ERR_BACKPRESSURE_DRAIN_TIMEOUT and what it could not deliver stays on disk', async () => {
  let calls = 0;
  const w = durableWritable(dir, {
    batchSize: 4,
    drainTimeoutMs: 50,
    flush: () => {
      calls++;
      return calls === 1 ? Promise.resolve() : new Promise<void>(() => undefined);
    },
  });
  for (const item of items(0, 12)) w.write(item);
  w.end();
  const error = await closed(w);
  expect(error).toMatchObject({ code: ErrorCodes.DRAIN_TIMEOUT });
  expect(error?.message).toMatch(/8 item\(s\) stay in the durable log/);
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 4, eventsDeadLettered: 0, bufferSize: 8 });
  expectConserved(w.getMetrics());
  expect(await deliveredByNextOpen()).toEqual(range(8, 4));
});

test('destroy() while the log is full: the items waiting for space (no record yet) are dead-lettered and their writes fail; the rest stays on disk', async () => {
  const taken: number[] = [];
  const onDisk: number[] = [];
  const failed: number[] = [];
  const w = durableWritable<{ id: number; pad: string }>(dir, {
    maxBufferSize: 8,
    batchSize: 4,
    durable: { maxBytes: 2048 },
    onDeadLetter: (batch) => void taken.push(...batch.map((b) => b.id)),
    flush: () => new Promise<void>(() => undefined),
  });
  const write = (id: number): boolean =>
    w.write({ id, pad: 'x'.repeat(100) }, (err?: Error | null) => {
      if (err === null || err === undefined) onDisk.push(id);
      else if ((err as { code?: string }).code === ErrorCodes.DESTROYED) failed.push(id);
    });
  let id = 0;
  while (write(id++) || w.getMetrics().bytesOnDisk === 0) await new Promise((resolve) => setImmediate(resolve));
  for (let i = 0; i < 3; i++) write(id++); // a producer ignoring false: these wait too
  expect(w.state).toBe(BackpressureState.BLOCKED);
  const gone = closed(w);
  w.destroy();
  expect(await gone).toBeNull();
  expect(failed.length).toBeGreaterThanOrEqual(4);
  expect(taken).toEqual(failed);
  expect([...onDisk, ...failed].sort((a, b) => a - b)).toEqual(range(id));
  const m = w.getMetrics();
  expect(m.eventsDeadLettered).toBe(failed.length);
  expectConserved(m);
  const next: number[] = [];
  await endAndFinish(
    durableWritable<{ id: number; pad: string }>(dir, {
      durable: { maxBytes: 2048 },
      flush: async (batch) => void next.push(...batch.map((b) => b.id)),
    }),
  );
  expect(next).toEqual(onDisk);
});
