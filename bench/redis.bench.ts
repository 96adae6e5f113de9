/**
 * npm run bench:redis — issue 14's figures, against a redis-server this script starts (a free port
 * on 127.0.0.1, persistence off, a temp dir):
 * 1. entries/s of one worker — redisStreamSource → BackpressureWritable with an instant flush,
 *    acknowledging through onSettled — vs a plain XREADGROUP + XACK loop on the same ioredis
 *    client with the same batch size, interleaved rounds, each on a fresh stream of the same
 *    entries (filling it is not timed); ratio target ≥ 0.8. Both are timed until every entry is
 *    delivered and its acknowledgement confirmed.
 * 2. scaling: 1, 2 and 3 CLI workers (`--source redis://… --sink file:/dev/null`) in one group
 *    over one stream, timed from spawn until the group has read and acknowledged everything.
 * BENCH_ENTRIES (50000), BENCH_ROUNDS (7), BENCH_SCALE_ENTRIES (200000), BENCH_SCALE_ROUNDS (3).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import Redis from 'ioredis';
import { BackpressureWritable, redisStreamSource, type RedisStreamEntry } from '../lib';
import { formatRate, machine, median } from './harness';

const ENTRIES = Number(process.env['BENCH_ENTRIES'] ?? 50_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);
const SCALE_ENTRIES = Number(process.env['BENCH_SCALE_ENTRIES'] ?? 200_000);
const SCALE_ROUNDS = Number(process.env['BENCH_SCALE_ROUNDS'] ?? 3);
const BATCH = 100;
const CLI = join(__dirname, '..', '..', 'dist', 'cli', 'main.js');

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject()));
    });
  });
}

async function startRedis(): Promise<{ port: number; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'bp-bench-redis-'));
  const port = await freePort();
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 50 });
  probe.on('error', () => undefined);
  for (let i = 0; i < 200; i++) {
    try {
      await probe.connect();
      if ((await probe.ping()) === 'PONG') break;
    } catch {
      await sleep(50);
    }
  }
  probe.disconnect();
  return {
    port,
    stop: () => {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh stream of `count` entries `{"seq":i}` and its group, filled server-side (not timed). */
async function prepare(redis: Redis, stream: string, count: number): Promise<void> {
  const script =
    "for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do redis.call('XADD', KEYS[1], '*', 'data', '{\"seq\":' .. i .. '}') end";
  for (let start = 0; start < count; start += 50_000)
    await redis.eval(script, 1, stream, start, Math.min(start + 50_000, count) - 1);
  await redis.xgroup('CREATE', stream, 'g', '0');
}

/**
 * One worker of this package: source → writable with an instant flush, acknowledging on settlement.
 * It stops reading once it has delivered every entry (the plain loop stops at its first empty read):
 * waiting for an empty read here would time a blocking XREADGROUP's timeout, which Redis measures in
 * ticks of 100 ms (hz 10), not the worker.
 */
async function ourWorker(client: Redis, stream: string): Promise<number> {
  const source = redisStreamSource({ client, stream, group: 'g', consumer: 'w', count: BATCH });
  let delivered = 0;
  await pipeline(
    source,
    new BackpressureWritable<RedisStreamEntry>({
      batchSize: BATCH,
      flush: async (batch) => {
        delivered += batch.length;
        if (delivered === ENTRIES) source.stop();
      },
      onSettled: source.onSettled,
    }),
  );
  await source.close(); // every acknowledgement confirmed
  return delivered;
}

/**
 * The plain loop a worker is hand-rolled as: XREADGROUP COUNT n, the entries as `{ id, fields }`
 * objects (what the source hands out: the same decoding), the batch to the same instant sink, then
 * XACK those ids — until the stream has nothing new.
 */
async function plainLoop(client: Redis, stream: string): Promise<number> {
  let delivered = 0;
  const sink = async (batch: { id: string; fields: Record<string, string> }[]): Promise<void> => {
    delivered += batch.length;
  };
  for (;;) {
    const reply = (await client.callBuffer('XREADGROUP', 'GROUP', 'g', 'w', 'COUNT', BATCH, 'STREAMS', stream, '>')) as
      unknown[] | null;
    // ioredis 6 (RESP3) hands the one stream's map as [name, entries].
    const raw = (Array.isArray(reply) ? reply[1] : undefined) as [Buffer, Buffer[]][] | undefined;
    if (raw === undefined || raw.length === 0) return delivered;
    const batch = raw.map(([id, list]) => {
      const fields: Record<string, string> = {};
      for (let i = 0; i + 1 < list.length; i += 2) fields[String(list[i])] = String(list[i + 1]);
      return { id: id.toString(), fields };
    });
    await sink(batch);
    await client.call('XACK', stream, 'g', ...batch.map((e) => e.id));
  }
}

