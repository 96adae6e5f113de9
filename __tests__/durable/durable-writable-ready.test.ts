/**
 * 'ready': a durable writable says once that its log is open (locked and recovered), so a caller can
 * wait for it before reading any input — what the CLI does, so that a locked --buffer-dir reads
 * nothing. An open that fails emits 'error' and never 'ready'; compositions forward it.
 */
import { backpressure, BackpressureWritable, DurableErrorCodes, isDurableError } from '../../lib';
import { removeDir, tempDir } from '../helpers/durable-helpers';
import { closed, durableWritable, endAndFinish, waitFor, type Item } from '../helpers/durable-writable';
import { strategyOptions } from '../helpers/strategy-options';

let dir: string;
beforeEach(() => {
  dir = tempDir('durable-ready-');
});
afterEach(() => removeDir(dir));

test("'ready' fires once, after the log is open and before anything is read or written", async () => {
  const flushed: Item[] = [];
  const stream = durableWritable<Item>(dir, { flush: async (batch) => void flushed.push(...batch) });
  let readyCount = 0;
  let logAtReady: unknown = 'unset';
  stream.on('ready', () => {
    readyCount++;
    logAtReady = stream.getMetrics().bytesOnDisk; // the log exists: its figures are real
  });
  await waitFor(() => readyCount === 1, "'ready'");
  expect(logAtReady).toBe(0);
  stream.write({ id: 1 });
  await endAndFinish(stream);
  expect(flushed).toEqual([{ id: 1 }]);
  expect(readyCount).toBe(1);
});

test("a second opener of the directory gets 'error' (ERR_DURABLE_LOCKED) and never 'ready'", async () => {
  const first = durableWritable<Item>(dir, { flush: async () => {} });
  await new Promise((resolve) => first.once('ready', resolve));
  const second = durableWritable<Item>(dir, { flush: async () => {} });
  let ready = false;
  second.on('ready', () => (ready = true));
  const error = await closed(second);
  expect(isDurableError(error, DurableErrorCodes.LOCKED)).toBe(true);
  expect(ready).toBe(false);
  await endAndFinish(first);
});

test("a writable destroyed while its log opens never emits 'ready'", async () => {
  const stream = durableWritable<Item>(dir, { flush: async () => {} });
  let ready = false;
  stream.on('ready', () => (ready = true));
  const done = closed(stream);
  stream.destroy();
  await done;
  await new Promise((resolve) => setTimeout(resolve, 20));
  expect(ready).toBe(false);
});

test("a memory-mode writable never emits 'ready'", async () => {
  const stream = new BackpressureWritable<number>({ flush: async () => {} });
  let ready = false;
  stream.on('ready', () => (ready = true));
  stream.write(1);
  await endAndFinish(stream);
  expect(ready).toBe(false);
});

test.each(['drop-oldest', 'drop-newest', 'sample', 'priority'] as const)(
  "a %s composition forwards 'ready'",
  async (strategy) => {
    const bp = backpressure<Item>(
      strategyOptions<Item>(strategy, {
        priority: () => 1,
        flush: async () => {},
        durable: { dir, segmentBytes: 1024, maxBytes: 64 * 1024 },
      }),
    );
    await new Promise((resolve) => bp.once('ready', resolve));
    await endAndFinish(bp);
  },
);
