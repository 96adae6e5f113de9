/**
 * Seeded adversarial runs against a real redis-server, checking by entry id the two promises that
 * make a Redis source safe: an entry is acknowledged (XACK sent) only once it was settled — flushed,
 * or taken by onDeadLetter — and every entry is settled in the end, however workers fail. Each life
 * of a worker meets random flush failures, partial failures, dead-lettering, a consumer name shared
 * with earlier lives or not, and may crash (its pipeline destroyed mid-run, nothing settled
 * acknowledged by anyone but itself). A failing seed is replayed with REDIS_FUZZ_SEED=….
 */
import { pipeline } from 'node:stream/promises';
import type Redis from 'ioredis';
import {
  BackpressureWritable,
  redisStreamSource,
  type FlushResult,
  type RedisClientLike,
  type RedisStreamEntry,
} from '../../lib';
import { mulberry32 } from '../helpers/seeded-random';
import { fillStream, pendingCount, startRedisServer, type RedisServer } from '../helpers/redis-server';

const ENTRIES = 600;
/** Fixed seeds for CI; REDIS_FUZZ_SEED replays one. */
const SEEDS = process.env['REDIS_FUZZ_SEED'] !== undefined ? [Number(process.env['REDIS_FUZZ_SEED'])] : [1, 2, 3];

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

/** `real`, recording every id an XACK carries at the moment it is sent. */
function recordingAcks(real: Redis, onAck: (ids: string[]) => void): RedisClientLike {
  const record = (cmd: string, args: unknown[]): void => {
    if (cmd === 'XACK') onAck(args.slice(2) as string[]);
  };
  return {
    call: (cmd, ...args) => {
      record(cmd, args);
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
      return {
        call(cmd, ...args) {
          record(cmd, args);
          inner.call(cmd, ...args);
        },
        exec: () => inner.exec(),
      };
    },
  };
}

test.each(SEEDS)(
  'seed %i: acknowledged only once settled, and every entry settled in the end',
  async (seed) => {
    const random = mulberry32(seed);
    const stream = `fuzz-${seed}`;
    await fillStream(admin, stream, ENTRIES);
    const settled = new Set<string>();
    const flushed = new Set<string>();
    const deadLettered = new Set<string>();
    const ackedUnsettled: string[] = [];
    const client = recordingAcks(server.client(), (ids) => {
      for (const id of ids) if (!settled.has(id)) ackedUnsettled.push(id);
    });

    for (let life = 0; life < 40 && settled.size < ENTRIES; life++) {
      const calm = life >= 30; // the last lives fail nothing, so that the run ends
      const source = redisStreamSource({
        client,
        stream,
        group: 'g',
        consumer: `w${Math.floor(random() * 3)}`,
        count: 1 + Math.floor(random() * 50),
        claimIdleMs: 50,
        maxDeliveries: Infinity,
        endWhenIdleMs: 150,
      });
      const crashAfter = !calm && random() < 0.4 ? 1 + Math.floor(random() * 5) : Infinity;
      let flushes = 0;
      const writable = new BackpressureWritable<Entry>({
        batchSize: 1 + Math.floor(random() * 40),
        retry: { retries: Math.floor(random() * 2), minDelayMs: 1, maxDelayMs: 5 },
        flush: async (batch): Promise<void | FlushResult<Entry>> => {
          if (++flushes > crashAfter) throw new Error('never reached: the worker crashed');
          const roll = calm ? 1 : random();
          if (roll < 0.15) throw new Error('sink down');
          const failedItems = roll < 0.3 ? batch.filter(() => random() < 0.5) : [];
          for (const e of batch) if (!failedItems.includes(e)) flushed.add(e.id);
          if (failedItems.length === 0) return undefined;
          return {
            success: batch.length - failedItems.length,
            failed: failedItems.length,
            errors: [new Error('part')],
            failedItems,
          };
        },
        onDeadLetter: (items) => {
          for (const e of items) deadLettered.add(e.id);
        },
        onSettled: (items, how) => {
          // Recorded before the source hears of it: its XACK can only come after.
          for (const e of items) settled.add(e.id);
          source.onSettled(items, how);
        },
      });
      writable.on('flush', () => {
        if (flushes >= crashAfter) writable.destroy(new Error('worker crashed'));
      });
      await pipeline(source, writable).catch(() => undefined);
      await source.close().catch(() => undefined);
    }

    expect(ackedUnsettled).toEqual([]);
    expect(settled.size).toBe(ENTRIES);
    for (const id of settled) expect(flushed.has(id) || deadLettered.has(id)).toBe(true);
    expect(await pendingCount(admin, stream, 'g')).toBe(0);
  },
  120_000,
);
