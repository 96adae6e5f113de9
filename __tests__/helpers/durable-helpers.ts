/**
 * Shared helpers of the durable-log tests: temporary directories, records that
 * carry their id, draining a log, and reading the raw segment files.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SegmentLog, type ReadEntry, type SegmentLogOptions } from '../../lib/durable';

/** A fresh empty directory under the OS temp dir (removed by `removeDir`). */
export function tempDir(prefix = 'durable-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** The payload of record `id`: its id in text, padded so records have some size. */
export function recordOf(id: number, pad = 16): Buffer {
  return Buffer.from(`id=${id};${'x'.repeat(pad)}`);
}

/** The id a payload made by `recordOf` carries. */
export function idOf(payload: Buffer): number {
  const text = payload.toString('latin1');
  const match = /^id=(\d+);/.exec(text);
  if (match === null) throw new Error(`not a test record: ${JSON.stringify(text.slice(0, 40))}`);
  return Number(match[1]);
}

/** Opens a log with test-friendly defaults (small segments, immediate checkpoints). */
export function openLog(dir: string, options: Partial<SegmentLogOptions> = {}): Promise<SegmentLog> {
  return SegmentLog.open({ dir, maxBytes: 1 << 20, segmentBytes: 4096, checkpointIntervalMs: 0, ...options });
}

/** Appends records `ids` and waits until they are durable. */
export async function appendIds(log: SegmentLog, ids: Iterable<number>, pad?: number): Promise<void> {
  for (const id of ids) log.append(recordOf(id, pad));
  await log.flush();
}

/** Reads until `read()` returns nothing; optionally acknowledges every entry. */
export async function readAll(log: SegmentLog, { ack = false, batch = 1000 } = {}): Promise<ReadEntry[]> {
  const all: ReadEntry[] = [];
  for (;;) {
    const entries = await log.read(batch);
    if (entries.length === 0) return all;
    for (const entry of entries) {
      all.push(entry);
      if (ack) log.ack(entry.seq);
    }
  }
}

/** Ids of the good entries, in order. */
export function goodIds(entries: readonly ReadEntry[]): number[] {
  return entries.filter((e) => e.error === null).map((e) => idOf(e.payload));
}

/** Every sequence number the entries cover (corrupt ranges expanded), in order. */
export function coveredSeqs(entries: readonly ReadEntry[]): number[] {
  const seqs: number[] = [];
  for (const e of entries) for (let i = 0; i < e.count; i++) seqs.push(e.seq + i);
  return seqs;
}

/** Segment files of `dir`, oldest first, as absolute paths. */
export function segmentPaths(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.seg'))
    .sort()
    .map((name) => join(dir, name));
}

export function fileSize(path: string): number {
  return statSync(path).size;
}

export function readSegment(path: string): Buffer {
  return readFileSync(path);
}

/** Range [a, b) as an array. */
export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** Waits until the log's checkpoint covers `seq` (acks are checkpointed asynchronously). */
export async function checkpointed(log: SegmentLog, seq: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (log.stats().checkpointedSeq < seq) {
    if (Date.now() > deadline) throw new Error(`checkpoint did not reach ${seq} (at ${log.stats().checkpointedSeq})`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
