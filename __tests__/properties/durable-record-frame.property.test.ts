/**
 * The record frame and the cursor that walks a segment: a frame round-trips,
 * and whatever happens to the bytes of a segment — one bit flipped anywhere, the
 * file cut at any offset, garbage or zeros in between — the cursor hands out
 * every undamaged record exactly, never a damaged one as good, resynchronises
 * on the next record, and always terminates.
 */
import fc from 'fast-check';
import { promises as fsp, writeFileSync } from 'node:fs';
import zlib from 'node:zlib';
import { join } from 'node:path';
import { FrameCursor } from '../../lib/durable/frame-cursor';
import {
  FRAME_HEADER_BYTES,
  correctHeader,
  crc32,
  crc32Range,
  encodeFrame,
  newFrameHeader,
  payloadMatches,
  readFrameHeader,
  writeFrame,
} from '../../lib/durable/record-frame';
import { removeDir, tempDir } from '../helpers/durable-helpers';

interface Walked {
  /** Frames with a good payload: [seq, payload as latin1]. */
  good: Array<[number, string]>;
  /** Seqs of frames whose header was good but payload failed its CRC. */
  badPayload: number[];
  garbageBytes: number;
  steps: number;
}

let dir: string;
beforeAll(() => {
  dir = tempDir('frame-');
});
afterAll(() => removeDir(dir));

/** Writes `bytes` to a file and walks it with a cursor (small chunks, so frames straddle refills). */
async function walk(bytes: Buffer, chunkBytes = 64): Promise<Walked> {
  const path = join(dir, 'walk.seg');
  writeFileSync(path, bytes);
  const handle = await fsp.open(path, 'r');
  const result: Walked = { good: [], badPayload: [], garbageBytes: 0, steps: 0 };
  try {
    const cursor = new FrameCursor(handle, 0, chunkBytes);
    for (;;) {
      const before = cursor.offset;
      const event = await cursor.next(bytes.length);
      if (event === 'end') break;
      expect(cursor.offset).toBeGreaterThan(before); // every step advances: no loop possible
      result.steps++;
      if (event === 'garbage') result.garbageBytes += cursor.garbageBytes;
      else if (cursor.payloadOk) result.good.push([cursor.header.seq, cursor.payload.toString('latin1')]);
      else result.badPayload.push(cursor.header.seq);
    }
  } finally {
    await handle.close();
  }
  return result;
}

const payloadArb = fc.uint8Array({ minLength: 0, maxLength: 40 }).map((a) => Buffer.from(a));
const recordsArb = fc.array(payloadArb, { minLength: 1, maxLength: 12 });

function segmentOf(payloads: Buffer[], firstSeq = 100): { bytes: Buffer; starts: number[] } {
  const starts: number[] = [];
  let at = 0;
  const frames = payloads.map((p, i) => {
    starts.push(at);
    const frame = encodeFrame(firstSeq + i, p);
    at += frame.length;
    return frame;
  });
  return { bytes: Buffer.concat(frames), starts };
}

test('a frame round-trips its seq and payload, and its header and payload checks pass', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), payloadArb, (seq, payload) => {
      const frame = encodeFrame(seq, payload);
      expect(frame.length).toBe(FRAME_HEADER_BYTES + payload.length);
      const header = newFrameHeader();
      expect(readFrameHeader(frame, 0, header)).toBe(true);
      expect(header.seq).toBe(seq);
      expect(header.length).toBe(payload.length);
      expect(payloadMatches(frame.subarray(FRAME_HEADER_BYTES), header)).toBe(true);
    }),
  );
});

