/**
 * The CLI reading and writing Redis streams, as real processes against a real redis-server
 * (`npm test` builds dist/ first; run `npm run build` before running this file alone).
 */
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { join } from 'node:path';
import type Redis from 'ioredis';
import { main } from '../../lib/cli/main';
import { setModuleLoaderForTests } from '../../lib/redis/redis-client';
import { collect, runCli, seqLines, seqsOf, spawnCli, statsOf, tempDir } from '../helpers/cli';
import { startCollector } from '../helpers/collector';
import { fillStream, pendingCount, startRedisServer, waitFor, type RedisServer } from '../helpers/redis-server';

let server: RedisServer;
let admin: Redis;
let temp: { dir: string; cleanup: () => void };

beforeAll(async () => {
  server = await startRedisServer();
  admin = server.client();
  temp = tempDir('bp-redis-cli-');
});
afterAll(async () => {
  await server.stop();
  temp.cleanup();
});

function source(stream: string, params = 'group=g&consumer=c'): string {
  return `redis://127.0.0.1:${server.port}/${stream}?${params}`;
}

function deadLetterLines(path: string): Record<string, unknown>[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('100k entries through a worker into a file: every id exactly once, nothing left pending, exit 0', async () => {
  await fillStream(admin, 'round-trip', 100_000);
  const out = join(temp.dir, 'round-trip.ndjson');
  const result = await runCli([
    '--source',
    source('round-trip'),
    '--sink',
    `file:${out}`,
    '--exit-when-idle',
    '300',
    '--stats',
  ]);
  expect(result.code).toBe(0);
  const seqs = seqsOf(readFileSync(out, 'utf8'));
  expect(seqs).toHaveLength(100_000);
  expect(new Set(seqs).size).toBe(100_000);
  expect(Math.min(...seqs)).toBe(0);
  expect(Math.max(...seqs)).toBe(99_999);
  expect(await pendingCount(admin, 'round-trip', 'g')).toBe(0);
  const stats = statsOf(result.stderr);
  expect(stats).toMatchObject({ read: 100_000, valid: 100_000, flushed: 100_000, lost: 0 });
  expect(stats.redis).toMatchObject({ acknowledged: 100_000, leftPending: 0, unacknowledged: 0 });
}, 120_000);

test('invalid and blank entries are reported, kept in --dead-letter with their id, and acknowledged', async () => {
  const stream = 'invalid-skip';
  await admin.xadd(stream, '*', 'data', '{"seq":0}');
  const badId = await admin.xadd(stream, '*', 'data', '{"seq":');
  await admin.xadd(stream, '*', 'data', '   ');
  const noFieldId = await admin.xadd(stream, '*', 'other', 'x');
  await admin.xadd(stream, '*', 'data', '{"seq":1}\n');
  const out = join(temp.dir, 'invalid-skip.ndjson');
  const dead = join(temp.dir, 'invalid-skip.dead');
  const result = await runCli([
    '--source',
    source(stream),
    '--sink',
    `file:${out}`,
    '--dead-letter',
    dead,
    '--exit-when-idle',
    '100',
    '--stats',
  ]);
  expect(result.code).toBe(0);
  expect(seqsOf(readFileSync(out, 'utf8'))).toEqual([0, 1]);
  expect(result.stderr).toContain(`entry ${badId}: invalid-json`);
  expect(deadLetterLines(dead)).toEqual([
    expect.objectContaining({ id: badId, reason: 'invalid-json', raw: '{"seq":' }),
    expect.objectContaining({ id: noFieldId, reason: 'invalid-json' }),
  ]);
  expect(statsOf(result.stderr)).toMatchObject({ read: 4, valid: 2, invalid: 2, flushed: 2 });
  expect(await pendingCount(admin, stream, 'g')).toBe(0);
});

test('--invalid fail: delivers what came before, stops at the invalid entry and leaves it pending, exit 1', async () => {
  const stream = 'invalid-fail';
  await admin.xadd(stream, '*', 'data', '{"seq":0}');
  const badId = await admin.xadd(stream, '*', 'data', 'not json');
  await admin.xadd(stream, '*', 'data', '{"seq":2}');
  const out = join(temp.dir, 'invalid-fail.ndjson');
  const result = await runCli(['--source', source(stream), '--sink', `file:${out}`, '--invalid', 'fail']);
  expect(result.code).toBe(1);
  expect(seqsOf(readFileSync(out, 'utf8'))).toEqual([0]);
  const pending = (await admin.xpending(stream, 'g', '-', '+', 10)) as [string][];
  expect(pending.map((row) => row[0])).toContain(badId);
});

test('without --dead-letter an undeliverable record is left pending, not discarded, and the run says so', async () => {
  const stream = 'undeliverable';
  await fillStream(admin, stream, 10);
  const result = await runCli([
    '--source',
    source(stream),
    '--sink',
    `file:${join(temp.dir, 'no-such-dir', 'out.ndjson')}`,
    '--exit-when-idle',
    '100',
    '--stats',
  ]);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/records undeliverable, left pending in redis:\/\/127\.0\.0\.1:\d+\/undeliverable/);
  expect(await pendingCount(admin, stream, 'g')).toBe(10);
  expect(statsOf(result.stderr).redis).toMatchObject({ acknowledged: 0 });
});

