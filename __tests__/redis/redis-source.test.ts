import { pipeline } from 'node:stream/promises';
import type Redis from 'ioredis';
import {
  backpressure,
  BackpressureWritable,
  redisStreamSource,
  RedisStreamErrorCodes,
  type RedisStreamEntry,
  type RedisStreamSource,
} from '../../lib';
import { fillStream, pendingCount, startRedisServer, waitFor, type RedisServer } from '../helpers/redis-server';

let server: RedisServer;
let admin: Redis;
let streams = 0;

beforeAll(async () => {
  server = await startRedisServer();
  admin = server.client();
});
afterAll(async () => {
  await server.stop();
});

/** A fresh stream name per test: one server serves the whole file. */
function nextStream(): string {
  return `s${++streams}`;
}

type Entry = RedisStreamEntry<string>;

function seqOf(entry: Entry): number {
  return (JSON.parse(entry.record as string) as { seq: number }).seq;
}

/** Runs `source` into a writable that records every entry it flushes and acknowledges through onSettled. */
async function drain(source: RedisStreamSource, flushed: Entry[] = []): Promise<Entry[]> {
  await pipeline(
    source,
    new BackpressureWritable<Entry>({
      batchSize: 50,
      flush: async (batch) => {
        flushed.push(...batch);
      },
      onSettled: source.onSettled,
    }),
  );
  await source.close();
  return flushed;
}

function idsOf(pending: unknown): string[] {
  return (pending as [string, string, number, number][]).map((row) => row[0]);
}

test('delivers every entry once and acknowledges each after its flush: nothing left pending', async () => {
  const stream = nextStream();
  await fillStream(admin, stream, 2000);
  const source = redisStreamSource({ url: server.url, stream, group: 'g', consumer: 'c', endWhenIdleMs: 100 });
  const flushed = await drain(source);
  expect(flushed.map(seqOf).sort((a, b) => a - b)).toEqual(Array.from({ length: 2000 }, (_, i) => i));
  expect(await pendingCount(admin, stream, 'g')).toBe(0);
  const m = source.getMetrics();
  expect(m).toMatchObject({ delivered: 2000, readNew: 2000, acknowledged: 2000, held: 0, ackPending: 0 });
});

test('an entry is acknowledged only once its flush succeeded: a failing flush leaves it pending', async () => {
  const stream = nextStream();
  await fillStream(admin, stream, 10);
  const source = redisStreamSource({ url: server.url, stream, group: 'g', consumer: 'c', endWhenIdleMs: 100 });
  const writable = new BackpressureWritable<Entry>({
    batchSize: 10,
    retry: { retries: 0 },
    flush: async (batch) => {
      if (batch.some((e) => seqOf(e) === 3)) throw new Error('sink down');
    },
    onSettled: source.onSettled,
  });
  await expect(pipeline(source, writable)).rejects.toMatchObject({ code: 'ERR_BACKPRESSURE_FLUSH_FAILED' });
  await source.close();
  expect(await pendingCount(admin, stream, 'g')).toBe(10);
  expect(source.getMetrics().acknowledged).toBe(0);
});

test('creates the stream and the group when missing (MKSTREAM); an existing group is used as it is; a client of the caller stays open', async () => {
  const stream = nextStream();
  const first = redisStreamSource({ url: server.url, stream, group: 'g', consumer: 'a', endWhenIdleMs: 0 });
  await drain(first);
  expect(await admin.exists(stream)).toBe(1);
  await fillStream(admin, stream, 5);
  // An ioredis client of the caller's own is a RedisClientLike (structurally), and stays open after close().
  const client = server.client();
  const second = redisStreamSource({ client, stream, group: 'g', consumer: 'b', endWhenIdleMs: 50 });
  expect((await drain(second)).map(seqOf)).toEqual([0, 1, 2, 3, 4]);
  expect(await client.ping()).toBe('PONG');
});