function spread(values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return `min ${(sorted[0] ?? 0).toFixed(2)} / median ${median(sorted).toFixed(2)} / max ${(sorted[sorted.length - 1] ?? 0).toFixed(2)}`;
}

async function oneWorkerVersusPlainLoop(port: number, admin: Redis): Promise<void> {
  const client = new Redis({ port, host: '127.0.0.1' });
  const rates = { ours: [] as number[], plain: [] as number[] };
  const cpu = { ours: [] as number[], plain: [] as number[] };
  const ratios: number[] = [];
  for (let round = -1; round < ROUNDS; round++) {
    const perRound: Record<'ours' | 'plain', number> = { ours: 0, plain: 0 };
    const cpuPerEntry: Record<'ours' | 'plain', number> = { ours: 0, plain: 0 };
    // Alternate which goes first, so that neither always runs on a warmer server.
    const order: ('ours' | 'plain')[] = round % 2 === 0 ? ['ours', 'plain'] : ['plain', 'ours'];
    for (const which of order) {
      const stream = `r${round}-${which}`;
      await prepare(admin, stream, ENTRIES);
      if (global.gc) global.gc();
      const start = process.hrtime.bigint();
      const cpuStart = process.cpuUsage();
      const n = which === 'ours' ? await ourWorker(client, stream) : await plainLoop(client, stream);
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      const used = process.cpuUsage(cpuStart);
      cpuPerEntry[which] = (used.user + used.system) / n;
      if (n !== ENTRIES) throw new Error(`${which}: ${n} of ${ENTRIES} entries`);
      perRound[which] = n / seconds;
      await admin.del(stream);
    }
    if (round < 0) continue; // warm-up
    rates.ours.push(perRound.ours);
    rates.plain.push(perRound.plain);
    cpu.ours.push(cpuPerEntry.ours);
    cpu.plain.push(cpuPerEntry.plain);
    ratios.push(perRound.ours / perRound.plain);
  }
  client.disconnect();
  console.log(
    `one worker (redisStreamSource → BackpressureWritable, batch ${BATCH}): ${formatRate(median(rates.ours))}`,
  );
  console.log(`plain XREADGROUP COUNT ${BATCH} + XACK loop, same client:      ${formatRate(median(rates.plain))}`);
  console.log(`ratio worker / plain loop, per round: ${spread(ratios)} (target >= 0.80)`);
  // CPU per entry of this process: what the worker's machinery costs, whatever else runs on the machine.
  console.log(
    `CPU per entry (this process): worker ${median(cpu.ours).toFixed(1)} µs, plain loop ${median(cpu.plain).toFixed(1)} µs`,
  );
}

/** k CLI workers in one group: entries/s from spawn until the group has read and acknowledged all. */
async function scaling(port: number, admin: Redis): Promise<void> {
  const base: number[] = [];
  for (const workers of [1, 2, 3]) {
    const rates: number[] = [];
    for (let round = 0; round < SCALE_ROUNDS; round++) {
      const stream = `scale-${workers}-${round}`;
      await prepare(admin, stream, SCALE_ENTRIES);
      const start = process.hrtime.bigint();
      const children = Array.from({ length: workers }, (_, i) =>
        spawn(
          process.execPath,
          [
            CLI,
            '--source',
            `redis://127.0.0.1:${port}/${stream}?group=g&consumer=w${i}`,
            '--sink',
            'file:/dev/null',
            '--exit-when-idle',
            '60000',
          ],
          { stdio: 'ignore' },
        ),
      );
      for (;;) {
        const groups = (await admin.xinfo('GROUPS', stream)) as unknown[][];
        const info = groups[0] ?? [];
        const field = (name: string): unknown => info[info.indexOf(name) + 1];
        if (Number(field('entries-read')) >= SCALE_ENTRIES && Number(field('pending')) === 0) break;
        await sleep(10);
      }
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      await Promise.all(
        children.map(
          (child) =>
            new Promise((resolve) => {
              child.once('exit', resolve);
              child.kill('SIGTERM');
            }),
        ),
      );
      rates.push(SCALE_ENTRIES / seconds);
      await admin.del(stream);
    }
    const rate = median(rates);
    base.push(rate);
    console.log(
      `${workers} CLI worker(s): ${formatRate(rate)} (×${(rate / (base[0] ?? rate)).toFixed(2)} of one worker)`,
    );
  }
}

async function main(): Promise<void> {
  console.log(
    `# Redis Streams benchmark: ${ENTRIES.toLocaleString('en-US')} entries × ${ROUNDS} interleaved rounds; scaling over ${SCALE_ENTRIES.toLocaleString('en-US')} entries × ${SCALE_ROUNDS}`,
  );
  console.log(`# ${machine()}`);
  const server = await startRedis();
  const admin = new Redis({ port: server.port, host: '127.0.0.1' });
  try {
    await oneWorkerVersusPlainLoop(server.port, admin);
    await scaling(server.port, admin);
  } finally {
    admin.disconnect();
    server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
