/**
 * Tiny benchmark harness: every benchmark runs its candidates interleaved in
 * the same process (A B A B …) so that machine noise hits both alike, and
 * reports medians and a ratio rather than a single figure.
 */
import os from 'node:os';
import { Writable as CoreWritable } from 'node:stream';

export interface Candidate {
  name: string;
  /** Runs once and returns how many items it moved. */
  run: () => Promise<number>;
}

export interface Measurement {
  name: string;
  runs: number[]; // items/s of each run
  median: number;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export async function measureInterleaved(candidates: Candidate[], rounds: number, warmup = 1): Promise<Measurement[]> {
  for (let i = 0; i < warmup; i++) for (const c of candidates) await c.run();
  const runs = candidates.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    for (const [i, c] of candidates.entries()) {
      if (global.gc) global.gc();
      const start = process.hrtime.bigint();
      const items = await c.run();
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      runs[i]?.push(items / seconds);
    }
  }
  return candidates.map((c, i) => ({ name: c.name, runs: runs[i] ?? [], median: median(runs[i] ?? []) }));
}

export function formatRate(itemsPerSecond: number): string {
  return `${Math.round(itemsPerSecond).toLocaleString('en-US')} items/s`;
}

export function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} × ${cpu}, Node ${process.version}, ${process.env['READABLE_STREAM'] === 'disable' ? 'node core stream classes' : 'readable-stream classes'}`;
}

/** The baseline sink: a core objectMode Writable with `_writev`, counting what it receives. */
export function countingCoreWritable(): { sink: CoreWritable; delivered: () => number } {
  let delivered = 0;
  const sink = new CoreWritable({
    objectMode: true,
    write(_chunk, _enc, cb) {
      delivered += 1;
      cb();
    },
    writev(chunks, cb) {
      delivered += chunks.length;
      cb();
    },
  });
  return { sink, delivered: () => delivered };
}

/** min / median / max of a list of numbers. */
export interface Spread {
  min: number;
  median: number;
  max: number;
}

export function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { min: NaN, median: NaN, max: NaN };
  return { min: Math.min(...values), median: median([...values]), max: Math.max(...values) };
}

/**
 * The ratio a / b of each interleaved round (both measured back to back, so the machine's state
 * hits both alike), as min / median / max: a ratio of medians hides how much the rounds disagree.
 */
export function roundRatios(a: Measurement, b: Measurement): Spread {
  return spread(a.runs.map((rate, i) => rate / (b.runs[i] ?? NaN)));
}

export function formatSpread(s: Spread, digits = 2): string {
  return `${s.min.toFixed(digits)} / ${s.median.toFixed(digits)} / ${s.max.toFixed(digits)}`;
}
