/**
 * One process per log directory: a `LOCK` file naming its holder.
 *
 * - The lock file appears atomically with its whole content (written to a
 *   temporary file, then hard-linked into place, which fails if a lock exists),
 *   so there is no empty lock file to puzzle over after a crash.
 * - A second opener gets ERR_DURABLE_LOCKED naming the holder's pid.
 * - A lock whose holder is gone is taken over without help: the pid no longer
 *   exists (kill(pid, 0) → ESRCH), or it exists but is another process (its start
 *   time differs from the one recorded — pids are reused, in containers the same
 *   small pid comes back on every restart), or the machine has rebooted since (the
 *   boot id differs).
 * - The stale lock is first renamed away, then checked to be the one judged stale,
 *   so two processes taking over at once cannot both end up holding it.
 *
 * Limits: the liveness check sees processes of this host and pid namespace only;
 * two containers sharing a volume must not share a log directory.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { DurableError, DurableErrorCodes } from './durable-errors';

export const LOCK_FILE = 'LOCK';

interface LockOwner {
  pid: number;
  host?: string;
  boot?: string;
  start?: string;
}

/** Lock paths held by this process: a second open in the same process must fail too. */
const heldHere = new Set<string>();

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Start time of `pid` in clock ticks since boot (Linux), or undefined when unknown. */
function startTimeOf(pid: number): string | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // Field 2 (comm) is in parentheses and may contain spaces: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19]; // field 22 overall
}

function bootId(): string | undefined {
  return readProc('/proc/sys/kernel/random/boot_id')?.trim();
}

function describeOwner(): LockOwner {
  const owner: LockOwner = { pid: process.pid, host: hostname() };
  const boot = bootId();
  const start = startTimeOf(process.pid);
  if (boot !== undefined) owner.boot = boot;
  if (start !== undefined) owner.start = start;
  return owner;
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<LockOwner>;
    if (typeof parsed.pid !== 'number' || !Number.isSafeInteger(parsed.pid) || parsed.pid <= 0) return undefined;
    return parsed as LockOwner;
  } catch {
    return undefined;
  }
}

/** Whether the process that wrote `owner` is still running. */
function isAlive(owner: LockOwner): boolean {
  // Our own pid: this process does not hold it (checked before), so a previous process with our pid left it.
  if (owner.pid === process.pid) return false;
  if (owner.boot !== undefined && bootId() !== undefined && owner.boot !== bootId()) return false;
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: it exists, under another user.
  }
  if (owner.start !== undefined) {
    const now = startTimeOf(owner.pid);
    if (now !== undefined && now !== owner.start) return false; // the pid was reused
  }
  return true;
}

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function unlinkIfExists(path: string): Promise<void> {
  try {
    await fsp.unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** `LOCK.<pid>.<hex>.tmp` and `LOCK.stale.<pid>.<hex>`: what an opener killed halfway leaves. */
const LEFTOVER = /^LOCK\.(?:stale\.)?(\d+)\.[0-9a-f]+(?:\.tmp)?$/;

/** Removes the temporary files of openers that died while taking the lock (their pid is gone). */
async function removeLeftovers(dir: string): Promise<void> {
  for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
    const match = LEFTOVER.exec(name);
    if (match === null || Number(match[1]) === process.pid) continue;
    if (isAlive({ pid: Number(match[1]) })) continue; // still taking (or releasing) it: not ours to touch
    await unlinkIfExists(join(dir, name)).catch(() => undefined);
  }
}

export class DirLock {
  private released = false;

  private constructor(
    readonly path: string,
    private readonly content: string,
  ) {}

  /** Takes the lock of `dir` (which must exist), or throws ERR_DURABLE_LOCKED naming the live holder. */
  static async acquire(dir: string): Promise<DirLock> {
    const lockPath = join(resolve(dir), LOCK_FILE);
    if (heldHere.has(lockPath)) {
      throw new DurableError(
        DurableErrorCodes.LOCKED,
        `log directory ${dir} is already open in this process (pid ${process.pid})`,
        { holderPid: process.pid },
      );
    }
    // Reserved before the first await: a concurrent open in this process fails at once instead of
    // mistaking our fresh lock (our pid, not yet marked held) for a stale one.
    heldHere.add(lockPath);
    let taken = false;
    const content = `${JSON.stringify(describeOwner())}\n`;
    const tmp = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await fsp.writeFile(tmp, content);
      // Bounded: each round either takes the lock, throws, or removed a stale lock.
      for (let round = 0; round < 8; round++) {
        try {
          await fsp.link(tmp, lockPath);
          taken = true;
          await removeLeftovers(dir);
          return new DirLock(lockPath, content);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') {
            await fsp.writeFile(tmp, content); // our temporary file was cleaned up by the holder: write it again
            continue;
          }
          if (code !== 'EEXIST') throw err;
        }
        const existing = await readIfExists(lockPath);
        if (existing === undefined) continue; // released meanwhile
        const owner = parseOwner(existing);
        if (owner !== undefined && isAlive(owner)) {
          throw new DurableError(
            DurableErrorCodes.LOCKED,
            `log directory ${dir} is locked by process ${owner.pid}${owner.host === undefined ? '' : ` on ${owner.host}`} (${lockPath})`,
            {
              holderPid: owner.pid,
            },
          );
        }
        await DirLock.removeStale(lockPath, existing);
      }
      throw new DurableError(
        DurableErrorCodes.LOCKED,
        `log directory ${dir}: could not take the lock ${lockPath} (it keeps changing hands)`,
      );
    } finally {
      if (!taken) heldHere.delete(lockPath);
      await unlinkIfExists(tmp);
    }
  }

  /** Removes the lock at `lockPath` only if it still holds `staleContent` (puts back anything else). */
  private static async removeStale(lockPath: string, staleContent: string): Promise<void> {
    const aside = `${lockPath}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
    try {
      await fsp.rename(lockPath, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // someone else removed it
      throw err;
    }
    const moved = await readIfExists(aside);
    if (moved !== staleContent) {
      // We moved a fresh lock another process had just taken: give it back.
      await fsp.link(aside, lockPath).catch(() => undefined);
    }
    await unlinkIfExists(aside);
  }

  /** Releases the lock (idempotent). Leaves a lock that is no longer ours alone. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.path);
    if ((await readIfExists(this.path)) === this.content) await unlinkIfExists(this.path);
  }
}
