/**
 * A real full disk (ENOSPC), on a 2 MiB tmpfs mounted for the test: the log
 * reports it (full === 'enospc', appends refused with a coded condition, the
 * pending flush waits) instead of throwing or dropping anything, and resumes by
 * itself once acknowledged segments are deleted. Mounting needs root (CI runs
 * as root); elsewhere these tests are skipped, and their names say why.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DurableErrorCodes, isDurableError, type SegmentLog } from '../../lib/durable';
import { idOf, openLog, range, readAll, recordOf, removeDir, tempDir } from '../helpers/durable-helpers';

/** Mounts a tmpfs of `size` at `dir`; false when this machine does not let us. */
function mountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function unmount(dir: string): void {
  execFileSync('umount', [dir], { stdio: 'ignore' });
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
  root = tempDir('disk-full-');
  dir = join(root, 'mnt');
  mkdirSync(dir);
  if (!mountTmpfs(dir, '2m')) throw new Error('mounting the tmpfs failed');
});
afterEach(() => {
  if (!canMount) return;
  unmount(dir);
  removeDir(root);
});

const RECORD_PAD = 1000;

/**
 * Appends records of ~1 KiB in bursts until the disk is full: the log takes
 * appends into memory until a commit hits ENOSPC, then reports it. Returns how
 * many were appended; `durable` holds how many each resolved flush confirmed.
 */
async function fillDisk(log: SegmentLog, confirmed: { upTo: number }): Promise<number> {
  let id = 0;
  while (log.full !== 'enospc') {
    if (id > 20_000) throw new Error('20 MB appended to a 2 MB filesystem and still not full');
    for (let i = 0; i < 32 && log.canAppend(RECORD_PAD + 10); i++) log.append(recordOf(id++, RECORD_PAD));
    const upTo = id;
    void log.flush().then(
      () => (confirmed.upTo = Math.max(confirmed.upTo, upTo)),
      () => undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return id;
}

describeMounted(`a real full disk${why}`, () => {
  test('ENOSPC is reported, not thrown; the flush waits; appends resume once acknowledged segments are deleted; nothing is lost', async () => {
    const log = await openLog(dir, { maxBytes: 64 * 1024 * 1024, segmentBytes: 128 * 1024 });
    const confirmed = { upTo: 0 };
    const appended = await fillDisk(log, confirmed);
    expect(log.full).toBe('enospc');
    expect(log.canAppend(10)).toBe(false);
    let err: unknown;
    try {
      log.append(recordOf(appended, RECORD_PAD));
    } catch (e) {
      err = e;
    }
    expect(isDurableError(err, DurableErrorCodes.FULL)).toBe(true);
    expect((err as { reason: string }).reason).toBe('enospc');
    expect(log.stats().pendingBytes).toBeGreaterThan(0); // held in memory, not dropped
    const everything = log.flush();
    let flushed = false;
    void everything.then(() => (flushed = true));

    // The consumer catches up: every acknowledged segment is deleted and the writer retries.
    const delivered: number[] = [];
    while (!flushed || log.readable) {
      const entries = await log.read(200);
      for (const entry of entries) {
        expect(entry.error).toBeNull();
        delivered.push(idOf(entry.payload));
        log.ack(entry.seq);
      }
      if (entries.length === 0) await Promise.race([log.waitReadable(), everything]);
      await log.checkpointNow();
    }
    await everything;
    expect(confirmed.upTo).toBe(appended);

    // Appends are taken again, and what they carry arrives too.
    await log.waitForSpace(RECORD_PAD + 10);
    for (const id of range(appended, appended + 100)) log.append(recordOf(id, RECORD_PAD));
    await log.flush();
    for (const entry of await readAll(log, { ack: true })) delivered.push(idOf(entry.payload));
    expect(delivered).toEqual(range(0, appended + 100)); // all of them, once each, in order
    await log.close();
  });

  test('closing while the disk is full: the waiting flush rejects with ERR_DURABLE_CLOSED; what was confirmed is there after reopening', async () => {
    let log = await openLog(dir, { maxBytes: 64 * 1024 * 1024, segmentBytes: 128 * 1024 });
    const confirmed = { upTo: 0 };
    const appended = await fillDisk(log, confirmed);
    const pending = log.flush();
    await log.close();
    await expect(pending).rejects.toMatchObject({ code: DurableErrorCodes.CLOSED });
    log = await openLog(dir, { maxBytes: 64 * 1024 * 1024, segmentBytes: 128 * 1024 });
    const ids = (await readAll(log, { ack: true })).map((e) => idOf(e.payload));
    expect(ids.length).toBeGreaterThanOrEqual(confirmed.upTo);
    expect(ids).toEqual(range(0, ids.length)); // a prefix, in order
    expect(ids.length).toBeLessThan(appended);
    await log.close();
  });
});
