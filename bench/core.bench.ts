/**
 * npm run bench — issue 2's figures:
 * 1. items/s through pipeline(Readable.from(generator), BackpressureWritable
 *    with a no-op async flush, batchSize 1000) vs the same pipeline into a
 *    core Writable with _writev; ratio target ≥ 1.0.
 * 2. delivered items/s with default options and an instant sink; target ≥ 1,000,000.
 */
import { Readable as CoreReadable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BackpressureWritable } from '../lib';
import { formatRate, formatSpread, machine, measureInterleaved, countingCoreWritable, roundRatios } from './harness';

const N = Number(process.env['BENCH_ITEMS'] ?? 1_000_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 11);

function* items(n: number): Generator<{ id: number }> {
  for (let i = 0; i < n; i++) yield { id: i };
}

async function intoBackpressureWritable(batchSize?: number): Promise<number> {
  let delivered = 0;
  const sink = new BackpressureWritable<{ id: number }>({
    ...(batchSize === undefined ? {} : { batchSize }),
    flush: async (batch) => {
      delivered += batch.length;
    },
  });
  await pipeline(CoreReadable.from(items(N)), sink);
  if (delivered !== N) throw new Error(`lost items: ${delivered} of ${N}`);
  return delivered;
}

async function intoCoreWritev(): Promise<number> {
  const { sink, delivered } = countingCoreWritable();
  await pipeline(CoreReadable.from(items(N)), sink);
  if (delivered() !== N) throw new Error(`lost items: ${delivered()} of ${N}`);
  return delivered();
}

async function main(): Promise<void> {
  console.log(`# core benchmark: ${N.toLocaleString('en-US')} items × ${ROUNDS} interleaved rounds (median)`);
  console.log(`# ${machine()}`);
  const [ours, core] = await measureInterleaved(
    [
      { name: 'BackpressureWritable (batchSize 1000, no-op async flush)', run: () => intoBackpressureWritable(1000) },
      { name: 'core Writable with _writev', run: intoCoreWritev },
    ],
    ROUNDS,
  );
  if (ours === undefined || core === undefined) throw new Error('unreachable');
  console.log(`${ours.name}: ${formatRate(ours.median)}`);
  console.log(`${core.name}: ${formatRate(core.median)}`);
  console.log(
    `ratio BackpressureWritable / core Writable per round, min / median / max: ${formatSpread(roundRatios(ours, core))} (target >= 1.00)`,
  );

  const [defaults] = await measureInterleaved([{ name: 'defaults', run: () => intoBackpressureWritable() }], ROUNDS);
  if (defaults === undefined) throw new Error('unreachable');
  console.log(
    `delivered with default options (batchSize 100) and an instant sink: ${formatRate(defaults.median)} (target >= 1,000,000 items/s)`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
