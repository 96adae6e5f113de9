/**
 * Durable mode on a real full disk (ENOSPC): a 2 MiB tmpfs under a writable whose maxBytes is far
 * larger. The stream blocks (write() false, 'blocked', utilization 1) instead of failing or dropping,
 * resumes by itself once the sink has delivered enough for acknowledged segments to be deleted, and
 * loses nothing; destroyed while the disk is full, the writes that never reached it are dead-lettered
 * (their callbacks fail) and every write that completed is still on disk. Mounting needs root (CI runs
 * as root); elsewhere these tests are skipped, and their names say why.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BackpressureState, DurableErrorCodes, ErrorCodes, type BackpressureWritable } from '../../lib';
import { SegmentLog } from '../../lib/durable';
import { expectConserved, range } from '../helpers/core-helpers';
import { removeDir, tempDir } from '../helpers/durable-helpers';
import { closed, durableWritable, endAndFinish, waitFor } from '../helpers/durable-writable';

function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function unmount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'ignore' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'ignore' }); // a failed test left a file open: detach anyway
  }
}

// Decided once, at load, so that a machine that cannot mount shows these tests as skipped.
const probe = tempDir('tmpfs-probe-');
const canMount = process.getuid?.() === 0 && mountTmpfs(probe, '1m');
if (canMount) unmount(probe);
removeDir(probe);
const describeMounted = canMount ? describe : describe.skip;
const why = canMount ? '' : ' (SKIPPED: mounting a tmpfs needs root with CAP_SYS_ADMIN)';

let root: string;
let dir: string;
beforeEach(() => {
  if (!canMount) return;
  root = tempDir('writable-enospc-');
  dir = join(root, 'mnt');
  mkdirSync(dir);
  if (!mountTmpfs(dir, '2m')) throw new Error('mounting the tmpfs failed');
});
afterEach(() => {
  if (!canMount) return;
  unmount(dir);
  removeDir(root);
});

interface Big {
  id: number;
  pad: string;
}
const big = (id: number): Big => ({ id, pad: 'x'.repeat(1000) });
const DURABLE = { maxBytes: 64 * 1024 * 1024, segmentBytes: 128 * 1024 };

/** A sink that holds every batch until released. */
function heldSink() {
  const waiting: Array<() => void> = [];
  const delivered: number[] = [];
  return {
    delivered,
    flush: (batch: Big[]) =>
      new Promise<void>((resolve) =>
        waiting.push(() => {
          delivered.push(...batch.map((b) => b.id));
          resolve();
        }),
      ),
    release(): void {
      for (const r of waiting.splice(0)) r();
    },
  };
}

/** The logs the writables of a test opened (to read `full`: why the log refuses appends). */
let logs: SegmentLog[] = [];
beforeEach(() => {
  logs = [];
  const open = SegmentLog.open.bind(SegmentLog);
  jest.spyOn(SegmentLog, 'open').mockImplementation(async (options) => {
    const log = await open(options);
    logs.push(log);
    return log;
  });
});
afterEach(() => jest.restoreAllMocks());

/**
 * Writes (waiting for 'drain' when told to) until the disk is full: the writer is blocked and the log
 * reports ENOSPC, far below maxBytes.
 */
async function fillDisk(w: BackpressureWritable<Big>, write: () => boolean): Promise<void> {
  for (let n = 0; ; n++) {
    if (n > 10_000) throw new Error('10 MB into a 2 MB disk and it never filled');
    if (write()) continue;
    let drained = false;
    const onDrain = (): void => void (drained = true);
    w.once('drain', onDrain);
    await waitFor(() => drained || logs[0]?.full === 'enospc', 'drain or a full disk');
    w.off('drain', onDrain);
    if (!drained) return;
  }
}

describeMounted(`a real full disk under a durable writable${why}`, () => {
  test('ENOSPC blocks the writer (not an error, nothing dropped); it resumes as the sink frees space; every id delivered in order', async () => {
    const sink = heldSink();
    const w = durableWritable<Big>(dir, { batchSize: 32, maxBufferSize: 64, durable: DURABLE, flush: sink.flush });
    const errors: Error[] = [];
    w.on('error', (err) => errors.push(err));
    const completed: number[] = [];
    let id = 0;
    const write = (mine: number): boolean =>
      w.write(big(mine), (err?: Error | null) => (err ? errors.push(err) : completed.push(mine)));
    // Fill the 2 MiB disk: the sink holds everything, so nothing is acknowledged.
    await fillDisk(w, () => write(id++));
    const full = w.getMetrics();
    expect(full.state).toBe(BackpressureState.BLOCKED);
    expect(full.bufferUtilization).toBe(1);
    expect(full.bytesOnDisk).toBeLessThan(DURABLE.maxBytes / 10); // blocked by the disk, not by maxBytes
    expect(logs[0]?.full).toBe('enospc');
    expect(errors).toEqual([]);
    expectConserved(full);

    // The sink starts delivering: acknowledged segments are deleted, the commit that hit ENOSPC goes through.
    const releasing = setInterval(() => sink.release(), 2);
    await once(w, 'drain');
    const total = id + 2000; // then twice the disk's size more
    while (id < total) if (!write(id++)) await once(w, 'drain');
    await endAndFinish(w);
    clearInterval(releasing);
    expect(errors).toEqual([]);
    expect(sink.delivered).toEqual(range(total));
    expect(completed).toEqual(range(total));
    expect(w.getMetrics()).toMatchObject({ eventsFlushed: total, eventsDeadLettered: 0, bufferSize: 0 });
  }, 60_000);

  test('destroyed on a full disk: writes that never reached it are dead-lettered and fail; every completed write is still on disk', async () => {
    const taken: number[] = [];
    const failed: number[] = [];
    const codes = new Set<string>();
    const completed: number[] = [];
    const w = durableWritable<Big>(dir, {
      batchSize: 32,
      maxBufferSize: 64,
      durable: DURABLE,
      onDeadLetter: (batch) => void taken.push(...batch.map((b) => b.id)),
      flush: () => new Promise<void>(() => undefined),
    });
    let id = 0;
    const write = (mine: number): boolean =>
      w.write(big(mine), (err?: Error | null) => {
        if (err === null || err === undefined) completed.push(mine);
        else {
          failed.push(mine);
          codes.add((err as { code?: string }).code ?? '');
        }
      });
    await fillDisk(w, () => write(id++));
    for (let i = 0; i < 5; i++) write(id++); // waiting for space
    expect(w.state).toBe(BackpressureState.BLOCKED);
    const gone = closed(w);
    w.destroy();
    expect(await gone).toBeNull();
    expect(failed.length).toBeGreaterThan(0);
    expect([...failed].sort((a, b) => a - b)).toEqual([...taken].sort((a, b) => a - b));
    expect([...completed, ...failed].sort((a, b) => a - b)).toEqual(range(id));
    const m = w.getMetrics();
    expect(m.eventsDeadLettered).toBe(failed.length);
    expectConserved(m);

    const next: number[] = [];
    const again = durableWritable<Big>(dir, {
      durable: DURABLE,
      flush: async (batch) => void next.push(...batch.map((b) => b.id)),
    });
    await endAndFinish(again);
    expect(next).toEqual([...completed].sort((a, b) => a - b));
    // Waiting for space (no record), or appended but never committed (the log closed on a full disk).
    expect([...codes].every((code) => code === ErrorCodes.DESTROYED || code === DurableErrorCodes.CLOSED)).toBe(true);
  }, 60_000);
});