test('a restarted worker first delivers what it had read and not acknowledged, then new entries', async () => {
  const stream = nextStream();
  await fillStream(admin, stream, 30);
  // First life: reads 30 entries, flushes none of them (its sink never answers), and goes away.
  const before = redisStreamSource({ url: server.url, stream, group: 'g', consumer: 'w', count: 30 });
  const reading = new Promise<void>((resolve) => before.once('data', () => resolve()));
  before.resume();
  await reading;
  await waitFor(() => before.getMetrics().delivered === 30, 'the first life to read 30 entries');
  before.destroy();
  await before.close();
  expect(await pendingCount(admin, stream, 'g')).toBe(30);
  await fillStream(admin, stream, 5, 30);

  const after = redisStreamSource({ url: server.url, stream, group: 'g', consumer: 'w', endWhenIdleMs: 100 });
  const flushed = await drain(after);
  expect(flushed.map(seqOf)).toEqual(Array.from({ length: 35 }, (_, i) => i));
  expect(after.getMetrics()).toMatchObject({ readPending: 30, readNew: 5, claimed: 0 });
  expect(await pendingCount(admin, stream, 'g')).toBe(0);
});

test("takes over a dead worker's entries once idle for claimIdleMs, and acknowledges them after delivery", async () => {
  const stream = nextStream();
  await fillStream(admin, stream, 20);
  // A worker reads 20 entries and dies: nobody acknowledges them, nobody keeps them alive.
  await admin.xgroup('CREATE', stream, 'g', '0');
  await admin.xreadgroup('GROUP', 'g', 'dead', 'COUNT', 20, 'STREAMS', stream, '>');
  const source = redisStreamSource({
    url: server.url,
    stream,
    group: 'g',
    consumer: 'alive',
    claimIdleMs: 200,
    endWhenIdleMs: 300,
  });
  const flushed = await drain(source);
  expect(flushed.map(seqOf).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  expect(source.getMetrics().claimed).toBe(20);
  expect(await pendingCount(admin, stream, 'g')).toBe(0);
});

test('entries a slow sink still holds are kept alive: no other worker takes them over meanwhile', async () => {
  const stream = nextStream();
  await fillStream(admin, stream, 10);
  const slow = redisStreamSource({ url: server.url, stream, group: 'g', consumer: 'slow', claimIdleMs: 150 });
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const writable = new BackpressureWritable<Entry>({
    batchSize: 10,
    flushTimeoutMs: Infinity,
    flush: () => gate,
    onSettled: slow.onSettled,
  });
  const done = pipeline(slow, writable);
  await waitFor(() => writable.getMetrics().inFlight === 10, 'the slow sink to hold all 10 entries');
  // Well past claimIdleMs, several times over: the entries stay with the slow worker.
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 150));
    const claimed = (await admin.xautoclaim(stream, 'g', 'thief', 150, '0-0', 'COUNT', 100)) as unknown[];
    expect(claimed[1]).toEqual([]);
  }
  release();
  slow.stop();
  await done;
  await slow.close();
  expect(await pendingCount(admin, stream, 'g')).toBe(0);
});

test('reads only while downstream wants data: a stalled consumer holds at most count + high-water mark, and one batch read ahead', async () => {
  const stream = nextStream();
  await fillStream(admin, stream, 5000);
  const source = redisStreamSource({ url: server.url, stream, group: 'g', consumer: 'c', count: 50 });
  source.once('data', () => source.pause());
  source.resume();
  await waitFor(() => source.getMetrics().delivered > 0, 'a first read');
  // Give it every chance to read on: it must not.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const delivered = source.getMetrics().delivered;
  expect(delivered).toBeLessThanOrEqual(100);
  // Read from Redis: what was handed out, and at most one batch read ahead of it.
  const pending = await pendingCount(admin, stream, 'g');
  expect(pending).toBeGreaterThanOrEqual(delivered);
  expect(pending).toBeLessThanOrEqual(delivered + 50);
  source.destroy();
  await source.close();
});

