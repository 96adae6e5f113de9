/**
 * What `SegmentLog.open` does with whatever a previous process left behind,
 * without ever needing a person to delete files:
 *
 * 1. Segments entirely below the checkpoint are acknowledged: deleted (a crash
 *    between writing the checkpoint and deleting them leaves such files). Empty
 *    segment files are deleted too.
 * 2. Only the LAST segment is scanned, to find where its good data ends; from the
 *    checkpoint's offset when the checkpoint points into it, so acknowledged data
 *    is not read. What follows the last complete frame is truncated and counted
 *    when it is a torn write (a frame cut short, zero fill after a power loss);
 *    a whole record with a damaged header there (one flipped bit is corrected to
 *    tell, see keepDamagedRecords) is kept, with its seq, for the reader to
 *    report as corrupt, and only what follows it is truncated.
 * 3. Reading resumes at the checkpoint: its offset is used when the frame there
 *    is the expected record, else the segment is read from its start (records
 *    below the checkpoint are skipped). No checkpoint: from the oldest segment.
 * 4. All existing segments are sealed: the writer starts a new segment at the next
 *    sequence number, so recovered files are never appended to.
 *
 * Nothing here loops on bad data (every scan step advances, see FrameCursor) and
 * nothing here throws on damage: damage inside older segments is found and
 * reported by the reader, record by record, as it gets there.
 */
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { Checkpoint } from './checkpoint-file';
import { FrameCursor } from './frame-cursor';
import {
  FRAME_HEADER_BYTES,
  FRAME_MAGIC,
  correctHeader,
  crc32,
  frameBytes,
  newFrameHeader,
  readFrameHeader,
} from './record-frame';
import { plausibleSeq, Segment } from './segment';
import { listSegments } from './segment-file';

export interface Recovered {
  /** Segments kept, oldest first, all sealed. */
  segments: Segment[];
  /** The sequence number the next append gets. */
  nextSeq: number;
  /** First unacknowledged sequence number: where reading resumes. */
  startSeq: number;
  startSegment: Segment | undefined;
  startOffset: number;
  /** Bytes cut from the end of the last segment (torn or zero-filled tail). */
  truncatedBytes: number;
  /** Segment files deleted: fully acknowledged, or empty. */
  deletedSegments: number;
}

