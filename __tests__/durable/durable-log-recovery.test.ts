/**
 * Reopening a log after damage: a torn tail, a zero-filled tail, a corrupt
 * record in the middle, a missing segment, a lost checkpoint, leftovers of a
 * crash during deletion, and files of pure garbage. Every case opens without
 * help, hands out every undamaged unacknowledged record in order, and reports
 * each damaged one (by sequence number, with its raw bytes and a coded error).
 */
import fc from 'fast-check';
import { appendFileSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DurableErrorCodes } from '../../lib/durable';
import { CHECKPOINT_FILE } from '../../lib/durable/checkpoint-file';
import { FRAME_HEADER_BYTES, encodeFrame } from '../../lib/durable/record-frame';
import {
  appendIds,
  coveredSeqs,
  fileSize,
  goodIds,
  idOf,
  openLog,
  range,
  readAll,
  recordOf,
  removeDir,
  segmentPaths,
  tempDir,
} from '../helpers/durable-helpers';

let dir: string;
beforeEach(() => {
  dir = tempDir('recovery-');
});
afterEach(() => removeDir(dir));

/** A closed log holding records 0..n-1, none acknowledged. */
async function logWith(n: number, segmentBytes = 4096): Promise<void> {
  const log = await openLog(dir, { segmentBytes });
  await appendIds(log, range(0, n));
  await log.close();
}

function lastSegment(): string {
  const paths = segmentPaths(dir);
  return paths[paths.length - 1] as string;
}

/** Byte offsets of the frames of a segment file (walking the lengths of an undamaged file). */
function frameStarts(path: string): number[] {
  const bytes = readFileSync(path);
  const starts: number[] = [];
  for (let at = 0; at + FRAME_HEADER_BYTES <= bytes.length; at += FRAME_HEADER_BYTES + bytes.readUInt32LE(at + 4))
    starts.push(at);
  return starts;
}

function flipBit(path: string, byte: number, bit = 0): void {
  const bytes = readFileSync(path);
  bytes[byte] = (bytes[byte] as number) ^ (1 << bit);
  writeFileSync(path, bytes);
}

describe('torn and zero-filled tails', () => {
  test('a frame cut short at the end is truncated; every record before it is replayed and appends continue after it', async () => {
    await logWith(50);
    const tail = lastSegment();
    const sizeBefore = fileSize(tail);
    appendFileSync(tail, encodeFrame(50, recordOf(50)).subarray(0, 30)); // a write the crash cut short
    const log = await openLog(dir);
    expect(log.recovery.truncatedBytes).toBe(30);
    expect(fileSize(tail)).toBe(sizeBefore);
    log.append(recordOf(1000));
    await log.flush();
    const entries = await readAll(log);
    expect(goodIds(entries)).toEqual([...range(0, 50), 1000]);
    expect(coveredSeqs(entries)).toEqual(range(0, 51)); // the new record got seq 50: nothing skipped, nothing reused
    expect(log.corrupt).toBe(0);
    await log.close();
  });

  test('a zero-filled tail (a power loss after the file grew) is truncated and not reported as records', async () => {
    await logWith(50);
    appendFileSync(lastSegment(), Buffer.alloc(3000));
    const log = await openLog(dir);
    expect(log.recovery.truncatedBytes).toBe(3000);
    const entries = await readAll(log);
    expect(goodIds(entries)).toEqual(range(0, 50));
    expect(log.corrupt).toBe(0);
    await log.close();
  });

  test('a last record whose header arrived but whose payload did not is reported as corrupt, not truncated away', async () => {
    await logWith(50);
    const frame = encodeFrame(50, recordOf(50));
    frame.fill(0, FRAME_HEADER_BYTES); // the payload page never reached the disk
    appendFileSync(lastSegment(), frame);
    const log = await openLog(dir);
    expect(log.recovery.truncatedBytes).toBe(0);
    const entries = await readAll(log);
    expect(goodIds(entries)).toEqual(range(0, 50));
    const bad = entries.filter((e) => e.error !== null);
    expect(bad.map((e) => [e.seq, e.count, e.error?.code])).toEqual([[50, 1, DurableErrorCodes.CORRUPT_RECORD]]);
    expect(bad[0]?.payload).toEqual(Buffer.alloc(recordOf(50).length));
    expect(log.append(recordOf(51))).toBe(51);
    await log.close();
  });

  test('a last record with a flipped header bit is reported as one corrupt record and its seq is not reused', async () => {
    await logWith(50);
    const tail = lastSegment();
    const starts = frameStarts(tail);
    flipBit(tail, (starts[starts.length - 1] as number) + 5); // inside the length field
    const log = await openLog(dir);
    expect(log.recovery.truncatedBytes).toBe(0);
    const entries = await readAll(log);
    expect(goodIds(entries)).toEqual(range(0, 49));
    expect(entries.filter((e) => e.error !== null).map((e) => [e.seq, e.count])).toEqual([[49, 1]]);
    expect(log.append(recordOf(50))).toBe(50);
    await log.close();
  });
});

