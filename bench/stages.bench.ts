/**
 * npm run bench (after core.bench) — issue 3's figure: items/s through
 *   pipeline(source, dropOldest(), BackpressureWritable)          (ours: a stage on its own)
 *   pipeline(source, backpressure({ strategy: 'drop-oldest' }))   (ours: the composition)
 * vs
 *   pipeline(source, core PassThrough, core Writable with _writev) (baseline)
 * both with the same source and an instant sink, interleaved in one process, median of ROUNDS runs
 * each; target ratio ours / baseline ≥ 1.0. The sink keeps up, so the stage drops nothing (checked):
 * the figure is the cost of the stage on the pass-through path, the path every item takes whenever
 * the sink is not behind, and it counts delivered items only.
 *
 * The source yields to the event loop after every CHUNK items, as I/O sources do (a socket or file
 * chunk of NDJSON holds hundreds of records). It cannot be `Readable.from(syncGenerator)`: that
 * source pushes synchronously for as long as its consumer accepts, and a stage that never blocks
 * always accepts, so the whole input would go by before the writable's flush (a promise) could
 * settle once: drop-oldest would, correctly, keep the newest `capacity` and drop the rest.
 */
import { PassThrough as CorePassThrough, Readable as CoreReadable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { backpressure } from '../lib/compose/backpressure';
import { BackpressureWritable } from '../lib/core/backpressure-writable';
import { dropOldest } from '../lib/stages';
import { formatRate, formatSpread, machine, measureInterleaved, countingCoreWritable, roundRatios } from './harness';

const N = Number(process.env['BENCH_ITEMS'] ?? 1_000_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);

const CHUNK = Number(process.env['BENCH_CHUNK'] ?? 1000);

/** N items, CHUNK of them per macrotask, like records parsed from successive I/O chunks. */
function source(n: number): CoreReadable {
  let next = 0;
  let scheduled = false;
  const readable = new CoreReadable({
    objectMode: true,
    highWaterMark: CHUNK,
    read() {
      if (scheduled) return;
      scheduled = true;
      setImmediate(emitChunk);
    },
  });
  function emitChunk(): void {
    scheduled = false;
    const end = Math.min(n, next + CHUNK);
    while (next < end) readable.push({ id: next++ });
    if (next >= n) readable.push(null);
  }
  return readable;
}

let stageDrops = 0;

async function throughDropOldest(): Promise<number> {
  let delivered = 0;
  const stage = dropOldest<{ id: number }>();
  const sink = new BackpressureWritable<{ id: number }>({
    batchSize: 1000,
    flush: async (batch) => {
      delivered += batch.length;
    },
  });
  await pipeline(source(N), stage, sink);
  const m = stage.getMetrics();
  if (delivered + m.dropped !== N)
    throw new Error(`unaccounted items: ${delivered} delivered + ${m.dropped} dropped of ${N}`);
  stageDrops += m.dropped;
  return delivered;
}

async function throughComposition(): Promise<number> {
  let delivered = 0;
  const output = backpressure<{ id: number }>({
    strategy: 'drop-oldest',
    batchSize: 1000,
    flush: async (batch) => {
      delivered += batch.length;
    },
  });
  await pipeline(source(N), output);
  const m = output.getMetrics();
  if (delivered + m.eventsDropped !== N)
    throw new Error(`unaccounted items: ${delivered} delivered + ${m.eventsDropped} dropped of ${N}`);
  stageDrops += m.eventsDropped;
  return delivered;
}

async function throughCorePassThrough(): Promise<number> {
  const { sink, delivered } = countingCoreWritable();
  await pipeline(source(N), new CorePassThrough({ objectMode: true }), sink);
  if (delivered() !== N) throw new Error(`lost items: ${delivered()} of ${N}`);
  return delivered();
}

async function main(): Promise<void> {
  console.log(
    `# stages benchmark: ${N.toLocaleString('en-US')} items in chunks of ${CHUNK} × ${ROUNDS} interleaved rounds (median)`,
  );
  console.log(`# ${machine()}`);
  const [ours, composed, core] = await measureInterleaved(
    [
      { name: 'dropOldest() → BackpressureWritable (batchSize 1000, no-op async flush)', run: throughDropOldest },
      {
        name: "backpressure({ strategy: 'drop-oldest' }) (batchSize 1000, no-op async flush)",
        run: throughComposition,
      },
      { name: 'core PassThrough → core Writable with _writev', run: throughCorePassThrough },
    ],
    ROUNDS,
  );
  if (ours === undefined || composed === undefined || core === undefined) throw new Error('unreachable');
  console.log(`${ours.name}: ${formatRate(ours.median)}`);
  console.log(`${composed.name}: ${formatRate(composed.median)}`);
  console.log(`${core.name}: ${formatRate(core.median)}`);
  console.log(
    `ratio dropOldest pipeline / core PassThrough pipeline per round, min / median / max: ${formatSpread(roundRatios(ours, core))} (target >= 1.00)`,
  );
  console.log(
    `ratio drop-oldest composition / core PassThrough pipeline per round, min / median / max: ${formatSpread(roundRatios(composed, core))} (target >= 1.00)`,
  );
  console.log(`items dropped by the stage over all runs: ${stageDrops} (expected 0: the sink keeps up)`);
  if (stageDrops > 0) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
