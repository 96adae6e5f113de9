/**
 * Helpers of the CLI's --buffer-dir tests: what the log directory holds, read from its files the way
 * the format defines them (24-byte frame header: magic, payload length, seq; then the payload), and
 * the delivered seqs of an output file.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Chain } from './cli';

const HEADER = 24;
const MAGIC = 0xff627001; // FF 62 70 01, read big-endian

export interface Frame {
  seq: number;
  /** Byte offset of the frame in its segment file. */
  offset: number;
  payload: Buffer;
}

/** Segment files of `dir`, oldest first. */
export function segmentFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.seg'))
    .sort()
    .map((name) => join(dir, name));
}

/** The complete frames of one segment file, in order (a frame cut short at the end is not one). */
export function framesOf(path: string): Frame[] {
  const bytes = readFileSync(path);
  const frames: Frame[] = [];
  let offset = 0;
  while (offset + HEADER <= bytes.length && bytes.readUInt32BE(offset) === MAGIC) {
    const length = bytes.readUInt32LE(offset + 4);
    if (offset + HEADER + length > bytes.length) break;
    const seq = Number(bytes.readBigUInt64LE(offset + 8));
    frames.push({ seq, offset, payload: bytes.subarray(offset + HEADER, offset + HEADER + length) });
    offset += HEADER + length;
  }
  return frames;
}

/** The highest seq whose frame is complete in the newest segment of `dir`, or -1 when there is none. */
export function lastSeqOnDisk(dir: string): number {
  const files = segmentFiles(dir);
  for (let i = files.length - 1; i >= 0; i--) {
    const frames = framesOf(files[i] as string);
    if (frames.length > 0) return (frames[frames.length - 1] as Frame).seq;
  }
  return -1;
}

/** Bytes of the segment files of `dir`. */
export function segmentBytes(dir: string): number {
  return segmentFiles(dir).reduce((sum, path) => sum + statSync(path).size, 0);
}

/** Changes one byte of the payload of the frame of `seq` (its checksum then fails); returns the payload as it was. */
export function damageRecord(dir: string, seq: number): string {
  for (const path of segmentFiles(dir)) {
    const frame = framesOf(path).find((f) => f.seq === seq);
    if (frame === undefined) continue;
    const original = frame.payload.toString('utf8');
    const bytes = readFileSync(path);
    const at = frame.offset + HEADER + frame.payload.length - 2; // a digit of {"seq":N}
    bytes[at] = bytes[at] === 0x37 ? 0x38 : 0x37;
    writeFileSync(path, bytes);
    return original;
  }
  throw new Error(`no frame of seq ${seq} in ${dir}`);
}

/** The seqs of the whole `{"seq":N,…}` lines of a file (a last line cut short by a kill is not delivered). */
export function deliveredSeqs(path: string): number[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const whole = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  return whole
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => (JSON.parse(line) as { seq: number }).seq);
}

/** Waits (polling, real time) until `condition()` holds; throws naming `what` after `timeoutMs`: a guard against a hang. */
export async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** [from, to). */
export function span(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
}

/** SIGKILLs what is still running of `chains` (after a test that failed half-way). */
export function stopChains(chains: readonly Chain[]): void {
  for (const c of chains) {
    for (const child of [c.producer, c.cli, c.consumer]) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  }
}