test('pauses at maxUnacknowledged when nothing is acknowledged, and goes on as acknowledgements come', async () => {
  const stream = nextStream();
  await fillStream(admin, stream, 500);
  const source = redisStreamSource({
    url: server.url,
    stream,
    group: 'g',
    consumer: 'c',
    count: 20,
    maxUnacknowledged: 100,
  });
  const got: Entry[] = [];
  source.on('data', (e: Entry) => got.push(e));
  await waitFor(() => got.length === 100, '100 entries');
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(got.length).toBe(100);
  source.acknowledge(got.slice(0, 40).map((e) => e.id));
  await waitFor(() => got.length === 140, '40 more entries after 40 acknowledgements');
  source.destroy();
  await source.close();
  expect(await pendingCount(admin, stream, 'g')).toBe(100);
});

test('poison: an entry delivered more than maxDeliveries times goes to onDeadLetter, then is acknowledged', async () => {
  const stream = nextStream();
  await fillStream(admin, stream, 3);
  await admin.xgroup('CREATE', stream, 'g', '0');
  // Delivered three times already (a worker that crashed on it three times over).
  for (const from of ['>', '0', '0']) await admin.xreadgroup('GROUP', 'g', 'w', 'COUNT', 1, 'STREAMS', stream, from);
  const dead: { entries: Entry[]; code: unknown }[] = [];
  const source = redisStreamSource({
    url: server.url,
    stream,
    group: 'g',
    consumer: 'w',
    maxDeliveries: 3,
    endWhenIdleMs: 100,
    onDeadLetter: async (entries, error) => {
      // Not acknowledged while the dead-letter write is in progress.
      expect(await pendingCount(admin, stream, 'g')).toBeGreaterThanOrEqual(entries.length);
      dead.push({ entries, code: (error as { code?: unknown }).code });
    },
  });
  const flushed = await drain(source);
  expect(dead).toEqual([{ entries: [expect.objectContaining({ record: '{"seq":0}' })], code: 'ERR_REDIS_POISON' }]);
  expect(flushed.map(seqOf)).toEqual([1, 2]);
  expect(source.getMetrics()).toMatchObject({ poison: 1, deadLettered: 1 });
  expect(await pendingCount(admin, stream, 'g')).toBe(0);
});

test('poison without onDeadLetter is left pending, reported, and not delivered again', async () => {
  const stream = nextStream();
  await fillStream(admin, stream, 2);
  await admin.xgroup('CREATE', stream, 'g', '0');
  for (const from of ['>', '0']) await admin.xreadgroup('GROUP', 'g', 'w', 'COUNT', 1, 'STREAMS', stream, from);
  const source = redisStreamSource({
    url: server.url,
    stream,
    group: 'g',
    consumer: 'w',
    maxDeliveries: 1,
    endWhenIdleMs: 100,
  });
  const events: unknown[] = [];
  source.on('poison', (event: { entries: Entry[]; deadLettering: boolean }) =>
    events.push({ seqs: event.entries.map(seqOf), deadLettering: event.deadLettering }),
  );
  const flushed = await drain(source);
  expect(flushed.map(seqOf)).toEqual([1]);
  expect(events).toEqual([{ seqs: [0], deadLettering: false }]);
  expect(idsOf(await admin.xpending(stream, 'g', '-', '+', 10))).toHaveLength(1);
});

test('a failing onDeadLetter fails the source with ERR_REDIS_DEAD_LETTER_FAILED; the poison stays pending', async () => {
  const stream = nextStream();
  await fillStream(admin, stream, 1);
  await admin.xgroup('CREATE', stream, 'g', '0');
  for (const from of ['>', '0']) await admin.xreadgroup('GROUP', 'g', 'w', 'COUNT', 1, 'STREAMS', stream, from);
  const source = redisStreamSource({
    url: server.url,
    stream,
    group: 'g',
    consumer: 'w',
    maxDeliveries: 1,
    onDeadLetter: () => Promise.reject(new Error('disk full')),
  });
  const failure = new Promise<unknown>((resolve) => source.once('error', resolve));
  source.resume();
  expect(await failure).toMatchObject({ code: RedisStreamErrorCodes.DEAD_LETTER_FAILED, ids: [expect.any(String)] });
  await source.close();
  expect(await pendingCount(admin, stream, 'g')).toBe(1);
});