test('one flipped bit anywhere in a header is corrected to exactly what was written; a valid header has no valid neighbour', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      payloadArb,
      fc.integer({ min: 0, max: FRAME_HEADER_BYTES * 8 - 1 }),
      (seq, payload, bit) => {
        const frame = encodeFrame(seq, payload);
        const header = newFrameHeader();
        expect(correctHeader(frame, 0, header)).toBe(false); // CRC-32's distance: no valid header 1 bit away
        frame[bit >> 3] = (frame[bit >> 3] as number) ^ (1 << (bit & 7));
        const damaged = Buffer.from(frame);
        expect(readFrameHeader(frame, 0, header)).toBe(false);
        expect(correctHeader(frame, 0, header)).toBe(true);
        expect(header).toEqual({ seq, length: payload.length, payloadCrc: encodeFrame(seq, payload).readUInt32LE(16) });
        expect(frame).toEqual(damaged); // the bytes are left as found
        // Exactly one of the 192 single-bit changes checks out: the correction is never ambiguous.
        let valid = 0;
        for (let b = 0; b < FRAME_HEADER_BYTES * 8; b++) {
          frame[b >> 3] = (frame[b >> 3] as number) ^ (1 << (b & 7));
          if (readFrameHeader(frame, 0, newFrameHeader())) valid++;
          frame[b >> 3] = (frame[b >> 3] as number) ^ (1 << (b & 7));
        }
        expect(valid).toBe(1);
      },
    ),
    { numRuns: 300 },
  );
});

test('an intact segment walks back as exactly its records', async () => {
  await fc.assert(
    fc.asyncProperty(recordsArb, async (payloads) => {
      const { bytes } = segmentOf(payloads);
      const walked = await walk(bytes);
      expect(walked.good).toEqual(payloads.map((p, i) => [100 + i, p.toString('latin1')]));
      expect(walked.badPayload).toEqual([]);
      expect(walked.garbageBytes).toBe(0);
    }),
    { numRuns: 60 },
  );
});

test('one bit flipped anywhere costs exactly the record it hit: every other record comes back intact', async () => {
  await fc.assert(
    fc.asyncProperty(
      recordsArb.chain((payloads) => {
        const total = segmentOf(payloads).bytes.length;
        return fc.tuple(fc.constant(payloads), fc.integer({ min: 0, max: total * 8 - 1 }));
      }),
      async ([payloads, bit]) => {
        const { bytes, starts } = segmentOf(payloads);
        const at = bit >> 3;
        bytes[at] = (bytes[at] as number) ^ (1 << (bit & 7));
        const hit = starts.filter((s) => s <= at).length - 1;
        const walked = await walk(bytes);
        const expected = payloads
          .map((p, i) => [100 + i, p.toString('latin1')] as [number, string])
          .filter((_, i) => i !== hit);
        expect(walked.good).toEqual(expected);
        // The damaged record is either found with a failing payload, or skipped as garbage: never good.
        if (walked.badPayload.length === 1) {
          expect(walked.badPayload).toEqual([100 + hit]);
          expect(at - (starts[hit] as number)).toBeGreaterThanOrEqual(FRAME_HEADER_BYTES);
        } else {
          expect(walked.badPayload).toEqual([]);
          expect(walked.garbageBytes).toBeGreaterThan(0);
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('a segment cut at any offset yields exactly the records that end before the cut', async () => {
  await fc.assert(
    fc.asyncProperty(
      recordsArb.chain((payloads) =>
        fc.tuple(fc.constant(payloads), fc.integer({ min: 0, max: segmentOf(payloads).bytes.length })),
      ),
      async ([payloads, cut]) => {
        const { bytes, starts } = segmentOf(payloads);
        const walked = await walk(bytes.subarray(0, cut));
        const complete = payloads.filter((p, i) => (starts[i] as number) + FRAME_HEADER_BYTES + p.length <= cut);
        expect(walked.good).toEqual(complete.map((p, i) => [100 + i, p.toString('latin1')]));
        expect(walked.badPayload).toEqual([]);
      },
    ),
    { numRuns: 200 },
  );
});

test('garbage or zero fill between records is skipped and reading resynchronises on the next record', async () => {
  await fc.assert(
    fc.asyncProperty(
      recordsArb,
      fc.nat(),
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 200 }).map((a) => Buffer.from(a)),
        fc.integer({ min: 1, max: 300 }).map((n) => Buffer.alloc(n)),
      ),
      async (payloads, where, junk) => {
        const { bytes, starts } = segmentOf(payloads);
        const index = where % (payloads.length + 1);
        const at = index < payloads.length ? (starts[index] as number) : bytes.length;
        const damaged = Buffer.concat([bytes.subarray(0, at), junk, bytes.subarray(at)]);
        const walked = await walk(damaged);
        // Junk cannot hide a record; random junk may (2^-32) contain a frame of its own, which would be extra.
        const expected = payloads.map((p, i) => [100 + i, p.toString('latin1')] as [number, string]);
        for (const record of expected) expect(walked.good).toContainEqual(record);
        expect(walked.good.filter(([seq]) => seq >= 100 && seq < 100 + payloads.length)).toEqual(expected);
      },
    ),
    { numRuns: 200 },
  );
});

test('text payloads cannot contain a false frame start: the magic begins with 0xFF, which UTF-8 never uses', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
      expect(Buffer.from(text, 'utf8').includes(0xff)).toBe(false);
    }),
  );
});

