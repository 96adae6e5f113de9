/**
 * Durable mode, a full log (maxBytes): the stream blocks — write() false, state 'blocked',
 * utilization 1 — and takes writes again ('drain') once acknowledged segments are deleted; nothing is
 * lost. The pressure states follow the disk's fill (utilization = max(log bytes / maxBytes, items not
 * yet on disk / maxBufferSize)), checked against the watermark oracle. Composed with a drop strategy,
 * the stage decides while the log is full: what it drops is reported, the rest delivered.
 */
import { once } from 'node:events';
import { backpressure, BackpressureState, type DropEvent } from '../../lib';
import { Readable } from '../../lib/util/stream-classes';
import { pipeline } from 'node:stream/promises';
import { expectConserved, range } from '../helpers/core-helpers';
import { removeDir, tempDir } from '../helpers/durable-helpers';
import { durableWritable, endAndFinish, waitFor } from '../helpers/durable-writable';
import { expectedLevel, LEVELS } from '../helpers/watermark-oracle';

let dir: string;
beforeEach(() => {
  dir = tempDir('durable-full-');
});
afterEach(() => removeDir(dir));

interface Padded {
  id: number;
  pad: string;
}
const PAD = 'x'.repeat(80); // records of ~100 bytes: ~8 per 1 KiB segment
const padded = (id: number): Padded => ({ id, pad: PAD });
const MAX_BYTES = 4096;

/** A sink that holds every batch until released. */
function heldSink() {
  const batches: Array<{ ids: number[]; resolve: () => void }> = [];
  const delivered: number[] = [];
  return {
    batches,
    delivered,
    flush: (batch: Padded[]) =>
      new Promise<void>((resolve) =>
        batches.push({
          ids: batch.map((p) => p.id),
          resolve: () => {
            delivered.push(...batch.map((p) => p.id));
            resolve();
          },
        }),
      ),
    releaseAll(): void {
      for (const b of batches.splice(0)) b.resolve();
    },
  };
}

test('a full log blocks the writer (write() false, blocked, utilization 1); the sink frees space, drain comes, nothing is lost', async () => {
  const sink = heldSink();
  const w = durableWritable<Padded>(dir, { batchSize: 4, durable: { maxBytes: MAX_BYTES }, flush: sink.flush });
  await new Promise<void>((resolve) => w.write(padded(0), () => resolve())); // the log is open
  let id = 1;
  let accepted = true;
  while (accepted) {
    accepted = w.write(padded(id++));
    if (id > 1000) throw new Error('4 KiB took 1000 records of 100 bytes and never blocked');
    if (accepted) await new Promise((resolve) => setImmediate(resolve)); // let appends commit
  }
  // The last write was taken (it waits for space), but refused further writes.
  let m = w.getMetrics();
  expect(m.state).toBe(BackpressureState.BLOCKED);
  expect(m.bufferUtilization).toBe(1);
  expect(m.bytesOnDisk).toBeLessThanOrEqual(MAX_BYTES);
  expect(m.eventsAccepted).toBe(id);
  expectConserved(m);
  const drained = once(w, 'drain');
  // Deliver: acknowledged records free whole segments, the waiting item is appended, the writer resumes.
  const releasing = setInterval(() => sink.releaseAll(), 1);
  await drained;
  m = w.getMetrics();
  expect(m.state).not.toBe(BackpressureState.BLOCKED);
  expectConserved(m);
  for (let i = 0; i < 50; i++) if (!w.write(padded(id++))) await once(w, 'drain');
  await endAndFinish(w);
  clearInterval(releasing);
  expect(sink.delivered).toEqual(range(id));
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: id, bufferSize: 0, eventsDeadLettered: 0 });
});

test('pipeline() into a durable writable whose log is 50× smaller than the data: blocks and resumes, every id delivered in order, the log never over maxBytes', async () => {
  const sink = heldSink();
  const releasing = setInterval(() => sink.releaseAll(), 2);
  // maxBufferSize also bounds the items accepted before they are on disk (while the log opens, or is full).
  const w = durableWritable<Padded>(dir, {
    batchSize: 8,
    maxBufferSize: 32,
    durable: { maxBytes: MAX_BYTES },
    flush: sink.flush,
  });
  let mostOnDisk = 0;
  let blocked = 0;
  w.on('state', (change) => {
    if (change.to === BackpressureState.BLOCKED) blocked++;
    mostOnDisk = Math.max(mostOnDisk, w.getMetrics().bytesOnDisk);
  });
  const source = Readable.from(
    (function* () {
      for (let id = 0; id < 2000; id++) yield padded(id);
    })(),
  );
  await pipeline(source, w);
  clearInterval(releasing);
  expect(sink.delivered).toEqual(range(2000));
  expect(blocked).toBeGreaterThan(0);
  expect(mostOnDisk).toBeLessThanOrEqual(MAX_BYTES);
});

test('the pressure states follow the fill of the log (the watermark rules on log bytes / maxBytes)', async () => {
  const sink = heldSink(); // holds everything: the log only fills
  const w = durableWritable<Padded>(dir, {
    batchSize: 1000,
    maxBufferSize: 1000,
    durable: { maxBytes: MAX_BYTES },
    flush: sink.flush,
  });
  const config = { lowWatermark: 0.5, highWatermark: 0.8, hysteresis: 0.05 };
  let level = 0;
  const seen: string[] = [];
  for (let id = 0; ; id++) {
    await new Promise<void>((resolve) => w.write(padded(id), () => resolve()));
    const m = w.getMetrics();
    // Every write is on disk: the disk's fill is the utilization.
    expect(m.bufferUtilization).toBeCloseTo(m.bytesOnDisk / MAX_BYTES, 10);
    level = expectedLevel(level, m.bufferUtilization, config);
    expect(m.state).toBe(LEVELS[level]);
    seen.push(m.state);
    if (m.bufferUtilization > 0.9) break;
  }
  expect(new Set(seen)).toEqual(new Set(['normal', 'elevated', 'critical']));
  w.destroy();
});

test('composed with drop-newest: while the log is full the stage decides (drops are reported), the rest is delivered; nothing vanishes', async () => {
  const sink = heldSink();
  const bp = backpressure<Padded>({
    strategy: 'drop-newest',
    capacity: 10,
    batchSize: 4,
    minFlushIntervalMs: 0,
    durable: { dir, maxBytes: MAX_BYTES, segmentBytes: 1024, checkpointIntervalMs: 0 },
    flush: sink.flush,
  });
  const dropped: number[] = [];
  bp.on('drop', (event: DropEvent<Padded>) => dropped.push(event.item.id));
  bp.write(padded(0));
  await waitFor(() => bp.getMetrics().bytesOnDisk > 0, 'the log to open'); // a burst before that waits in memory
  for (let id = 1; id < 300; id++) {
    bp.write(padded(id));
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(dropped.length).toBeGreaterThan(0); // the sink held everything: the log filled, the stage dropped
  expectConserved(bp.getMetrics());
  const releasing = setInterval(() => sink.releaseAll(), 1);
  await endAndFinish(bp);
  clearInterval(releasing);
  expect([...sink.delivered, ...dropped].sort((a, b) => a - b)).toEqual(range(300));
  expect(sink.delivered).toEqual([...sink.delivered].sort((a, b) => a - b));
  expect(bp.getMetrics()).toMatchObject({ eventsDropped: dropped.length, eventsFlushed: 300 - dropped.length });
});
