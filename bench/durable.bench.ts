/**
 * npm run bench:durable — durable mode against memory mode, in one run:
 *
 * 1. Library: items/s through pipeline(Readable.from(generator), BackpressureWritable) with the same
 *    no-op async sink, memory mode vs durable mode (sync 'batch', the default; sync 'none'; sync
 *    'always', with fewer items since each costs a disk flush). Interleaved rounds (M B N A M B N A …):
 *    each round's ratio to the memory run of the same round, min / median / max.
 * 2. CLI: 1M NDJSON lines → /dev/null with --buffer-dir (--sync batch) vs in memory, interleaved rounds
 *    (bench/cli-durable.bench.ts): in-memory time / durable time per round, min / median / max (target ≥ 0.5).
 * 3. Recovery: a backlog of about 1 GB (DURABLE_BENCH_BACKLOG_MB) left by an earlier process; a fresh
 *    process opens a durable writable on it and replays everything: time from `new` to the first item
 *    delivered (target < 1 s) and peak RSS during the replay (target < 150 MB).
 *
 * Environment: DURABLE_BENCH_ITEMS (100000), DURABLE_BENCH_ALWAYS_ITEMS (2000), DURABLE_BENCH_ROUNDS (7),
 * DURABLE_BENCH_CLI_LINES (1000000; 0 skips the CLI part; it needs `npm run build`), DURABLE_BENCH_CLI_ROUNDS (5),
 * DURABLE_BENCH_BACKLOG_MB (1024; 0 skips the recovery part), DURABLE_BENCH_DIR (the OS temp dir: put
 * it on the disk you care about — tmpfs makes fdatasync free).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Readable as CoreReadable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackpressureWritable, bytesCodec, type SyncMode } from '../lib';
import { SegmentLog } from '../lib/durable';
import { measureCliDurable } from './cli-durable.bench';
import { formatRate, machine, median } from './harness';

const ITEMS = Number(process.env['DURABLE_BENCH_ITEMS'] ?? 100_000);
const ALWAYS_ITEMS = Number(process.env['DURABLE_BENCH_ALWAYS_ITEMS'] ?? 2_000);
const ROUNDS = Number(process.env['DURABLE_BENCH_ROUNDS'] ?? 7);
const BACKLOG_MB = Number(process.env['DURABLE_BENCH_BACKLOG_MB'] ?? 1024);
const BASE = process.env['DURABLE_BENCH_DIR'] ?? tmpdir();
const CLI_LINES = Number(process.env['DURABLE_BENCH_CLI_LINES'] ?? 1_000_000);
const CLI_ROUNDS = Number(process.env['DURABLE_BENCH_CLI_ROUNDS'] ?? 5);
const PAD = 'x'.repeat(80); // items of about 100 bytes as JSON

interface Item {
  id: number;
  p: string;
}

function* items(n: number): Generator<Item> {
  for (let i = 0; i < n; i++) yield { id: i, p: PAD };
}

/** The same items as lines of bytes (what the CLI moves): no JSON on the way through. */
function* lines(n: number): Generator<Buffer> {
  for (let i = 0; i < n; i++) yield Buffer.from(`{"id":${i},"p":"${PAD}"}`);
}

async function run(n: number, sync: SyncMode | undefined, bytes = false): Promise<number> {
  const dir = sync === undefined ? undefined : mkdtempSync(join(BASE, 'durable-bench-'));
  let delivered = 0;
  const flush = async (batch: unknown[]): Promise<void> => {
    delivered += batch.length;
  };
  const durable = dir === undefined || sync === undefined ? undefined : { dir, sync };
  const sink = bytes
    ? new BackpressureWritable<Uint8Array>({ flush, ...(durable && { durable: { ...durable, codec: bytesCodec } }) })
    : new BackpressureWritable<Item>({ flush, ...(durable && { durable }) });
  const start = process.hrtime.bigint();
  await pipeline(CoreReadable.from(bytes ? lines(n) : items(n)), sink);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  if (delivered !== n) throw new Error(`lost items: ${delivered} of ${n}`);
  return n / seconds;
}

function ratios(ours: number[], base: number[]): string {
  const r = ours.map((rate, i) => rate / (base[i] as number)).sort((a, b) => a - b);
  return `${(r[0] as number).toFixed(2)} / ${median(r).toFixed(2)} / ${(r[r.length - 1] as number).toFixed(2)}`;
}

async function library(): Promise<void> {
  console.log(
    `## Library: ${ITEMS.toLocaleString('en-US')} items of ~100 B (${ALWAYS_ITEMS.toLocaleString('en-US')} for sync 'always'), ` +
      `no-op async sink, default options, ${ROUNDS} interleaved rounds`,
  );
  // Each durable candidate is compared with the memory candidate of its kind (objects, or bytes) in the same round.
  const candidates: Array<{ name: string; base: number; run: () => Promise<number> }> = [
    { name: 'memory, objects', base: 0, run: () => run(ITEMS, undefined) },
    { name: "durable, sync 'batch', objects (JSON)", base: 0, run: () => run(ITEMS, 'batch') },
    { name: "durable, sync 'none', objects (JSON)", base: 0, run: () => run(ITEMS, 'none') },
    { name: "durable, sync 'always', objects (JSON)", base: 0, run: () => run(ALWAYS_ITEMS, 'always') },
    { name: 'memory, Buffers', base: 4, run: () => run(ITEMS, undefined, true) },
    { name: "durable, sync 'batch', Buffers (bytesCodec)", base: 4, run: () => run(ITEMS, 'batch', true) },
  ];
  for (const c of candidates) await c.run(); // warm-up
  const rates = candidates.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, c] of candidates.entries()) {
      if (global.gc) global.gc();
      rates[i]?.push(await c.run());
    }
  }
  console.log('| candidate | median | × memory of its kind (min / median / max) |');
  console.log('|---|---:|---:|');
  for (const [i, c] of candidates.entries()) {
    const mine = rates[i] as number[];
    const base = rates[c.base] as number[];
    console.log(`| ${c.name} | ${formatRate(median(mine))} | ${i === c.base ? '1.00' : ratios(mine, base)} |`);
  }
}