export async function recover(dir: string, checkpoint: Checkpoint | undefined, chunkBytes: number): Promise<Recovered> {
  const found = await listSegments(dir);
  const acked = checkpoint?.ackedSeq ?? found[0]?.firstSeq ?? 0;
  const segments = found.map((f, i) => {
    const seg = new Segment(f.firstSeq, f.path);
    seg.writtenBytes = f.bytes;
    seg.readableBytes = f.bytes;
    seg.sealed = true;
    seg.endSeq = found[i + 1]?.firstSeq ?? f.firstSeq;
    return seg;
  });

  let truncatedBytes = 0;
  const tail = segments[segments.length - 1];
  if (tail !== undefined) {
    const { endOffset, endSeq } = await scanTail(tail, checkpoint, chunkBytes);
    if (endOffset < tail.writtenBytes) {
      truncatedBytes = tail.writtenBytes - endOffset;
      const handle = await fsp.open(tail.path, 'r+');
      try {
        await handle.truncate(endOffset);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      tail.writtenBytes = endOffset;
      tail.readableBytes = endOffset;
    }
    tail.endSeq = endSeq;
  }
  const nextSeq = Math.max(tail?.endSeq ?? 0, acked);

  const kept: Segment[] = [];
  let deletedSegments = 0;
  for (const seg of segments) {
    if (seg.endSeq <= acked || seg.writtenBytes === 0) {
      await fsp.unlink(seg.path).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      deletedSegments++;
    } else {
      kept.push(seg);
    }
  }

  const first = kept[0];
  if (first === undefined) {
    return {
      segments: kept,
      nextSeq,
      startSeq: nextSeq,
      startSegment: undefined,
      startOffset: 0,
      truncatedBytes,
      deletedSegments,
    };
  }
  // Below the oldest segment everything was acknowledged (segments are deleted only then), even if
  // the checkpoint that said so did not reach the disk.
  const startSeq = Math.max(acked, first.firstSeq);
  let startSegment = first;
  for (const seg of kept) if (seg.firstSeq <= startSeq) startSegment = seg;
  let startOffset = 0;
  if (
    checkpoint !== undefined &&
    checkpoint.ackedSeq === startSeq &&
    checkpoint.segmentFirstSeq === startSegment.firstSeq &&
    checkpoint.offset <= startSegment.writtenBytes
  ) {
    if ((await seqAt(startSegment.path, checkpoint.offset, startSegment.writtenBytes, chunkBytes)) === startSeq)
      startOffset = checkpoint.offset;
  }
  return { segments: kept, nextSeq, startSeq, startSegment, startOffset, truncatedBytes, deletedSegments };
}

/** The seq of the frame starting exactly at `offset`, or undefined. */
async function seqAt(path: string, offset: number, limit: number, chunkBytes: number): Promise<number | undefined> {
  const handle = await fsp.open(path, 'r');
  try {
    const cursor = new FrameCursor(handle, offset, Math.min(chunkBytes, 64 * 1024));
    return (await cursor.next(limit)) === 'frame' && cursor.frameOffset === offset ? cursor.header.seq : undefined;
  } finally {
    await handle.close();
  }
}

/**
 * Where the good data of the last segment ends: just past its last complete
 * frame (header valid and whole; a payload failing its checksum still counts —
 * the reader reports it as corrupt, recovery must not hide it by truncating),
 * and the seq after that frame's.
 */
async function scanTail(
  tail: Segment,
  checkpoint: Checkpoint | undefined,
  chunkBytes: number,
): Promise<{ endOffset: number; endSeq: number }> {
  let start = 0;
  let endOffset = 0;
  let lastSeq = tail.firstSeq - 1;
  if (
    checkpoint !== undefined &&
    checkpoint.segmentFirstSeq === tail.firstSeq &&
    checkpoint.ackedSeq >= tail.firstSeq &&
    checkpoint.offset <= tail.writtenBytes
  ) {
    if (checkpoint.offset === tail.writtenBytes) {
      // The checkpoint was taken with everything in this segment read: nothing follows.
      return { endOffset: checkpoint.offset, endSeq: checkpoint.ackedSeq };
    }
    if ((await seqAt(tail.path, checkpoint.offset, tail.writtenBytes, chunkBytes)) === checkpoint.ackedSeq) {
      start = checkpoint.offset;
      endOffset = start;
      lastSeq = checkpoint.ackedSeq - 1;
    }
  }
  const handle = await fsp.open(tail.path, 'r');
  try {
    const cursor = new FrameCursor(handle, start, chunkBytes);
    for (;;) {
      const event = await cursor.next(tail.writtenBytes);
      if (event === 'end') break;
      if (
        event === 'frame' &&
        cursor.header.seq > lastSeq &&
        plausibleSeq(tail, cursor.header.seq, cursor.frameOffset)
      ) {
        lastSeq = cursor.header.seq;
        endOffset = cursor.offset;
      }
    }
    if (endOffset < tail.writtenBytes) {
      // Not necessarily a torn write: whole records whose header took damage are kept, with their seqs,
      // so that the reader reports them as corrupt instead of their seqs being silently reused.
      const kept = await keepDamagedRecords(handle, tail, endOffset, lastSeq, chunkBytes);
      endOffset = kept.endOffset;
      lastSeq = kept.lastSeq;
    }
  } finally {
    await handle.close();
  }
  return { endOffset, endSeq: lastSeq + 1 };
}

/**
 * Tells the bytes after the last good frame of the tail apart: a torn write (a frame cut short —
 * its header valid but the frame running past the end of the file —, fewer bytes than a header,
 * zero fill) is left for truncation; a whole record whose header took damage is not — cutting it
 * would lose a record the disk had confirmed, without a report. Returns the end of the records to
 * keep and the last seq they take.
 *
 * A header with one flipped bit is corrected (`correctHeader`): when the corrected header is the
 * next record (seq `lastSeq + 1`, possible at its offset), its frame fits in the file and its
 * payload matches the corrected payload CRC, it is that record, whatever follows it — torn bytes
 * or zero fill a crash or a power loss appended later. Several such records in a row are all kept.
 * Cost: 192 CRCs of 20 bytes per damaged header, once per open, only when the tail is not clean.
 *
 * More than one flipped bit is recognised only when the record is the last bytes of the file and
 * exactly one field is off: its length field accounts for exactly the bytes left and 3 or 4 of the
 * 4 magic bytes are there (the bits are in the magic, seq or a CRC), or all 4 magic bytes are there
 * and the length differs from the bytes left by one bit. Anything else is taken for torn, and
 * counted in `truncatedBytes`.
 */
async function keepDamagedRecords(
  handle: FileHandle,
  tail: Segment,
  offset: number,
  lastSeq: number,
  chunkBytes: number,
): Promise<{ endOffset: number; lastSeq: number }> {
  const head = Buffer.alloc(FRAME_HEADER_BYTES);
  const header = newFrameHeader();
  for (;;) {
    const left = tail.writtenBytes - offset;
    if (left < FRAME_HEADER_BYTES) break;
    const { bytesRead } = await handle.read(head, 0, FRAME_HEADER_BYTES, offset);
    // A valid header the scan did not take is a torn write (its frame runs past the end) or not the next record.
    if (bytesRead < FRAME_HEADER_BYTES || readFrameHeader(head, 0, header)) break;
    if (
      correctHeader(head, 0, header) &&
      header.seq === lastSeq + 1 &&
      plausibleSeq(tail, header.seq, offset) &&
      frameBytes(header.length) <= left &&
      (await payloadCrcAt(handle, offset + FRAME_HEADER_BYTES, header.length, chunkBytes)) === header.payloadCrc
    ) {
      offset += frameBytes(header.length);
      lastSeq = header.seq;
      continue;
    }
    if (isDamagedLastRecord(head, left)) return { endOffset: tail.writtenBytes, lastSeq: lastSeq + 1 };
    break;
  }
  return { endOffset: offset, lastSeq };
}

/** CRC-32 of the `length` bytes at `offset`, read a chunk at a time (a payload can be large). */
async function payloadCrcAt(handle: FileHandle, offset: number, length: number, chunkBytes: number): Promise<number> {
  const chunk = Buffer.allocUnsafe(Math.max(1, Math.min(length, chunkBytes)));
  let crc = 0;
  for (let done = 0; done < length;) {
    const { bytesRead } = await handle.read(chunk, 0, Math.min(chunk.length, length - done), offset + done);
    if (bytesRead === 0) return -1; // the file is shorter than it was: no CRC-32 is negative
    crc = crc32(chunk.subarray(0, bytesRead), crc);
    done += bytesRead;
  }
  return crc;
}

/** The multi-bit fallback of `keepDamagedRecords`: an invalid header whose frame is exactly the `left` bytes. */
function isDamagedLastRecord(head: Buffer, left: number): boolean {
  let magicBytes = 0;
  for (let i = 0; i < FRAME_MAGIC.length; i++) if (head[i] === FRAME_MAGIC[i]) magicBytes++;
  const claimed = head.readUInt32LE(4);
  const payloadLeft = left - FRAME_HEADER_BYTES;
  if (claimed === payloadLeft) return magicBytes >= FRAME_MAGIC.length - 1;
  return magicBytes === FRAME_MAGIC.length && payloadLeft <= 0xffff_ffff && isOneBit((claimed ^ payloadLeft) >>> 0);
}

function isOneBit(x: number): boolean {
  return x !== 0 && (x & (x - 1)) === 0;
}
