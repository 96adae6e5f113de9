/**
 * Reading follows the sink: with a million entries waiting (300k in CI) in the stream and a slow sink, a CLI
 * worker reads only as fast as the sink takes. Its RSS stays flat and the group's pending list
 * (read, not yet acknowledged) stays within what its buffers can hold, however much is waiting.
 * (`npm test` builds dist/ first; run `npm run build` before running this file alone.)
 */
import { readFileSync } from 'node:fs';
import type Redis from 'ioredis';
import { collect, spawnCli, statsOf } from '../helpers/cli';
import { startCollector } from '../helpers/collector';
import {
  fillStream,
  pendingCount,
  scenarioSize,
  startRedisServer,
  waitFor,
  type RedisServer,
} from '../helpers/redis-server';

/** A million waiting, as the issue asks (`npm run test:redis-scenarios`); CI fills 300k on every push. */
const ENTRIES = scenarioSize({ full: 1_000_000, ci: 300_000 });
/** Delivered before the worker is stopped: the measurement window. */
const DELIVERED = scenarioSize({ full: 30_000, ci: 15_000 });
const MAX_BUFFER = 1000;
const BATCH = 100;
/**
 * What a worker can hold read and unacknowledged: the stream's buffer and its batch in flight
 * (MAX_BUFFER + BATCH), the source's readable (2 × count) and one read in progress (count), the
 * record checker's two sides (2 × 16), acknowledgements on their way: a few hundred more. 2000 is
 * far below what an unbounded reader would hold within a second.
 */
const PENDING_BOUND = 2000;
/** RSS growth allowed after warm-up: GC noise, not a million entries (which would be hundreds of MB). */
const RSS_GROWTH_BOUND = 48 * 1024 * 1024;

let server: RedisServer;
let admin: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  admin = server.client();
});
afterAll(async () => {
  await server.stop();
});

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kb) * 1024;
}

test(`a slow sink under a ${ENTRIES / 1000}k-entry stream: flat RSS, a bounded pending list, everything read is acknowledged`, async () => {
  await fillStream(admin, 'big', ENTRIES);
  await admin.xgroup('CREATE', 'big', 'g', '0');
  const collector = await startCollector({ delayMs: 10 });
  try {
    const child = spawnCli([
      '--source',
      `redis://127.0.0.1:${server.port}/big?group=g&consumer=slow`,
      '--sink',
      collector.url,
      '--max-buffer',
      String(MAX_BUFFER),
      '--batch-size',
      String(BATCH),
      '--stats',
    ]);
    const result = collect(child);
    const pid = child.pid as number;

    await waitFor(() => collector.seqs.length >= 5_000, 'a warm-up of 5k delivered entries', 90_000);
    const baseline = rssOf(pid);
    let maxRss = baseline;
    let maxPending = 0;
    while (collector.seqs.length < DELIVERED) {
      maxRss = Math.max(maxRss, rssOf(pid));
      maxPending = Math.max(maxPending, await pendingCount(admin, 'big', 'g'));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const deliveredAtStop = collector.seqs.length;
    child.kill('SIGTERM');
    const r = await result;

    expect(r.code).toBe(143);
    expect(maxPending).toBeLessThanOrEqual(PENDING_BOUND);
    expect(maxRss - baseline).toBeLessThan(RSS_GROWTH_BOUND);
    // It read what it delivered, not the stream: the rest is still there for other workers.
    const stats = statsOf(r.stderr);
    expect(stats.read).toBeLessThanOrEqual(deliveredAtStop + PENDING_BOUND);
    expect(stats.redis?.acknowledged).toBe(stats.flushed);
    expect(collector.seqs).toHaveLength(stats.flushed);
    expect(await pendingCount(admin, 'big', 'g')).toBe(0);
  } finally {
    await collector.close();
  }
}, 180_000);
