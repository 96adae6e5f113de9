/**
 * The on-disk frame of one record (all integers little-endian):
 *
 *   offset  size  field
 *        0     4  magic  FF 62 70 01  ("\xFFbp" + format version 1)
 *        4     4  payload length in bytes
 *        8     8  sequence number (u64; < 2^53)
 *       16     4  CRC-32 of the payload
 *       20     4  CRC-32 of bytes 0..19 (the header above)
 *       24     n  payload
 *
 * Why a header checksum besides the payload's: a bit flip in the length field
 * must not send the reader `length` bytes astray. With its own CRC a damaged
 * header is recognised as such, and the reader looks for the next magic instead
 * (resynchronisation), so one damaged record costs that record, not the rest of
 * its segment. The magic starts with 0xFF, a byte that never occurs in UTF-8, so
 * text payloads (JSON, NDJSON lines) cannot contain a false magic.
 */
import zlib from 'node:zlib';

export const FRAME_HEADER_BYTES = 24;
/** Largest payload one frame can describe (the length field is a u32; Buffers stop earlier anyway). */
export const MAX_FRAME_PAYLOAD = 0xffff_ffff;
export const FRAME_MAGIC = Buffer.from([0xff, 0x62, 0x70, 0x01]);
const MAGIC_U32 = FRAME_MAGIC.readUInt32LE(0);
const TWO_32 = 2 ** 32;

/** zlib.crc32 arrived in Node 20.15; older 20.x get the same CRC-32 (IEEE) from a table. */
const nativeCrc32: ((data: Uint8Array, value?: number) => number) | undefined = (
  zlib as { crc32?: (data: Uint8Array, value?: number) => number }
).crc32;
let table: Uint32Array | undefined;
function tableCrc32(data: Uint8Array, value = 0): number {
  if (table === undefined) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let crc = ~value >>> 0;
  for (let i = 0; i < data.length; i++) crc = (table[(crc ^ (data[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return ~crc >>> 0;
}
export const crc32: (data: Uint8Array, value?: number) => number = nativeCrc32 ?? tableCrc32;

/** What a header says, filled in place by `readFrameHeader` (no allocation per frame). */
export interface FrameHeader {
  length: number;
  seq: number;
  payloadCrc: number;
}

export function newFrameHeader(): FrameHeader {
  return { length: 0, seq: 0, payloadCrc: 0 };
}

export function frameBytes(payloadLength: number): number {
  return FRAME_HEADER_BYTES + payloadLength;
}

/**
 * CRC-32 of `buf[start, end)` from a table, for the 20-byte header: a native `zlib.crc32` call needs a
 * view of its own (a subarray, or a copy into a scratch buffer) and costs more for 20 bytes than the
 * loop does — a large part of the log's cost per record, measured on the CLI's 1M-line benchmark.
 */
function headerCrc(buf: Buffer, start: number): number {
  const t = byteTable();
  let crc = -1;
  for (let i = start; i < start + 20; i++) crc = (t[(crc ^ (buf[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return ~crc >>> 0;
}

let signedTable: Int32Array | undefined;
function byteTable(): Int32Array {
  if (signedTable === undefined) {
    signedTable = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      signedTable[n] = c;
    }
  }
  return signedTable;
}

/**
 * Writes the frame of `payload` with sequence number `seq` into `target` at
 * `offset`; `target` must have `frameBytes(payload.length)` bytes there.
 * Returns the offset just past the frame.
 */
export function writeFrame(target: Buffer, offset: number, seq: number, payload: Uint8Array): number {
  target.writeUInt32LE(MAGIC_U32, offset);
  target.writeUInt32LE(payload.length, offset + 4);
  target.writeUInt32LE(seq % TWO_32, offset + 8);
  target.writeUInt32LE(Math.floor(seq / TWO_32), offset + 12);
  target.writeUInt32LE(crc32(payload), offset + 16);
  target.writeUInt32LE(headerCrc(target, offset), offset + 20);
  target.set(payload, offset + FRAME_HEADER_BYTES);
  return offset + FRAME_HEADER_BYTES + payload.length;
}

/** A whole frame as a new Buffer (tests, tools; the log writes into its own chunks). */
export function encodeFrame(seq: number, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(frameBytes(payload.length));
  writeFrame(out, 0, seq, payload);
  return out;
}

/**
 * Checks the header at `offset` (magic and header CRC; `buf` must hold
 * FRAME_HEADER_BYTES there) and, when valid, fills `out`. A valid header says
 * nothing yet about the payload: check that with `payloadMatches`.
 */
export function readFrameHeader(buf: Buffer, offset: number, out: FrameHeader): boolean {
  if (buf.readUInt32LE(offset) !== MAGIC_U32) return false;
  if (headerCrc(buf, offset) !== buf.readUInt32LE(offset + 20)) return false;
  const seq = buf.readUInt32LE(offset + 12) * TWO_32 + buf.readUInt32LE(offset + 8);
  if (seq > Number.MAX_SAFE_INTEGER) return false;
  out.length = buf.readUInt32LE(offset + 4);
  out.seq = seq;
  out.payloadCrc = buf.readUInt32LE(offset + 16);
  return true;
}

/**
 * Undoes one flipped bit in an invalid header at `offset` (24 bytes of `buf`): tries each of its
 * 192 single-bit corrections and, when one checks out, fills `out` with what the header said
 * before the flip and returns true. `buf` is left as it was.
 *
 * Why this is safe: CRC-32 over the 20 header bytes has a Hamming distance of at least 3 (far
 * more in fact), so two valid headers never lie within two bits of each other. An invalid
 * header therefore has at most one valid neighbour one bit away, and finding it names the flip
 * exactly — whichever field it hit, the magic and the header CRC included. Bytes that are not a
 * damaged header (a torn write, zero fill) essentially never have one; callers still check that
 * the corrected header is the record they expect and that its payload matches it.
 */
export function correctHeader(buf: Buffer, offset: number, out: FrameHeader): boolean {
  for (let bit = 0; bit < FRAME_HEADER_BYTES * 8; bit++) {
    const at = offset + (bit >> 3);
    const mask = 1 << (bit & 7);
    buf[at] = (buf[at] as number) ^ mask;
    const valid = readFrameHeader(buf, offset, out);
    buf[at] = (buf[at] as number) ^ mask;
    if (valid) return true;
  }
  return false;
}

export function payloadMatches(payload: Uint8Array, header: FrameHeader): boolean {
  return crc32(payload) === header.payloadCrc;
}

/** Offset of the next magic in `buf[from, end)`, or -1. */
export function findMagic(buf: Buffer, from: number, end: number): number {
  const at = buf.indexOf(FRAME_MAGIC, from);
  return at === -1 || at + FRAME_MAGIC.length > end ? -1 : at;
}
