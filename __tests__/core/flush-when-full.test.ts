import { BackpressureWritable } from '../../lib';
import { ControlledSink, expectConserved, range, settle } from '../helpers/core-helpers';

// Full — by items or by bytes — means flush now, whatever the batch count. A buffer full by bytes
// short of batchSize must not wait for the interval timer (which grows up to maxFlushIntervalMs while
// the writer is blocked and the sink sits idle). The fake clock is never advanced in these tests: what
// is delivered was delivered without any timer.

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

const KB_ITEM = (i: number): string => `${String(i).padStart(6, '0')}${'x'.repeat(994)}`; // 1,000 bytes

/** Writes `items`, respecting write() === false; resolves 'done', or 'stuck' if it cannot go on without a timer. */
async function produce<T>(w: BackpressureWritable<T>, items: readonly T[]): Promise<'done' | 'stuck'> {
  for (const item of items) {
    if (w.write(item)) continue;
    let drained = false;
    w.once('drain', () => (drained = true));
    for (let round = 0; round < 200 && !drained; round++) await settle(1);
    if (!drained) return 'stuck';
  }
  return 'done';
}

test('maxBufferBytes 50,000, batchSize 100, 1 KB items, instant sink: 2,000 items are delivered without waiting for the interval', async () => {
  const delivered: string[] = [];
  const batchSizes: number[] = [];
  const w = new BackpressureWritable<string>({
    maxBufferBytes: 50_000,
    batchSize: 100,
    flush: async (batch) => {
      batchSizes.push(batch.length);
      delivered.push(...batch);
    },
  });
  const items = range(2000).map(KB_ITEM);
  const start = Date.now();
  expect(await produce(w, items)).toBe('done');
  await settle();
  expect(Date.now()).toBe(start);
  expect(delivered).toEqual(items);
  expect(Math.max(...batchSizes)).toBeLessThan(100); // every flush started because the buffer was full by bytes
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 2000, bufferSize: 0, bufferBytes: 0, inFlight: 0 });
  expectConserved(w.getMetrics());
});

test('blocked with a withheld write callback behind a slow sink: each flush starts the moment the previous one settles', async () => {
  const sink = new ControlledSink<string>();
  const w = new BackpressureWritable<string>({
    maxBufferBytes: 3000,
    batchSize: 100,
    minFlushIntervalMs: 30_000, // the interval would make the sink wait 30 s
    flush: sink.flush,
  });
  const items = range(9).map(KB_ITEM);
  // [0,1,2] fill the buffer and go at once; [3,4,5] fill it again; 6 is taken by _write, whose callback
  // is withheld (the one item over the byte bound); 7 and 8 wait in Node's queue.
  for (const item of items) w.write(item);
  await settle();
  expect(sink.calls.map((c) => c.batch)).toEqual([items.slice(0, 3)]);
  expect(w.state).toBe('blocked');
  expect(w.getMetrics()).toMatchObject({ bufferSize: 6, inFlight: 3 });
  sink.pending.resolve();
  await settle();
  expect(sink.calls.map((c) => c.batch)).toEqual([items.slice(0, 3), items.slice(3, 7)]);
  sink.pending.resolve();
  await settle();
  // 7 and 8 (2,000 bytes) do not fill the buffer: they wait for the interval, or for end().
  expect(sink.calls).toHaveLength(2);
  expect(w.getMetrics()).toMatchObject({ bufferSize: 2, inFlight: 0 });
  w.end();
  await settle();
  expect(sink.calls.map((c) => c.batch)).toEqual([items.slice(0, 3), items.slice(3, 7), items.slice(7, 9)]);
  sink.pending.resolve();
  await settle();
  expect(w.writableFinished).toBe(true);
  expect(sink.delivered).toEqual(items);
});

test('maxBufferBytes smaller than one item: every item is flushed at once, one per batch', async () => {
  const delivered: string[] = [];
  const w = new BackpressureWritable<string>({
    maxBufferBytes: 10,
    batchSize: 100,
    flush: async (batch) => void delivered.push(...batch),
  });
  const items = range(100).map((i) => `line number ${i}`);
  expect(await produce(w, items)).toBe('done');
  await settle();
  expect(delivered).toEqual(items);
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 100, flushes: 100 });
});

test('full by bytes while the adaptive interval grows (slow sink): the sink is never left idle', async () => {
  const sink = new ControlledSink<string>();
  const w = new BackpressureWritable<string>({
    maxBufferBytes: 2000,
    batchSize: 100,
    targetLatencyMs: 10,
    maxFlushIntervalMs: 30_000,
    flush: sink.flush,
  });
  const items = range(40).map(KB_ITEM);
  let next = 0;
  // Each flush takes 100 ms of fake time: far above targetLatencyMs, so the interval grows each time.
  while (next < items.length) {
    while (next < items.length && w.write(items[next++] as string));
    await settle();
    const before = sink.calls.length;
    await jest.advanceTimersByTimeAsync(100);
    sink.pending.resolve();
    await settle();
    // Full by bytes: the next batch starts as this one settles, not when the interval would allow.
    if (next < items.length) expect(sink.calls.length).toBe(before + 1);
  }
  w.end();
  for (let i = 0; i < 40 && !w.writableFinished; i++) {
    await settle();
    const last = sink.calls[sink.calls.length - 1];
    if (last !== undefined && sink.delivered.length < items.length) last.resolve();
  }
  expect(w.getMetrics().currentFlushIntervalMs).toBeGreaterThan(10_000);
  expect(sink.delivered).toEqual(items);
});