describe('a damaged header in the last record of the newest segment (one flipped bit is corrected to tell it from a torn write)', () => {
  const n = 6; // records 0..5 in one segment: record 5 is the last
  let pristine: Buffer;
  let tail: string;
  let last: number;
  beforeEach(async () => {
    await logWith(n);
    tail = lastSegment();
    pristine = readFileSync(tail);
    last = frameStarts(tail)[n - 1] as number;
  });

  /** Restores the log as written (no checkpoint, no other segment), with `bit` of the last header flipped. */
  function damageLast(bit: number | undefined, after: Buffer): void {
    for (const path of segmentPaths(dir)) unlinkSync(path);
    writeFileSync(join(dir, CHECKPOINT_FILE), Buffer.alloc(0));
    const bytes = Buffer.from(pristine);
    if (bit !== undefined) bytes[last + (bit >> 3)] = (bytes[last + (bit >> 3)] as number) ^ (1 << (bit & 7));
    writeFileSync(tail, Buffer.concat([bytes, after]));
  }

  /** What a crash or a power loss may append after the last record: variant (a), (b) or (c), varied by `bit`. */
  function afterIt(kind: 'nothing' | 'torn frame' | 'zero fill', bit: number): Buffer {
    if (kind === 'nothing') return Buffer.alloc(0);
    if (kind === 'zero fill') return Buffer.alloc(1 + ((bit * 37) % 3000));
    const next = encodeFrame(n, recordOf(n)); // the next record, cut short: header whole or not
    return next.subarray(0, 1 + ((bit * 7) % (next.length - 1)));
  }

  test.each(['nothing', 'torn frame', 'zero fill'] as const)(
    'every one of the 192 header bits, with %s after it: the record is reported corrupt by its seq, nothing before it is lost, only what follows it is truncated',
    async (kind) => {
      const wrong: string[] = [];
      for (let bit = 0; bit < FRAME_HEADER_BYTES * 8; bit++) {
        const after = afterIt(kind, bit);
        damageLast(bit, after);
        const log = await openLog(dir);
        try {
          const entries = await readAll(log);
          const bad = entries.filter((e) => e.error !== null).map((e) => [e.seq, e.count, e.error?.code]);
          const outcome = {
            truncated: log.recovery.truncatedBytes,
            size: fileSize(tail),
            good: goodIds(entries),
            bad,
            next: log.append(recordOf(100)),
          };
          const expected = {
            truncated: after.length,
            size: pristine.length,
            good: range(0, n - 1),
            bad: [[n - 1, 1, DurableErrorCodes.CORRUPT_RECORD]],
            next: n, // the damaged record keeps its seq: none is reused
          };
          if (JSON.stringify(outcome) !== JSON.stringify(expected))
            wrong.push(`bit ${bit}: ${JSON.stringify(outcome)}`);
        } finally {
          await log.close();
        }
      }
      expect(wrong).toEqual([]);
    },
  );

  test.each(['torn frame', 'zero fill'] as const)(
    'an undamaged log with a %s after it: the tail is truncated silently, every record replays',
    async (kind) => {
      for (const bit of [0, 3, 50, 191]) {
        const after = afterIt(kind, bit);
        damageLast(undefined, after);
        const log = await openLog(dir);
        try {
          expect(log.recovery.truncatedBytes).toBe(after.length);
          const entries = await readAll(log);
          expect(goodIds(entries)).toEqual(range(0, n));
          expect(log.corrupt).toBe(0);
          expect(log.append(recordOf(100))).toBe(n);
        } finally {
          await log.close();
        }
      }
    },
  );

  test('with a checkpoint pointing into the segment (the scan starts there): a damaged last record before a torn frame is still reported', async () => {
    const log = await openLog(dir);
    for (const entry of await log.read(3)) log.ack(entry.seq); // records 0..2 acknowledged
    await log.checkpointNow();
    await log.close();
    flipBit(tail, last + 12, 5); // the seq field of record n - 1
    appendFileSync(tail, encodeFrame(n, recordOf(n)).subarray(0, 40)); // of 45 bytes
    const reopened = await openLog(dir);
    expect(reopened.recovery.truncatedBytes).toBe(40);
    const entries = await readAll(reopened);
    expect(goodIds(entries)).toEqual(range(3, n - 1));
    expect(entries.filter((e) => e.error !== null).map((e) => [e.seq, e.count])).toEqual([[n - 1, 1]]);
    await reopened.close();
  });

  test('the last two records both with a flipped header bit, then a torn frame: both are reported, as one range', async () => {
    const before = frameStarts(tail)[n - 2] as number;
    damageLast(77, encodeFrame(n, recordOf(n)).subarray(0, 30));
    flipBit(tail, before + 9, 2); // the seq field of record n - 2
    const log = await openLog(dir);
    expect(log.recovery.truncatedBytes).toBe(30);
    const entries = await readAll(log);
    expect(goodIds(entries)).toEqual(range(0, n - 2));
    expect(entries.filter((e) => e.error !== null).map((e) => [e.seq, e.count])).toEqual([[n - 2, 2]]);
    expect(log.append(recordOf(100))).toBe(n);
    await log.close();
  });

  test('a damaged header reported once stays reported when a later crash leaves a torn frame after it', async () => {
    damageLast(130, Buffer.alloc(0)); // the payload CRC field
    let log = await openLog(dir);
    expect((await readAll(log)).filter((e) => e.error !== null).map((e) => e.seq)).toEqual([n - 1]);
    await log.close(); // nothing acknowledged, nothing appended: the same segment is the newest again
    appendFileSync(tail, encodeFrame(n, recordOf(n)).subarray(0, 40));
    log = await openLog(dir);
    expect(log.recovery.truncatedBytes).toBe(40);
    const entries = await readAll(log);
    expect(goodIds(entries)).toEqual(range(0, n - 1));
    expect(entries.filter((e) => e.error !== null).map((e) => [e.seq, e.count])).toEqual([[n - 1, 1]]);
    await log.close();
  });
});

