import { once } from 'node:events';
import { BackpressureWritable, type FlushResult } from '../../lib';
import { expectConserved, range, settle } from '../helpers/core-helpers';

// The stream never reads back an array it handed to user code: flush gets a copy of the batch, and
// what is retried, dead-lettered and counted comes from the stream's own items. A flush that consumes
// its array — chunking with batch.splice(0, n), as for DynamoDB's 25-item BatchWriteItem — is fine.

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

const CHUNK = 2;

/** A flush that sends its batch in chunks of CHUNK, consuming the array as it goes. */
function chunkingFlush(send: (chunk: number[]) => void): (batch: number[]) => Promise<void> {
  return async (batch) => {
    while (batch.length > 0) {
      const chunk = batch.splice(0, CHUNK);
      await Promise.resolve();
      send(chunk);
    }
  };
}

test('a flush that splices its batch into chunks: everything is delivered once and the account is exact after finish', async () => {
  const delivered: number[] = [];
  const w = new BackpressureWritable<number>({
    batchSize: 5,
    flush: chunkingFlush((chunk) => delivered.push(...chunk)),
  });
  const finished = once(w, 'finish');
  for (const i of range(23)) w.write(i);
  w.end();
  await finished;
  expect(delivered).toEqual(range(23));
  const m = w.getMetrics();
  expect(m).toMatchObject({ eventsAccepted: 23, eventsFlushed: 23, inFlight: 0, bufferSize: 0, eventsDeadLettered: 0 });
  expectConserved(m);
});

test('a chunk that throws: the whole batch is retried from the stream’s own items, then dead-lettered; the account is exact after finish', async () => {
  const sent: number[][] = [];
  const attempts: number[][] = [];
  const dead: number[] = [];
  const w = new BackpressureWritable<number>({
    batchSize: 6,
    retry: { retries: 2, minDelayMs: 10, maxDelayMs: 10 },
    flush: async (batch) => {
      attempts.push([...batch]);
      await chunkingFlush((chunk) => {
        if (chunk.includes(8)) throw new Error('chunk with 8 refused');
        sent.push(chunk);
      })(batch);
    },
    onDeadLetter: (items) => void dead.push(...items),
  });
  const finished = once(w, 'finish');
  for (const i of range(12)) w.write(i);
  w.end();
  await jest.advanceTimersByTimeAsync(100);
  await finished;
  // The failing batch (6..11) got every attempt whole, however much of it the previous attempt consumed.
  expect(attempts).toEqual([range(6), range(6, 6), range(6, 6), range(6, 6)]);
  expect(dead).toEqual(range(6, 6));
  const m = w.getMetrics();
  expect(m).toMatchObject({
    eventsAccepted: 12,
    eventsFlushed: 6,
    eventsDeadLettered: 6,
    inFlight: 0,
    bufferSize: 0,
    eventsRetried: 12,
  });
  expectConserved(m);
});

test('a flush that empties its array and resolves a partial result: failedItems are matched against the stream’s own batch', async () => {
  const attempts: string[][] = [];
  const w = new BackpressureWritable<string>({
    batchSize: 3,
    retry: { retries: 1, minDelayMs: 10, maxDelayMs: 10 },
    flush: async (batch): Promise<void | FlushResult<string>> => {
      attempts.push([...batch]);
      const taken = batch.splice(0);
      if (attempts.length > 1) return undefined;
      return { success: 2, failed: 1, errors: [new Error('c refused')], failedItems: [taken[2] as string] };
    },
  });
  for (const item of ['a', 'b', 'c']) w.write(item);
  await settle();
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 2, inFlight: 1 });
  await jest.advanceTimersByTimeAsync(10);
  expect(attempts).toEqual([['a', 'b', 'c'], ['c']]);
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 3, inFlight: 0 });
  expectConserved(w.getMetrics());
});

test('a flush that adds to its array does not add items to the stream', async () => {
  const attempts: string[][] = [];
  const w = new BackpressureWritable<string>({
    batchSize: 2,
    retry: { retries: 1, minDelayMs: 10, maxDelayMs: 10 },
    flush: async (batch) => {
      attempts.push([...batch]);
      batch.push('intruder');
      if (attempts.length === 1) throw new Error('down');
    },
  });
  w.write('a');
  w.write('b');
  await jest.advanceTimersByTimeAsync(10);
  expect(attempts).toEqual([
    ['a', 'b'],
    ['a', 'b'],
  ]);
  expect(w.getMetrics()).toMatchObject({ eventsAccepted: 2, eventsFlushed: 2, inFlight: 0 });
});
