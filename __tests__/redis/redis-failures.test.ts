import { pipeline } from 'node:stream/promises';
import type Redis from 'ioredis';
import {
  BackpressureWritable,
  redisStreamSource,
  RedisStreamErrorCodes,
  type RedisClientLike,
  type RedisStreamEntry,
  type RedisTransientErrorEvent,
} from '../../lib';
import { fillStream, pendingCount, startRedisServer, waitFor, type RedisServer } from '../helpers/redis-server';

let server: RedisServer;
let admin: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  admin = server.client();
});
afterAll(async () => {
  await server.stop();
});

type Entry = RedisStreamEntry<string>;

/** `real`, except that the first `failures` commands (or pipelines carrying them) named `command` reject as a lost connection would. */
function failingCommands(real: Redis, command: string, failures: number): RedisClientLike {
  let left = failures;
  return {
    call(cmd, ...args) {
      if (cmd === command && left > 0) {
        left--;
        return Promise.reject(new Error('Connection is closed.'));
      }
      return real.call(cmd, ...args);
    },
    callBuffer: (cmd, ...args) => real.callBuffer(cmd, ...args),
    duplicate: () => real.duplicate(),
    quit: () => Promise.resolve('OK'),
    disconnect: () => undefined,
    on: (event, listener) => real.on(event, listener),
    off: (event, listener) => real.off(event, listener),
    pipeline() {
      const inner = real.pipeline();
      let carries = false;
      return {
        call(cmd, ...args) {
          if (cmd === command) carries = true;
          inner.call(cmd, ...args);
        },
        exec() {
          if (carries && left > 0) {
            left--;
            return Promise.reject(new Error('Connection is closed.'));
          }
          return inner.exec();
        },
      };
    },
  };
}

test('a failed XACK is retried until Redis confirms it; the entries stay pending until then', async () => {
  const stream = 'ack-retry';
  await fillStream(admin, stream, 100);
  const source = redisStreamSource({
    client: failingCommands(server.client(), 'XACK', 3),
    stream,
    group: 'g',
    consumer: 'c',
    endWhenIdleMs: 100,
  });
  const transient: RedisTransientErrorEvent[] = [];
  source.on('transient-error', (event: RedisTransientErrorEvent) => transient.push(event));
  let pendingAtFirstFailure: number | undefined;
  source.once('transient-error', () => {
    void pendingCount(admin, stream, 'g').then((n) => (pendingAtFirstFailure = n));
  });
  const flushed: Entry[] = [];
  await pipeline(
    source,
    new BackpressureWritable<Entry>({
      batchSize: 100,
      flush: async (batch) => void flushed.push(...batch),
      onSettled: source.onSettled,
    }),
  );
  await source.close();
  expect(flushed).toHaveLength(100);
  expect(transient.filter((e) => e.operation === 'ack')).toHaveLength(3);
  await waitFor(() => pendingAtFirstFailure !== undefined, 'the pending count at the first failure');
  expect(pendingAtFirstFailure).toBe(100);
  expect(await pendingCount(admin, stream, 'g')).toBe(0);
  expect(source.getMetrics()).toMatchObject({ acknowledged: 100, ackPending: 0 });
});

test('close() gives up after closeTimeoutMs when Redis is gone: ERR_REDIS_ACK_FAILED names the entries', async () => {
  const own = await startRedisServer();
  try {
    await fillStream(own.client(), 'gone', 5);
    const source = redisStreamSource({
      url: own.url,
      stream: 'gone',
      group: 'g',
      consumer: 'c',
      closeTimeoutMs: 300,
      // ioredis waits this long for a socket to a dead server to close (2 s by default): not past the test.
      redisOptions: { disconnectTimeout: 100 },
    });
    const got: Entry[] = [];
    source.on('data', (e: Entry) => got.push(e));
    await waitFor(() => got.length === 5, '5 entries');
    source.pause();
    await own.kill();
    source.acknowledge(got.map((e) => e.id));
    await expect(source.close()).rejects.toMatchObject({
      code: RedisStreamErrorCodes.ACK_FAILED,
      ids: got.map((e) => e.id),
    });
  } finally {
    await own.stop();
  }
});

test('a key that is not a stream fails the source with ERR_REDIS_COMMAND_FAILED (no retry loop)', async () => {
  await admin.set('not-a-stream', 'x');
  const source = redisStreamSource({ url: server.url, stream: 'not-a-stream', group: 'g', consumer: 'c' });
  const failure = new Promise<unknown>((resolve) => source.once('error', resolve));
  source.resume();
  const error = (await failure) as Error;
  expect(error).toMatchObject({ code: RedisStreamErrorCodes.COMMAND_FAILED });
  expect(String((error.cause as Error).message)).toMatch(/^WRONGTYPE/);
  await source.close();
});

test('a stream deleted under the source (NOGROUP) is created again, and reading goes on', async () => {
  const stream = 'recreated';
  await fillStream(admin, stream, 10);
  const source = redisStreamSource({ url: server.url, stream, group: 'g', consumer: 'c', blockMs: 50 });
  const seqs: number[] = [];
  source.on('data', (e: Entry) => {
    seqs.push((JSON.parse(e.record as string) as { seq: number }).seq);
    source.acknowledge([e.id]);
  });
  await waitFor(() => seqs.length === 10, 'the first 10 entries');
  await admin.del(stream);
  // The next read meets NOGROUP; the source creates stream and group again and reads what comes next.
  await waitFor(async () => (await admin.exists(stream)) === 1, 'the stream to be created again');
  await fillStream(admin, stream, 5, 100);
  await waitFor(() => seqs.length === 15, 'the 5 entries written after the deletion');
  expect(seqs.slice(10)).toEqual([100, 101, 102, 103, 104]);
  expect(source.getMetrics().transientErrors).toBeGreaterThan(0);
  source.stop();
  await source.close();
});