describe('damage in the middle', () => {
  test('a flipped payload bit costs that record only: it comes out as a corrupt entry with its raw bytes', async () => {
    await logWith(200);
    const first = segmentPaths(dir)[0] as string;
    const starts = frameStarts(first);
    flipBit(first, (starts[3] as number) + FRAME_HEADER_BYTES + 2);
    const log = await openLog(dir);
    const entries = await readAll(log, { ack: true });
    expect(goodIds(entries)).toEqual(range(0, 200).filter((id) => id !== 3));
    expect(coveredSeqs(entries)).toEqual(range(0, 200));
    const bad = entries.find((e) => e.error !== null);
    expect(bad?.seq).toBe(3);
    expect(bad?.error?.code).toBe(DurableErrorCodes.CORRUPT_RECORD);
    expect(bad?.error?.segment).toBe(first);
    expect(bad?.payload.length).toBe(recordOf(3).length);
    expect(log.corrupt).toBe(1);
    expect(log.recovered).toBe(199);
    expect(log.recovery.recoveredOnOpen).toBe(200);
    await log.close();
  });

  test('a flipped header bit: reading resynchronises on the next record; the damaged one is a corrupt range of 1', async () => {
    await logWith(200);
    const first = segmentPaths(dir)[0] as string;
    const starts = frameStarts(first);
    flipBit(first, (starts[7] as number) + 4, 6); // the length field: without resync the rest of the segment would be lost
    const log = await openLog(dir);
    const entries = await readAll(log, { ack: true });
    expect(goodIds(entries)).toEqual(range(0, 200).filter((id) => id !== 7));
    const bad = entries.filter((e) => e.error !== null);
    expect(bad.map((e) => [e.seq, e.count])).toEqual([[7, 1]]);
    expect(bad[0]?.payload.length).toBe(FRAME_HEADER_BYTES + recordOf(7).length); // the damaged frame, as found
    await log.close();
  });

  test('a segment file gone missing: its records are one corrupt range, the rest replays', async () => {
    await logWith(400);
    const paths = segmentPaths(dir);
    expect(paths.length).toBeGreaterThanOrEqual(3);
    const lost = frameStarts(paths[1] as string).length;
    unlinkSync(paths[1] as string);
    const log = await openLog(dir);
    const entries = await readAll(log, { ack: true });
    const firstCount = frameStarts(paths[0] as string).length;
    expect(goodIds(entries)).toEqual(range(0, 400).filter((id) => id < firstCount || id >= firstCount + lost));
    expect(entries.filter((e) => e.error !== null).map((e) => [e.seq, e.count])).toEqual([[firstCount, lost]]);
    expect(coveredSeqs(entries)).toEqual(range(0, 400));
    expect(log.corrupt).toBe(lost);
    await log.close();
  });

  test('a corrupt range is acknowledged by its first seq and is not handed out again', async () => {
    await logWith(400);
    unlinkSync(segmentPaths(dir)[1] as string);
    let log = await openLog(dir);
    await readAll(log, { ack: true });
    await log.close();
    log = await openLog(dir);
    expect(await readAll(log)).toEqual([]);
    await log.close();
  });
});

