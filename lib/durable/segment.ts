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