// ------------------------------------------------------------------------------------------------ CLI
// 1M NDJSON lines → /dev/null through the built CLI, `--buffer-dir DIR --sync batch` vs in memory,
// interleaved rounds, ratio min / median / max (target ≥ 0.5). The measurement itself is
// bench/cli-durable.bench.ts (also `npm run bench:cli-durable` on its own).
async function cli(): Promise<void> {
  if (CLI_LINES <= 0) return;
  console.log('## CLI: --buffer-dir vs in memory');
  await measureCliDurable({ lines: CLI_LINES, runs: CLI_ROUNDS, bufferParent: BASE });
}
// ------------------------------------------------------------------------------------------ end of CLI

/** Writes a backlog of about `mb` MB of ~200-byte JSON records into `dir`, as a durable writable would have. */
async function buildBacklog(dir: string, mb: number): Promise<number> {
  const log = await SegmentLog.open({ dir, sync: 'none', maxBytes: 4 * 1024 ** 3, segmentBytes: 64 * 1024 ** 2 });
  const pad = 'y'.repeat(170);
  let records = 0;
  while (log.usedBytes < mb * 1024 * 1024) {
    for (let i = 0; i < 10_000; i++) log.append(Buffer.from(JSON.stringify({ id: records++, p: pad })));
    await log.flush();
  }
  await log.close();
  return records;
}

function recovery(): void {
  if (BACKLOG_MB <= 0) return;
  const dir = mkdtempSync(join(BASE, 'durable-backlog-'));
  try {
    // The backlog is built and replayed in child processes of their own: RSS is the replaying process's alone.
    const built = spawnSync(process.execPath, [__filename, '--build', dir, String(BACKLOG_MB)], { encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`building the backlog failed: ${built.stderr}`);
    const records = Number(built.stdout.trim());
    const replay = spawnSync(process.execPath, [__filename, '--replay', dir, String(records)], { encoding: 'utf8' });
    if (replay.status !== 0) throw new Error(`the replay failed: ${replay.stderr}`);
    const r = JSON.parse(replay.stdout) as { firstMs: number; totalMs: number; peakRssMb: number; baseRssMb: number };
    console.log(
      `## Recovery: a backlog of ${BACKLOG_MB} MB (${records.toLocaleString('en-US')} records of ~200 B) left on disk`,
    );
    console.log(
      `time from new BackpressureWritable() to the first item in flush: ${r.firstMs.toFixed(0)} ms (target < 1000 ms)`,
    );
    console.log(
      `peak RSS during the whole replay: ${r.peakRssMb.toFixed(0)} MB (target < 150 MB; ${r.baseRssMb.toFixed(0)} MB before opening)`,
    );
    console.log(
      `whole replay: ${(r.totalMs / 1000).toFixed(1)} s, ${formatRate((records / r.totalMs) * 1000)} delivered and acknowledged`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** In the replay child: opens a durable writable on the backlog, delivers everything, reports times and RSS. */
async function replayChild(dir: string, records: number): Promise<void> {
  const baseRss = process.memoryUsage.rss();
  let peak = baseRss;
  const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 5);
  const start = process.hrtime.bigint();
  let first = -1;
  let delivered = 0;
  const w = new BackpressureWritable<unknown>({
    durable: { dir, maxBytes: 4 * 1024 ** 3 },
    flush: async (batch) => {
      if (first < 0) first = Number(process.hrtime.bigint() - start) / 1e6;
      delivered += batch.length;
    },
  });
  await new Promise<void>((resolve, reject) => {
    w.on('finish', resolve).on('error', reject);
    w.end();
  });
  const totalMs = Number(process.hrtime.bigint() - start) / 1e6;
  clearInterval(sample);
  peak = Math.max(peak, process.memoryUsage.rss());
  if (delivered !== records) throw new Error(`replayed ${delivered} of ${records}`);
  const mb = (bytes: number): number => bytes / 1024 / 1024;
  process.stdout.write(JSON.stringify({ firstMs: first, totalMs, peakRssMb: mb(peak), baseRssMb: mb(baseRss) }));
}

async function main(): Promise<void> {
  const [mode, dir, n] = process.argv.slice(2);
  if (mode === '--build') {
    process.stdout.write(String(await buildBacklog(dir as string, Number(n))));
    return;
  }
  if (mode === '--replay') {
    await replayChild(dir as string, Number(n));
    return;
  }
  console.log(`# durable benchmark — ${machine()}; directories under ${BASE}`);
  await library();
  await cli();
  recovery();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
