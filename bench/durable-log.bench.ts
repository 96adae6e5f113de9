/**
 * Append throughput of the durable log (lib/durable) per sync mode, against two baselines,
 * interleaved in one process (A B C … A B C …) so machine noise hits all alike; medians and ratios.
 *
 *   npm run bench:durable-log
 *   (= npm run build && tsc -p tsconfig.bench.json && node --expose-gc build/bench/durable-log.bench.js)
 *
 * Candidates, each appending DURABLE_BENCH_RECORDS records of DURABLE_BENCH_BYTES bytes:
 * - array push: the records pushed onto an in-memory array (what an in-memory buffer costs);
 * - fs.writeSync loop: each record written to a file with its own write(2), never synced
 *   (the cheapest "on disk" a program can be without batching);
 * - SegmentLog sync 'none' / 'batch': records appended in bursts of DURABLE_BENCH_BURST, the producer
 *   awaiting flush() after each burst (what a stream's write callbacks amount to): one write (+ one
 *   fdatasync for 'batch') per burst;
 * - SegmentLog sync 'always': one fdatasync per record; DURABLE_BENCH_ALWAYS_RECORDS of them, since
 *   each costs a disk flush.
 * Each log run opens a fresh directory (under DURABLE_BENCH_DIR, default the OS temp dir — put it on
 * the disk you care about: tmpfs makes fdatasync free) and closes it; open and close are timed too.
 */
import { mkdtempSync, closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SegmentLog, type SyncMode } from '../lib/durable';
import { formatRate, machine, measureInterleaved, type Measurement } from './harness';

const RECORDS = Number(process.env['DURABLE_BENCH_RECORDS'] ?? 200_000);
const ALWAYS_RECORDS = Number(process.env['DURABLE_BENCH_ALWAYS_RECORDS'] ?? 1_000);
const BYTES = Number(process.env['DURABLE_BENCH_BYTES'] ?? 100);
const BURST = Number(process.env['DURABLE_BENCH_BURST'] ?? 1_000);
const ROUNDS = Number(process.env['DURABLE_BENCH_ROUNDS'] ?? 7);
const BASE = process.env['DURABLE_BENCH_DIR'] ?? tmpdir();

const record = Buffer.alloc(BYTES, 'x');

function freshDir(): string {
  return mkdtempSync(join(BASE, 'durable-bench-'));
}

async function arrayPush(): Promise<number> {
  const held: Buffer[] = [];
  for (let i = 0; i < RECORDS; i++) held.push(record);
  if (held.length !== RECORDS) throw new Error('unreachable');
  return RECORDS;
}

async function writeSyncLoop(): Promise<number> {
  const dir = freshDir();
  const fd = openSync(join(dir, 'records'), 'w');
  try {
    for (let i = 0; i < RECORDS; i++) writeSync(fd, record);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  return RECORDS;
}

async function segmentLog(sync: SyncMode, records: number): Promise<number> {
  const dir = freshDir();
  const log = await SegmentLog.open({ dir, sync, maxBytes: 4 * 1024 * 1024 * 1024, segmentBytes: 64 * 1024 * 1024 });
  try {
    for (let done = 0; done < records;) {
      const burst = Math.min(sync === 'always' ? 1 : BURST, records - done);
      for (let i = 0; i < burst; i++) log.append(record);
      done += burst;
      await log.flush();
    }
    if (log.stats().durableSeq !== records) throw new Error(`only ${log.stats().durableSeq} of ${records} durable`);
  } finally {
    await log.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return records;
}

function row(m: Measurement, vsArray: number, vsWrite: number): string {
  return `${m.name.padEnd(34)} ${formatRate(m.median).padStart(22)}   ${(m.median / vsArray).toPrecision(3).padStart(8)}× array   ${(m.median / vsWrite).toPrecision(3).padStart(8)}× writeSync`;
}

async function main(): Promise<void> {
  console.log(
    `# durable log append benchmark: ${RECORDS.toLocaleString('en-US')} records of ${BYTES} B (sync 'always': ${ALWAYS_RECORDS}), bursts of ${BURST}, ${ROUNDS} interleaved rounds (median)`,
  );
  console.log(`# ${machine()}; log directories under ${BASE}`);
  const results = await measureInterleaved(
    [
      { name: 'array push (in memory)', run: arrayPush },
      { name: 'fs.writeSync per record (no sync)', run: writeSyncLoop },
      { name: "SegmentLog sync 'none'", run: () => segmentLog('none', RECORDS) },
      { name: "SegmentLog sync 'batch'", run: () => segmentLog('batch', RECORDS) },
      { name: "SegmentLog sync 'always'", run: () => segmentLog('always', ALWAYS_RECORDS) },
    ],
    ROUNDS,
  );
  const [array, write] = results;
  if (array === undefined || write === undefined) throw new Error('unreachable');
  for (const m of results) console.log(row(m, array.median, write.median));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