describe('checkpoint', () => {
  test('the checkpoint file is allocated whole (both slots) at open, so writing it later never needs disk space', async () => {
    const log = await openLog(dir);
    expect(fileSize(join(dir, CHECKPOINT_FILE))).toBe(1024);
    await appendIds(log, range(0, 10));
    for (const entry of await log.read(10)) log.ack(entry.seq);
    await log.checkpointNow();
    expect(fileSize(join(dir, CHECKPOINT_FILE))).toBe(1024);
    await log.close();
  });

  test('acknowledged records are not read again: damage inside them goes unnoticed, reading starts at the checkpoint', async () => {
    let log = await openLog(dir, { segmentBytes: 64 * 1024 });
    await appendIds(log, range(0, 100));
    const first = await log.read(50);
    for (const entry of first) log.ack(entry.seq);
    await log.close();
    const only = segmentPaths(dir);
    expect(only.length).toBe(1);
    flipBit(only[0] as string, (frameStarts(only[0] as string)[10] as number) + FRAME_HEADER_BYTES); // record 10: acknowledged
    log = await openLog(dir, { segmentBytes: 64 * 1024 });
    const entries = await readAll(log);
    expect(goodIds(entries)).toEqual(range(50, 100));
    expect(log.corrupt).toBe(0);
    await log.close();
  });

  test('a checkpoint file with both slots destroyed: replay from the oldest segment — duplicates, never a loss', async () => {
    let log = await openLog(dir);
    await appendIds(log, range(0, 300));
    for (const entry of await log.read(120)) log.ack(entry.seq);
    await log.checkpointNow();
    const oldest = idOf((await openSegmentFirstRecord()) as Buffer);
    await log.close();
    writeFileSync(join(dir, CHECKPOINT_FILE), Buffer.alloc(0)); // a 0-byte checkpoint, as a crash may leave elsewhere
    log = await openLog(dir);
    expect(log.recovery.checkpointFound).toBe(false);
    const entries = await readAll(log);
    expect(goodIds(entries)).toEqual(range(oldest, 300));
    expect(oldest).toBeLessThanOrEqual(120);
    await log.close();
  });

  test('a torn newest checkpoint slot: the other slot is used (the previous checkpoint)', async () => {
    let log = await openLog(dir);
    await appendIds(log, range(0, 300));
    const entries = await log.read(40);
    for (const entry of entries.slice(0, 10)) log.ack(entry.seq);
    await log.checkpointNow(); // generation 1 → slot 1 (bytes 512..1023)
    for (const entry of entries.slice(10, 20)) log.ack(entry.seq);
    await log.checkpointNow(); // generation 2 → slot 0 (bytes 0..511)
    await log.close();
    const file = join(dir, CHECKPOINT_FILE);
    const bytes = readFileSync(file);
    bytes.fill(0xab, 8, 40); // tear slot 0 (its checksummed body)
    writeFileSync(file, bytes);
    log = await openLog(dir);
    expect(log.recovery.checkpointFound).toBe(true);
    expect(goodIds(await readAll(log))).toEqual(range(10, 300));
    await log.close();
  });

  test('segments left behind by a crash between checkpoint and deletion are deleted at open and not replayed', async () => {
    let log = await openLog(dir);
    await appendIds(log, range(0, 400));
    const paths = segmentPaths(dir);
    const firstBytes = readFileSync(paths[0] as string);
    const inFirst = frameStarts(paths[0] as string).length;
    for (const entry of await log.read(inFirst + 5)) log.ack(entry.seq);
    await log.checkpointNow();
    expect(segmentPaths(dir)).not.toContain(paths[0]);
    await log.close();
    writeFileSync(paths[0] as string, firstBytes); // the unlink never reached the disk
    log = await openLog(dir);
    expect(log.recovery.deletedSegments).toBe(1);
    expect(segmentPaths(dir)).not.toContain(paths[0]);
    expect(goodIds(await readAll(log))).toEqual(range(inFirst + 5, 400));
    await log.close();
  });

  async function openSegmentFirstRecord(): Promise<Buffer | undefined> {
    const first = readFileSync(segmentPaths(dir)[0] as string);
    return first.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + first.readUInt32LE(4));
  }
});

