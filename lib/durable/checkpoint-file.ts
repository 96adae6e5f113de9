/**
 * The acknowledgement checkpoint: where reading resumes after a restart.
 *
 * A fixed 1 KiB file of two 512-byte slots, written alternately in place, each
 * with its own generation number and CRC. A crash (or power loss) during a write
 * can tear at most the slot being written; the other one still holds the
 * previous checkpoint, and the reader takes the valid slot with the highest
 * generation. There is no create-then-write window that could leave a 0-byte
 * checkpoint, and no rename that would need a directory sync on every ack.
 *
 * A lost or unreadable checkpoint never loses data: it only means reading
 * resumes earlier (at the oldest segment), i.e. more duplicates.
 *
 * Slot layout (little-endian): magic "BPCK" u32 · version u32 · generation u64 ·
 * first unacknowledged seq u64 · segment first seq u64 · byte offset u64 · CRC-32
 * of the 40 bytes before it. The rest of the slot is zero.
 */
import { constants, promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from './record-frame';

export const CHECKPOINT_FILE = 'checkpoint';
const SLOT_BYTES = 512;
const MAGIC = 0x4b435042; // "BPCK" little-endian
const VERSION = 1;
const BODY_BYTES = 40;
const TWO_32 = 2 ** 32;

export interface Checkpoint {
  /** Every record with a smaller sequence number is acknowledged. */
  ackedSeq: number;
  /** Hint: the segment (by its first seq) and byte offset where record `ackedSeq` starts. */
  segmentFirstSeq: number;
  offset: number;
}

function writeU64(buf: Buffer, at: number, value: number): void {
  buf.writeUInt32LE(value % TWO_32, at);
  buf.writeUInt32LE(Math.floor(value / TWO_32), at + 4);
}

function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + 4) * TWO_32 + buf.readUInt32LE(at);
}

function decodeSlot(slot: Buffer): { generation: number; checkpoint: Checkpoint } | undefined {
  if (slot.length < BODY_BYTES + 4) return undefined;
  if (slot.readUInt32LE(0) !== MAGIC || slot.readUInt32LE(4) !== VERSION) return undefined;
  if (crc32(slot.subarray(0, BODY_BYTES)) !== slot.readUInt32LE(BODY_BYTES)) return undefined;
  const values = [readU64(slot, 8), readU64(slot, 16), readU64(slot, 24), readU64(slot, 32)] as const;
  if (!values.every((v) => Number.isSafeInteger(v))) return undefined;
  const [generation, ackedSeq, segmentFirstSeq, offset] = values;
  return { generation, checkpoint: { ackedSeq, segmentFirstSeq, offset } };
}

export class CheckpointFile {
  private readonly slot = Buffer.alloc(SLOT_BYTES);

  private constructor(
    private readonly handle: FileHandle,
    private generation: number,
    /** The checkpoint found when opening (undefined: none, or both slots damaged). */
    readonly recovered: Checkpoint | undefined,
  ) {}

  /** Opens (creating when missing) the checkpoint of `dir` and reads the newest valid slot. */
  static async open(dir: string): Promise<CheckpointFile> {
    // Read-write, created when missing, never truncated; not O_APPEND (slots are written in place).
    const rw = await fsp.open(join(dir, CHECKPOINT_FILE), constants.O_RDWR | constants.O_CREAT);
    try {
      const both = Buffer.alloc(2 * SLOT_BYTES);
      const { bytesRead } = await rw.read(both, 0, both.length, 0);
      if (bytesRead < both.length) {
        // Allocate both slots now, so that writing a checkpoint later never needs new disk space:
        // on a full disk the checkpoint is what lets acknowledged segments be deleted.
        await preallocate(rw, both, bytesRead).catch(() => undefined);
      }
      let best: { generation: number; checkpoint: Checkpoint } | undefined;
      for (let i = 0; i < 2; i++) {
        const found = decodeSlot(both.subarray(i * SLOT_BYTES, Math.min(bytesRead, (i + 1) * SLOT_BYTES)));
        if (found !== undefined && (best === undefined || found.generation > best.generation)) best = found;
      }
      return new CheckpointFile(rw, best?.generation ?? 0, best?.checkpoint);
    } catch (err) {
      await rw.close();
      throw err;
    }
  }

  /** Writes `checkpoint` into the older slot; with `sync`, returns once it is on disk. */
  async write(checkpoint: Checkpoint, sync: boolean): Promise<void> {
    const generation = this.generation + 1;
    const slot = this.slot;
    slot.writeUInt32LE(MAGIC, 0);
    slot.writeUInt32LE(VERSION, 4);
    writeU64(slot, 8, generation);
    writeU64(slot, 16, checkpoint.ackedSeq);
    writeU64(slot, 24, checkpoint.segmentFirstSeq);
    writeU64(slot, 32, checkpoint.offset);
    slot.writeUInt32LE(crc32(slot.subarray(0, BODY_BYTES)), BODY_BYTES);
    let done = 0;
    while (done < SLOT_BYTES) {
      const { bytesWritten } = await this.handle.write(
        slot,
        done,
        SLOT_BYTES - done,
        (generation % 2) * SLOT_BYTES + done,
      );
      done += bytesWritten;
    }
    if (sync) await this.handle.datasync();
    this.generation = generation;
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}

/** Fills the file up to both slots (keeping the bytes already there) and syncs it. */
async function preallocate(handle: FileHandle, both: Buffer, existing: number): Promise<void> {
  let done = existing;
  while (done < both.length) done += (await handle.write(both, done, both.length - done, done)).bytesWritten;
  await handle.datasync();
}
