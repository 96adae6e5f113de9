/**
 * npm run bench (after core.bench) — the library against what users write by hand, same producer:
 *
 *   for (const item of items) if (!sink.write(item)) await once(sink, 'drain');
 *
 * into, interleaved in one process:
 *   - BackpressureWritable, batchSize 500, concurrency 4 (and 1, the default), instant async flush;
 *   - a hand-written window: batches of 500, at most 4 in flight, write() false while a full batch
 *     waits for a slot, 'drain' when it got one (bench/hand-window.ts: what one writes in 40 lines);
 *   - a core Writable with `writev` (highWaterMark 500: Node's own batching).
 * Then the same with a sink that takes 2 ms per batch (a local database or a queue), where the
 * number of batches in flight, not per-item cost, sets the pace: the figure behind the default
 * `concurrency`.
 *
 * Ratios are per round (each round runs every candidate back to back), min / median / max.
 * BENCH_ITEMS (5,000,000), BENCH_SLOW_ITEMS (200,000), BENCH_ROUNDS (9).
 */
import { once } from 'node:events';
import { Writable as CoreWritable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { BackpressureWritable } from '../lib';
import { HandWindow } from './hand-window';
import { formatRate, formatSpread, machine, measureInterleaved, roundRatios, type Measurement } from './harness';

const N = Number(process.env['BENCH_ITEMS'] ?? 5_000_000);
const SLOW_N = Number(process.env['BENCH_SLOW_ITEMS'] ?? 200_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 9);
const BATCH = 500;
const SLOW_MS = 2;

interface Item {
  id: number;
}

interface Sink {
  write(item: Item): boolean;
  once(event: 'drain', listener: () => void): unknown;
}

type Produce = (sink: Sink & NodeJS.EventEmitter, n: number) => Promise<void>;

/**
 * The one producer loop every candidate gets — write, and await 'drain' when told to — compiled
 * once per candidate: a loop shared by all of them would see three sink classes at its
 * `sink.write()` call and be optimised for none, where a user's loop writes to one sink class
 * (and V8 may inline its write() into the loop, for every candidate alike).
 */
function producer(): Produce {
  return new Function(
    'once',
    `return async function produce(sink, n) {
      for (let i = 0; i < n; i++) if (!sink.write({ id: i })) await once(sink, 'drain');
    };`,
  )(once) as Produce;
}

const produceLibrary4 = producer();
const produceLibrary1 = producer();
const produceHand = producer();
const produceCore = producer();

type Flush = (batch: readonly Item[]) => Promise<void>;

function instant(count: (n: number) => void): Flush {
  return async (batch) => {
    count(batch.length);
  };
}

function slow(count: (n: number) => void): Flush {
  return (batch) =>
    new Promise((resolve) =>
      setTimeout(() => {
        count(batch.length);
        resolve();
      }, SLOW_MS),
    );
}

function check(delivered: number, n: number): number {
  if (delivered !== n) throw new Error(`lost items: ${delivered} of ${n}`);
  return n;
}

async function library(n: number, concurrency: number, sink: (count: (n: number) => void) => Flush): Promise<number> {
  const produce = concurrency === 1 ? produceLibrary1 : produceLibrary4;
  let delivered = 0;
  const w = new BackpressureWritable<Item>({
    batchSize: BATCH,
    concurrency,
    flush: sink((k) => (delivered += k)),
  });
  await produce(w, n);
  w.end();
  await finished(w);
  return check(delivered, n);
}

async function handWindow(n: number, sink: (count: (n: number) => void) => Flush): Promise<number> {
  let delivered = 0;
  const w = new HandWindow<Item>(
    BATCH,
    4,
    sink((k) => (delivered += k)),
  );
  await produceHand(w, n);
  await w.end();
  return check(delivered, n);
}

async function coreWritev(n: number, sink: (count: (n: number) => void) => Flush): Promise<number> {
  let delivered = 0;
  const flush = sink((k) => (delivered += k));
  const w = new CoreWritable({
    objectMode: true,
    highWaterMark: BATCH,
    write(chunk: Item, _enc, cb) {
      flush([chunk]).then(() => cb(), cb);
    },
    writev(chunks, cb) {
      flush(chunks.map((c) => c.chunk as Item)).then(() => cb(), cb);
    },
  });
  await produceCore(w, n);
  w.end();
  await finished(w);
  return check(delivered, n);
}

function report(ours: Measurement, base: Measurement, target: string): void {
  console.log(
    `  ratio ${ours.name} / ${base.name}: ${formatSpread(roundRatios(ours, base))} (min / median / max over ${ours.runs.length} rounds)${target}`,
  );
}

async function main(): Promise<void> {
  console.log(`# library benchmark: producer loop awaiting 'drain', batches of ${BATCH}, ${ROUNDS} interleaved rounds`);
  console.log(`# ${machine()}`);
  console.log(`\ninstant sink, ${N.toLocaleString('en-US')} items:`);
  const fast = await measureInterleaved(
    [
      { name: 'BackpressureWritable concurrency 4', run: () => library(N, 4, instant) },
      { name: 'hand-written window of 4', run: () => handWindow(N, instant) },
      { name: 'core Writable writev', run: () => coreWritev(N, instant) },
      { name: 'BackpressureWritable concurrency 1', run: () => library(N, 1, instant) },
    ],
    ROUNDS,
  );
  for (const m of fast) console.log(`  ${m.name}: median ${formatRate(m.median)}`);
  const [c4, hand, core, c1] = fast as [Measurement, Measurement, Measurement, Measurement];
  report(c4, hand, ' (target >= 1.00)');
  report(c4, core, '');
  report(c1, c4, '');

  console.log(`\n${SLOW_MS} ms per batch, ${SLOW_N.toLocaleString('en-US')} items:`);
  const slowRuns = await measureInterleaved(
    [
      { name: 'BackpressureWritable concurrency 4', run: () => library(SLOW_N, 4, slow) },
      { name: 'hand-written window of 4', run: () => handWindow(SLOW_N, slow) },
      { name: 'BackpressureWritable concurrency 1', run: () => library(SLOW_N, 1, slow) },
      { name: 'core Writable writev', run: () => coreWritev(SLOW_N, slow) },
    ],
    Math.max(3, Math.ceil(ROUNDS / 3)),
  );
  for (const m of slowRuns) console.log(`  ${m.name}: median ${formatRate(m.median)}`);
  const [s4, sHand, s1, sCore] = slowRuns as [Measurement, Measurement, Measurement, Measurement];
  report(s4, sHand, '');
  report(s1, s4, '');
  report(sCore, s4, '');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