describe('properties', () => {
  test('one bit flipped anywhere in a closed log: reopening hands out every other record, in order, and exactly one corrupt seq', async () => {
    const n = 150;
    await logWith(n, 2048);
    const pristine = segmentPaths(dir).map((p) => [p, readFileSync(p)] as const);
    const totalBits = pristine.reduce((sum, [, bytes]) => sum + bytes.length * 8, 0);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: totalBits - 1 }), async (bit) => {
        for (const [path, bytes] of pristine) writeFileSync(path, bytes);
        writeFileSync(join(dir, CHECKPOINT_FILE), Buffer.alloc(0));
        let at = bit >> 3;
        for (const [path, bytes] of pristine) {
          if (at < bytes.length) {
            flipBit(path, at, bit & 7);
            break;
          }
          at -= bytes.length;
        }
        const log = await openLog(dir, { segmentBytes: 2048 });
        try {
          const entries = await readAll(log);
          expect(coveredSeqs(entries)).toEqual(range(0, n));
          const good = goodIds(entries);
          expect(good.length).toBe(n - 1);
          expect(good).toEqual([...good].sort((a, b) => a - b));
          expect(entries.filter((e) => e.error !== null).map((e) => e.count)).toEqual([1]);
          expect(log.corrupt).toBe(1);
        } finally {
          await log.close();
        }
      }),
      { numRuns: 120 },
    );
  });

  test('segment files of pure garbage or zeros never make open or read throw, hang, or hand out a good record', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 1000 }),
            fc.oneof(
              fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a)),
              fc.integer({ min: 0, max: 3000 }).map((k) => Buffer.alloc(k)),
            ),
          ),
          { minLength: 1, maxLength: 4 },
        ),
        fc.uint8Array({ maxLength: 1100 }),
        async (files, checkpoint) => {
          removeDir(dir);
          dir = tempDir('garbage-');
          for (const [firstSeq, bytes] of files)
            writeFileSync(join(dir, `${String(firstSeq).padStart(20, '0')}.seg`), bytes);
          writeFileSync(join(dir, CHECKPOINT_FILE), Buffer.from(checkpoint));
          const log = await openLog(dir);
          try {
            const entries = await readAll(log, { ack: true });
            expect(goodIds(entries)).toEqual([]);
            const seqs = coveredSeqs(entries);
            expect(seqs).toEqual(seqs.length === 0 ? [] : range(seqs[0] as number, (seqs[0] as number) + seqs.length));
            expect(log.append(recordOf(7))).toBeGreaterThanOrEqual(
              seqs.length === 0 ? 0 : (seqs[seqs.length - 1] as number) + 1,
            );
            await log.flush();
            expect(goodIds(await readAll(log))).toEqual([7]);
          } finally {
            await log.close();
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