test('SIGTERM: stops reading, delivers and acknowledges what it read, exits 143; a second run takes the rest once', async () => {
  const stream = 'sigterm';
  await fillStream(admin, stream, 10_000);
  const collector = await startCollector({ delayMs: 20 });
  try {
    // --max-buffer well below the stream's length: reading follows delivery, so a SIGTERM after the first
    // 500 finds most of the stream unread (with the default 10,000 the source may hold all of it by then).
    const args = ['--source', source(stream), '--sink', collector.url, '--batch-size', '100', '--max-buffer', '1000'];
    const first = spawnCli([...args, '--stats']);
    const firstResult = collect(first);
    await waitFor(() => collector.seqs.length >= 500, 'a first part to be delivered');
    first.kill('SIGTERM');
    const r1 = await firstResult;
    expect(r1.code).toBe(143);
    const delivered = collector.seqs.length;
    expect(delivered).toBeLessThan(10_000);
    expect(statsOf(r1.stderr).redis?.acknowledged).toBe(delivered);
    expect(await pendingCount(admin, stream, 'g')).toBe(0);

    collector.delayMs = 0;
    const r2 = await runCli([...args, '--exit-when-idle', '200', '--stats']);
    expect(r2.code).toBe(0);
    expect([...collector.seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
    expect(await pendingCount(admin, stream, 'g')).toBe(0);
  } finally {
    await collector.close();
  }
}, 60_000);

test('SIGTERM with a sink that never answers: what was not delivered by --drain-timeout stays pending', async () => {
  const stream = 'sigterm-stuck';
  await fillStream(admin, stream, 50);
  await admin.xgroup('CREATE', stream, 'g', '0');
  const collector = await startCollector({ hang: true });
  try {
    const child = spawnCli(['--source', source(stream), '--sink', collector.url, '--drain-timeout', '200', '--stats']);
    const result = collect(child);
    await waitFor(async () => (await pendingCount(admin, stream, 'g')) === 50, 'all 50 entries to be read');
    child.kill('SIGTERM');
    const r = await result;
    expect(r.code).toBe(143);
    expect(collector.seqs).toEqual([]);
    expect(await pendingCount(admin, stream, 'g')).toBe(50);
    expect(statsOf(r.stderr).redis?.acknowledged).toBe(0);
  } finally {
    await collector.close();
  }
});

test('a drop strategy: dropped entries are acknowledged as dropped, delivered ones as delivered; nothing pending', async () => {
  const stream = 'drops';
  await fillStream(admin, stream, 3000);
  const collector = await startCollector({ delayMs: 20 });
  try {
    const result = await runCli([
      '--source',
      source(stream),
      '--sink',
      collector.url,
      '--strategy',
      'drop-newest',
      '--max-buffer',
      '100',
      '--batch-size',
      '50',
      '--exit-when-idle',
      '300',
      '--stats',
    ]);
    expect(result.code).toBe(0);
    const stats = statsOf(result.stderr);
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.flushed + stats.dropped).toBe(3000);
    expect(collector.seqs).toHaveLength(stats.flushed);
    expect(stats.redis?.acknowledged).toBe(3000);
    expect(await pendingCount(admin, stream, 'g')).toBe(0);
  } finally {
    await collector.close();
  }
});

test('--sink redis:// appends every record, in order, each in the data field', async () => {
  const result = await runCli(['--sink', `redis://127.0.0.1:${server.port}/written?maxLen=100000`], seqLines(500));
  expect(result.code).toBe(0);
  const entries = (await admin.xrange('written', '-', '+')) as [string, string[]][];
  expect(entries.map(([, fields]) => fields)).toEqual(
    seqLines(500)
      .trim()
      .split('\n')
      .map((l) => ['data', l]),
  );
});

test('credentials in a redis:// URL never reach stderr; a refused login fails the run at once (exit 1)', async () => {
  await fillStream(admin, 'secret', 1);
  const result = await runCli([
    '--source',
    `redis://someone:Sup3rSecretPw@127.0.0.1:${server.port}/secret?group=g`,
    '--sink',
    `redis://other:An0therSecret@127.0.0.1:${server.port}/secret-out`,
  ]);
  // Redis has no such user: retrying cannot help, so the run does not retry forever.
  expect(result.code).toBe(1);
  expect(result.stderr).toContain('WRONGPASS');
  expect(result.stderr).not.toMatch(/Sup3rSecretPw|An0therSecret|someone|other:/);
});

test('an entry delivered more than maxDeliveries times goes to --dead-letter as poison and is acknowledged', async () => {
  const stream = 'poison-cli';
  await fillStream(admin, stream, 3);
  await admin.xgroup('CREATE', stream, 'g', '0');
  // The first entry was delivered twice already (to a worker that crashed on it, twice).
  for (const from of ['>', '0']) await admin.xreadgroup('GROUP', 'g', 'c', 'COUNT', 1, 'STREAMS', stream, from);
  const out = join(temp.dir, 'poison.ndjson');
  const dead = join(temp.dir, 'poison.dead');
  const result = await runCli([
    '--source',
    source(stream, 'group=g&consumer=c&maxDeliveries=2'),
    '--sink',
    `file:${out}`,
    '--dead-letter',
    dead,
    '--exit-when-idle',
    '100',
    '--stats',
  ]);
  expect(result.code).toBe(1);
  expect(seqsOf(readFileSync(out, 'utf8'))).toEqual([1, 2]);
  expect(deadLetterLines(dead)).toEqual([
    expect.objectContaining({ reason: 'poison', raw: '{"seq":0}', error: expect.stringContaining('maxDeliveries') }),
  ]);
  expect(result.stderr).toContain('1 entries delivered more than maxDeliveries times, written to');
  expect(statsOf(result.stderr).redis).toMatchObject({ poison: 1 });
  expect(await pendingCount(admin, stream, 'g')).toBe(0);
});

test.each([
  [['--source', 'redis://127.0.0.1:6379/s'], /--source: .* needs a consumer group: \?group=NAME/],
  [['--source', 'redis://127.0.0.1:6379/?group=g'], /--source: .*names no stream/],
  [['--source', 'redis://127.0.0.1:6379/s?group=g&count=0'], /--source: parameter count must be an integer >= 1/],
  [['--source', 'redis://127.0.0.1:6379/s?group=g&blockMs=2147483648'], /parameter blockMs must be an integer from 1/],
  [['--source', 'redis://127.0.0.1:6379/s?group=g&grup=x'], /unknown parameter 'grup'/],
  [['--source', 'kafka://broker/topic'], /--source must be stdin or redis:\/\//],
  [['--exit-when-idle', '100'], /--exit-when-idle only applies to --source redis:\/\//],
  [
    ['--source', 'redis://127.0.0.1:6379/s?group=g', '--buffer-dir', '/tmp/bp-never-created'],
    /--buffer-dir applies to stdin input; a Redis stream already keeps undelivered entries pending/,
  ],
  [['--sink', 'redis://127.0.0.1:6379/s?maxLen=-1'], /--sink: parameter maxLen must be an integer >= 1/],
  [['--sink', 'redis://u:TopSecret1@127.0.0.1:6379'], /--sink: redis:\/\/\*\*\*@127\.0\.0\.1:6379 names no stream/],
])('usage error %j: one line, exit 2, nothing read', async (args, message) => {
  // In-process: a usage error is decided before anything is opened, connected or read.
  let stderr = '';
  const io = {
    stdin: new PassThrough(),
    stdout: new PassThrough(),
    stderr: Object.assign(new PassThrough(), { isTTY: false }),
  };
  io.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await main(args, io);
  expect(code).toBe(2);
  expect(stderr).toMatch(message);
  expect(stderr.trim().split('\n')).toHaveLength(1);
  expect(stderr).not.toContain('TopSecret1');
});

test('without ioredis installed, a redis:// source or sink is one line naming the install command, exit 1', async () => {
  setModuleLoaderForTests((id) => {
    throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
  });
  try {
    for (const args of [
      ['--source', 'redis://127.0.0.1:1/s?group=g'],
      ['--sink', 'redis://127.0.0.1:1/s'],
    ]) {
      let stderr = '';
      const io = { stdin: new PassThrough(), stdout: new PassThrough(), stderr: new PassThrough() };
      io.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      io.stdin.end();
      expect(await main(args, io)).toBe(1);
      expect(stderr).toBe(
        'backpressure: Redis Streams need the ioredis package, which is not installed: npm install ioredis\n',
      );
    }
  } finally {
    setModuleLoaderForTests(undefined);
  }
});
