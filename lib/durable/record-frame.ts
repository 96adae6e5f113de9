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

/**
 * CRC-32 (IEEE, as zlib's) lookup tables for slicing-by-8: table k maps a byte to its CRC contribution
 * k bytes further on, so the loop takes 8 bytes per round. Built once, on first use.
 */
let tables: Int32Array | undefined;
function crcTables(): Int32Array {
  if (tables === undefined) {
    const t = new Int32Array(8 * 256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      t[n] = c;
    }
    for (let n = 0; n < 256; n++) {
      let c = t[n] as number;
      for (let k = 1; k < 8; k++) {
        c = (t[c & 0xff] as number) ^ (c >>> 8);
        t[k * 256 + n] = c;
      }
    }
    tables = t;
  }
  return tables;
}

/**
 * CRC-32 of `buf[start, end)`, computed in JS. For the short payloads a log mostly holds (an NDJSON
 * line: ~150 bytes) this is cheaper than `zlib.crc32`, whose cost is mostly that of the call itself
 * (argument checks, the trip into C++, and a view of its own for a part of a buffer): ~200 ns against
 * ~300 ns for 150 bytes, a tenth of the CLI's time with --buffer-dir. Past NATIVE_FROM bytes the
 * native one wins.
 */
export function crc32Range(buf: Uint8Array, start: number, end: number, value = 0): number {
  const t = crcTables();
  let crc = ~value;
  let i = start;
  for (const last = end - 7; i < last; i += 8) {
    const a =
      crc ^
      ((buf[i] as number) |
        ((buf[i + 1] as number) << 8) |
        ((buf[i + 2] as number) << 16) |
        ((buf[i + 3] as number) << 24));
    crc =
      (t[1792 + (a & 0xff)] as number) ^
      (t[1536 + ((a >>> 8) & 0xff)] as number) ^
      (t[1280 + ((a >>> 16) & 0xff)] as number) ^
      (t[1024 + (a >>> 24)] as number) ^
      (t[768 + (buf[i + 4] as number)] as number) ^
      (t[512 + (buf[i + 5] as number)] as number) ^
      (t[256 + (buf[i + 6] as number)] as number) ^
      (t[buf[i + 7] as number] as number);
  }
  for (; i < end; i++) crc = (t[(crc ^ (buf[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return ~crc >>> 0;
}

/** Where zlib.crc32 (when this Node has it) becomes cheaper than crc32Range: measured, ~250 bytes. */
const NATIVE_FROM = 256;

/** zlib.crc32 arrived in Node 20.15; older 20.x use crc32Range at every size. */
const nativeCrc32: ((data: Uint8Array, value?: number) => number) | undefined = (
  zlib as { crc32?: (data: Uint8Array, value?: number) => number }
).crc32;

/**
 * CRC-32 (IEEE) of `data`: the same value as zlib.crc32, from whichever implementation is cheaper at its
 * size. `value`, the CRC-32 of the bytes before `data`, continues a running checksum (as zlib.crc32's does).
 */
export function crc32(data: Uint8Array, value = 0): number {
  return nativeCrc32 !== undefined && data.length >= NATIVE_FROM
    ? nativeCrc32(data, value)
    : crc32Range(data, 0, data.length, value);
}

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

/** `value` (a u32, or an int32 of the same bits) little-endian at `buf[at]`, without Buffer's checked writes. */
function putU32(buf: Buffer, at: number, value: number): void {
  buf[at] = value;
  buf[at + 1] = value >>> 8;
  buf[at + 2] = value >>> 16;
  buf[at + 3] = value >>> 24;
}

/**
 * Writes the frame of `payload` with sequence number `seq` into `target` at
 * `offset`; `target` must have `frameBytes(payload.length)` bytes there.
 * Returns the offset just past the frame.
 *
 * The log's cost per record: the header is stored byte by byte (Buffer's writeUInt32LE checks its
 * arguments on every call), and the payload's CRC is taken from its copy in `target`, so that the
 * checksum loop always reads the same kind of buffer whatever the caller's payload is.
 */
export function writeFrame(target: Buffer, offset: number, seq: number, payload: Uint8Array): number {
  const length = payload.length;
  const start = offset + FRAME_HEADER_BYTES;
  target[offset] = 0xff; // FRAME_MAGIC
  target[offset + 1] = 0x62;
  target[offset + 2] = 0x70;
  target[offset + 3] = 0x01;
  putU32(target, offset + 4, length);
  const low = seq % TWO_32;
  putU32(target, offset + 8, low);
  putU32(target, offset + 12, (seq - low) / TWO_32);
  target.set(payload, start);
  putU32(
    target,
    offset + 16,
    length >= NATIVE_FROM && nativeCrc32 !== undefined
      ? nativeCrc32(payload)
      : crc32Range(target, start, start + length),
  );
  putU32(target, offset + 20, crc32Range(target, offset, offset + 20));
  return start + length;
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
  if (crc32Range(buf, offset, offset + 20) !== buf.readUInt32LE(offset + 20)) return false;
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