test('pending entries whose stream entry was deleted are acknowledged and counted, not delivered', async () => {
  const stream = nextStream();
  await fillStream(admin, stream, 3);
  await admin.xgroup('CREATE', stream, 'g', '0');
  const read = (await admin.xreadgroup('GROUP', 'g', 'w', 'COUNT', 3, 'STREAMS', stream, '>')) as [
    string,
    [string, string[]][],
  ][];
  const firstId = (read[0] as [string, [string, string[]][]])[1][0]?.[0] as string;
  await admin.xdel(stream, firstId);
  const source = redisStreamSource({ url: server.url, stream, group: 'g', consumer: 'w', endWhenIdleMs: 100 });
  const flushed = await drain(source);
  expect(flushed.map(seqOf)).toEqual([1, 2]);
  expect(source.getMetrics().deleted).toBe(1);
  expect(await pendingCount(admin, stream, 'g')).toBe(0);
});

test('stop() ends the readable at once, even in the middle of a long blocking read', async () => {
  const stream = nextStream();
  const source = redisStreamSource({ url: server.url, stream, group: 'g', consumer: 'c', blockMs: 600_000 });
  const ended = new Promise<void>((resolve) => source.once('end', () => resolve()));
  source.resume();
  await waitFor(async () => (await admin.exists(stream)) === 1, 'the group to exist');
  // Let the read block: the test's own timeout (30 s) is far below blockMs.
  await new Promise((resolve) => setTimeout(resolve, 200));
  source.stop();
  await ended;
  await source.close();
});

test('a drop strategy: dropped entries are acknowledged through onDrop, delivered ones through onSettled', async () => {
  const stream = nextStream();
  await fillStream(admin, stream, 3000);
  const source = redisStreamSource({ url: server.url, stream, group: 'g', consumer: 'c', endWhenIdleMs: 200 });
  const flushedIds = new Set<string>();
  const droppedIds = new Set<string>();
  const output = backpressure<Entry>({
    strategy: 'drop-newest',
    capacity: 10,
    maxBufferSize: 20,
    batchSize: 20,
    flush: async (batch) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      for (const e of batch) flushedIds.add(e.id);
    },
    onSettled: source.onSettled,
  });
  output.on('drop', (event: { item: Entry; reason: string }) => {
    droppedIds.add(event.item.id);
    source.onDrop(event);
  });
  await pipeline(source, output);
  await source.close();
  expect(droppedIds.size).toBeGreaterThan(0);
  expect(flushedIds.size + droppedIds.size).toBe(3000);
  expect(await pendingCount(admin, stream, 'g')).toBe(0);
});

test('acknowledge() after close() throws ERR_REDIS_CLOSED: those entries stay pending', async () => {
  const stream = nextStream();
  const source = redisStreamSource({ url: server.url, stream, group: 'g', consumer: 'c', endWhenIdleMs: 0 });
  await drain(source);
  expect(() => source.acknowledge(['1-0'])).toThrow(expect.objectContaining({ code: RedisStreamErrorCodes.CLOSED }));
});

test('valueEncoding buffer hands out the stored bytes, invalid UTF-8 included', async () => {
  const stream = nextStream();
  await admin.xadd(stream, '*', 'data', Buffer.from([0xff, 0xfe, 0x7b]), 'other', 'x');
  const source = redisStreamSource({
    url: server.url,
    stream,
    group: 'g',
    consumer: 'c',
    valueEncoding: 'buffer',
    endWhenIdleMs: 50,
  });
  const got: RedisStreamEntry<Buffer>[] = [];
  source.on('data', (e: RedisStreamEntry<Buffer>) => {
    got.push(e);
    source.acknowledge([e.id]);
  });
  await new Promise((resolve) => source.once('end', resolve));
  await source.close();
  expect(got).toHaveLength(1);
  expect(got[0]?.record).toEqual(Buffer.from([0xff, 0xfe, 0x7b]));
  expect(got[0]?.fields['other']).toEqual(Buffer.from('x'));
});
