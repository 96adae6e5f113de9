import { FRAME_HEADER_BYTES } from './record-frame';

/**
 * What the log knows about one segment file, shared by the writer (which grows
 * the newest one), the reader (which reads up to `readableBytes`) and the
 * deleter (which removes a segment once its every record is acknowledged).
 */
export class Segment {
  /** Bytes in the file (written, synced or not). */
  writtenBytes = 0;
  /** Bytes the reader may read: durable per the sync mode. Never beyond `writtenBytes`. */
  readableBytes = 0;
  /** No frame will be added any more; `endSeq` is final. */
  sealed = false;
  /** The sequence number after its last record (meaningful once sealed). */
  endSeq: number;

  constructor(
    readonly firstSeq: number,
    readonly path: string,
  ) {
    this.endSeq = firstSeq;
  }
}

/**
 * Whether a frame found at `offset` of `seg` can really be record `seq`: seqs in
 * a segment are consecutive from its first, and every record before it took at
 * least a header's bytes, so record firstSeq + k starts at byte 24·k or later.
 * A header that checks out but breaks this (a frame-shaped payload, a stale
 * frame) must not be believed: its seq could send the log millions ahead.
 */
export function plausibleSeq(seg: Segment, seq: number, offset: number): boolean {
  return seq >= seg.firstSeq && seq - seg.firstSeq <= offset / FRAME_HEADER_BYTES;
}
