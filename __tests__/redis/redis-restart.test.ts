/**
 * Redis restarted under a running worker (killed, then started again on the same port, reloading
 * its append-only file): the worker's reads and acknowledgements fail while it is away, are
 * retried, and go on once it is back. Nothing is lost: every entry reaches the sink, and nothing
 * is left pending. (`npm test` builds dist/ first; run `npm run build` before running this file alone.)
 */
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

const ENTRIES = scenarioSize({ full: 30_000, ci: 12_000 });

let server: RedisServer;
let admin: Redis;

beforeAll(async () => {
  // Persistence on for this one (fsync on every write): a restart must not lose the stream itself.
  server = await startRedisServer({ appendOnly: true });
  admin = server.client();
});
afterAll(async () => {
  await server.stop();
});

test('Redis killed and restarted mid-run: the worker reconnects, goes on, and loses nothing', async () => {
  await fillStream(admin, 'jobs', ENTRIES);
  await admin.xgroup('CREATE', 'jobs', 'g', '0');
  const collector = await startCollector({ delayMs: 5 });
  try {
    const child = spawnCli([
      '--source',
      `redis://127.0.0.1:${server.port}/jobs?group=g&consumer=w&claimIdleMs=2000`,
      '--sink',
      collector.url,
      // A small buffer: the worker is still reading (not only acknowledging) when Redis goes away.
      '--max-buffer',
      '1000',
      '--exit-when-idle',
      '3000',
      '--stats',
    ]);
    const result = collect(child);
    await waitFor(() => collector.seqs.length >= ENTRIES / 6, 'a first part to be delivered', 90_000);
    const before = collector.seqs.length;
    // Down for a second: reconnection attempts are refused meanwhile; commands wait or fail and are retried.
    await server.restart(1000);
    const r = await result;

    expect(r.code).toBe(0);
    expect(before).toBeLessThan(ENTRIES); // the restart did happen mid-run
    const seen = new Set(collector.seqs);
    const missing: number[] = [];
    for (let seq = 0; seq < ENTRIES; seq++) if (!seen.has(seq)) missing.push(seq);
    expect(missing).toEqual([]);
    expect(statsOf(r.stderr).lost).toBe(0);
    expect(await pendingCount(admin, 'jobs', 'g')).toBe(0);
  } finally {
    await collector.close();
  }
}, 180_000);
