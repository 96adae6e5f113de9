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
 *    when it is a whole record with a damaged header it is kept, with a seq of
 *    its own, for the reader to report as corrupt.
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
import { FRAME_HEADER_BYTES, FRAME_MAGIC, newFrameHeader, readFrameHeader } from './record-frame';
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
    if (endOffset < tail.writtenBytes && (await isDamagedFrame(handle, endOffset, tail.writtenBytes - endOffset))) {
      // Not a torn write but a whole record with a damaged header: keep its bytes and its seq,
      // so that the reader reports it as corrupt instead of the seq being silently reused.
      return { endOffset: tail.writtenBytes, endSeq: lastSeq + 2 };
    }
  } finally {
    await handle.close();
  }
  return { endOffset, endSeq: lastSeq + 1 };
}

/**
 * Tells the bytes after the last good frame apart. A torn write (a frame cut
 * short: its header is valid but the frame runs past the end of the file; fewer
 * bytes than a header; zero fill) is truncated. A whole last record whose header
 * took one flipped bit is corruption, recognisable because exactly one of its
 * fields is off: its length field accounts for exactly the bytes left and 3 or 4
 * of the 4 magic bytes are there (the bit is in the magic, seq or a CRC), or all
 * 4 magic bytes are there and the length differs from the bytes left by one bit
 * (the bit is in the length). Anything else is treated as torn, and counted in
 * `truncatedBytes`.
 */
async function isDamagedFrame(handle: FileHandle, offset: number, length: number): Promise<boolean> {
  if (length < FRAME_HEADER_BYTES) return false;
  const head = Buffer.alloc(FRAME_HEADER_BYTES);
  const { bytesRead } = await handle.read(head, 0, FRAME_HEADER_BYTES, offset);
  if (bytesRead < FRAME_HEADER_BYTES || readFrameHeader(head, 0, newFrameHeader())) return false;
  let magicBytes = 0;
  for (let i = 0; i < FRAME_MAGIC.length; i++) if (head[i] === FRAME_MAGIC[i]) magicBytes++;
  const claimed = head.readUInt32LE(4);
  const left = length - FRAME_HEADER_BYTES;
  if (claimed === left) return magicBytes >= FRAME_MAGIC.length - 1;
  return magicBytes === FRAME_MAGIC.length && left <= 0xffff_ffff && isOneBit((claimed ^ left) >>> 0);
}

function isOneBit(x: number): boolean {
  return x !== 0 && (x & (x - 1)) === 0;
}
