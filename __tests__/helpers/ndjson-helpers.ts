import {
  NdjsonSplitter,
  type InvalidLine,
  type NdjsonRecord,
  type NdjsonSplitterMetrics,
  type NdjsonSplitterOptions,
} from '../../lib/ndjson/ndjson-splitter';

export interface SplitResult {
  records: NdjsonRecord[];
  invalid: InvalidLine[];
  metrics: NdjsonSplitterMetrics;
  splitter: NdjsonSplitter;
  /** Largest `heldBytes` seen after any write. */
  maxHeld: number;
}

/** Writes `chunks` one by one into a fresh splitter, ends it and collects everything it produced. */
export async function split(
  chunks: readonly (Buffer | string)[],
  options: NdjsonSplitterOptions = {},
): Promise<SplitResult> {
  const splitter = new NdjsonSplitter(options);
  const records: NdjsonRecord[] = [];
  const invalid: InvalidLine[] = [];
  splitter.on('data', (record: NdjsonRecord) => records.push(record));
  splitter.on('invalid', (event: InvalidLine) => invalid.push(event));
  const ended = new Promise<void>((resolve, reject) => {
    splitter.on('end', resolve);
    splitter.on('error', reject);
  });
  let maxHeld = 0;
  for (const chunk of chunks) {
    splitter.write(chunk);
    maxHeld = Math.max(maxHeld, splitter.heldBytes);
  }
  splitter.end();
  await ended;
  return { records, invalid, metrics: splitter.getMetrics(), splitter, maxHeld };
}

/** Splits `data` at the given offsets (any order, duplicates and out-of-range values ignored). */
export function cut(data: Buffer, offsets: readonly number[]): Buffer[] {
  const points = [...new Set(offsets.filter((o) => o > 0 && o < data.length))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(data.subarray(start, point));
    start = point;
  }
  chunks.push(data.subarray(start));
  return chunks;
}

/** Every byte its own chunk: the harshest boundary placement. */
export function bytewise(data: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i++) chunks.push(data.subarray(i, i + 1));
  return chunks;
}
