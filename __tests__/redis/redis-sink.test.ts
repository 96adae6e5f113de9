import type Redis from 'ioredis';
import {
  BackpressureWritable,
  redisStreamSink,
  RedisStreamErrorCodes,
  type RedisClientLike,
  type RedisRecord,
} from '../../lib';
import { startRedisServer, type RedisServer } from '../helpers/redis-server';

let server: RedisServer;
let admin: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  admin = server.client();
});
afterAll(async () => {
  await server.stop();
});

const signal = new AbortController().signal;

async function dataOf(stream: string): Promise<string[]> {
  const entries = (await admin.xrange(stream, '-', '+')) as [string, string[]][];
  return entries.map(([, fields]) => fields[fields.indexOf('data') + 1] as string);
}

test('one pipelined XADD per record, in batch order, the record in the data field', async () => {
  const sink = redisStreamSink({ url: server.url, stream: 'out' });
  const records = Array.from({ length: 250 }, (_, i) => `{"seq":${i}}`);
  await expect(sink.flush(records.slice(0, 100))).resolves.toBeUndefined();
  await expect(sink.flush(records.slice(100))).resolves.toBeUndefined();
  await sink.close();
  expect(await dataOf('out')).toEqual(records);
});

test('as the writable flush: every record lands once, and Buffers are stored byte for byte', async () => {
  const sink = redisStreamSink({ url: server.url, stream: 'bytes', field: 'payload' });
  const writable = new BackpressureWritable<RedisRecord>({ batchSize: 7, flush: sink.flush });
  const records: RedisRecord[] = [Buffer.from([0xff, 0x00, 0x7b]), ...Array.from({ length: 20 }, (_, i) => `r${i}`)];
  for (const r of records) writable.write(r);
  await new Promise<void>((resolve, reject) => writable.end(() => resolve()).once('error', reject));
  await sink.close();
  const entries = (await admin.xrangeBuffer('bytes', '-', '+')) as [Buffer, Buffer[]][];
  expect(entries.map(([, fields]) => (fields[0] as Buffer).toString())).toEqual(entries.map(() => 'payload'));
  expect(entries.map(([, fields]) => fields[1])).toEqual(records.map((r) => Buffer.from(r)));
});

test('maxLen trims the stream as it grows (approximately: whole nodes at a time)', async () => {
  const sink = redisStreamSink({ url: server.url, stream: 'capped', maxLen: 100 });
  for (let i = 0; i < 20; i++) await sink.flush(Array.from({ length: 250 }, (_, j) => `${i * 250 + j}`));
  await sink.close();
  const length = await admin.xlen('capped');
  expect(length).toBeGreaterThanOrEqual(100);
  expect(length).toBeLessThan(1000);
  const data = await dataOf('capped');
  expect(data[data.length - 1]).toBe('4999'); // the newest are kept
});

test('a key that is not a stream: not retryable, so the batch is dead-lettered after one attempt', async () => {
  await admin.set('a-string', 'x');
  const sink = redisStreamSink({ url: server.url, stream: 'a-string' });
  const dead: { items: RedisRecord[]; error: Error }[] = [];
  const writable = new BackpressureWritable<RedisRecord>({
    batchSize: 2,
    retry: { retries: 5, minDelayMs: 1 },
    flush: sink.flush,
    onDeadLetter: (items, error) => void dead.push({ items, error }),
  });
  writable.write('a');
  writable.write('b');
  await new Promise<void>((resolve) => writable.end(() => resolve()));
  await sink.close();
  expect(dead).toHaveLength(1);
  expect(dead[0]?.items).toEqual(['a', 'b']);
  expect(dead[0]?.error.cause).toMatchObject({ code: RedisStreamErrorCodes.WRITE_FAILED, retryable: false });
  expect(writable.getMetrics().eventsRetried).toBe(0);
});

test('Redis unreachable: the failure is retryable (the core retries the batch)', async () => {
  const own = await startRedisServer();
  const url = own.url;
  await own.stop();
  const sink = redisStreamSink({
    url,
    stream: 's',
    // Fail at once instead of queueing until Redis comes back.
    redisOptions: { enableOfflineQueue: false, retryStrategy: () => null, disconnectTimeout: 100 },
  });
  await expect(sink.flush(['x'])).rejects.toMatchObject({ code: RedisStreamErrorCodes.WRITE_FAILED, retryable: true });
  await sink.close();
});

test('a partial failure names exactly the records to retry, and is retryable when any failure is', async () => {
  const replies: Array<[Error | null, unknown]> = [
    [null, '1-0'],
    [Object.assign(new Error('OOM command not allowed'), { name: 'ReplyError' }), null],
    [null, '1-1'],
    [Object.assign(new Error('WRONGTYPE no'), { name: 'ReplyError' }), null],
  ];
  const client: RedisClientLike = {
    call: () => Promise.resolve(null),
    callBuffer: () => Promise.resolve(null),
    pipeline: () => ({ call: () => undefined, exec: () => Promise.resolve(replies) }),
    duplicate: () => client,
    quit: () => Promise.resolve('OK'),
    disconnect: () => undefined,
    on: () => undefined,
    off: () => undefined,
  };
  const sink = redisStreamSink({ client, stream: 's' });
  const result = await sink.flush(['a', 'b', 'c', 'd'], { signal, attempt: 1 });
  expect(result).toMatchObject({ success: 2, failed: 2, failedItems: ['b', 'd'] });
  expect((result as { errors: Error[] }).errors[0]).toMatchObject({ retryable: true });
  expect(String((result as { errors: Error[] }).errors[0]?.cause)).toMatch(/OOM/);
});