/**
 * Format version 1, byte for byte, as written by a plain encoder (Buffer's checked writes and zlib's
 * CRC-32): writeFrame stores the header byte by byte and takes short payloads' CRC from a JS table,
 * and the files it writes must stay exactly what every reader of version 1 expects.
 */
function referenceFrame(seq: number, payload: Buffer): Buffer {
  const frame = Buffer.alloc(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32LE(0x017062ff, 0);
  frame.writeUInt32LE(payload.length, 4);
  frame.writeUInt32LE(seq % 2 ** 32, 8);
  frame.writeUInt32LE(Math.floor(seq / 2 ** 32), 12);
  frame.writeUInt32LE(zlib.crc32(payload), 16);
  frame.writeUInt32LE(zlib.crc32(frame.subarray(0, 20)), 20);
  payload.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

const anyLengthPayloadArb = fc.uint8Array({ minLength: 0, maxLength: 600 }).map((a) => Buffer.from(a));

test('writeFrame writes format version 1 exactly: the bytes of a plain encoder, at any payload length and seq', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      anyLengthPayloadArb,
      fc.nat({ max: 40 }),
      (seq, payload, at) => {
        const expected = referenceFrame(seq, payload);
        const target = Buffer.alloc(at + expected.length + 3, 0xaa);
        expect(writeFrame(target, at, seq, payload)).toBe(at + expected.length);
        expect(target.subarray(at, at + expected.length).equals(expected)).toBe(true);
        expect(target.subarray(0, at).every((b) => b === 0xaa)).toBe(true); // nothing outside the frame
        expect(target.subarray(at + expected.length).every((b) => b === 0xaa)).toBe(true);
      },
    ),
    { numRuns: 300 },
  );
});

test('crc32 and crc32Range equal zlib.crc32 at every length (both sides of the native threshold), offset and running value', () => {
  fc.assert(
    fc.property(anyLengthPayloadArb, fc.nat({ max: 20 }), fc.nat({ max: 20 }), (bytes, cutStart, cutEnd) => {
      expect(crc32(bytes)).toBe(zlib.crc32(bytes));
      const start = Math.min(cutStart, bytes.length);
      const end = Math.max(start, bytes.length - cutEnd);
      expect(crc32Range(bytes, start, end)).toBe(zlib.crc32(bytes.subarray(start, end)));
      // A running checksum (recovery checks a large payload a chunk at a time): the same as in one piece.
      expect(crc32(bytes.subarray(end), crc32(bytes.subarray(0, end)))).toBe(zlib.crc32(bytes));
      expect(crc32Range(bytes, start, bytes.length, crc32Range(bytes, 0, start))).toBe(zlib.crc32(bytes));
    }),
    { numRuns: 300 },
  );
});
