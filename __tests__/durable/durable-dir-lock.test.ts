/**
 * One process per log directory: a second opener — in this process or another
 * — gets ERR_DURABLE_LOCKED naming the holder's pid; a lock left by a process
 * that is gone (killed, or its pid now belongs to another process) is taken over
 * without anyone deleting files.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DurableErrorCodes, isDurableError, type SegmentLog } from '../../lib/durable';
import { LOCK_FILE } from '../../lib/durable/dir-lock';
import { FIXTURES } from '../helpers/cli';
import { goodIds, openLog, readAll, removeDir, tempDir } from '../helpers/durable-helpers';

const HOLDER = join(FIXTURES, 'durable-lock-holder.js');

let dir: string;
const children: ChildProcess[] = [];
beforeEach(() => {
  dir = tempDir('lock-');
});
afterEach(() => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  removeDir(dir);
});

async function openError(): Promise<unknown> {
  try {
    const log = await openLog(dir);
    await log.close();
    return undefined;
  } catch (err) {
    return err;
  }
}

/** Starts the fixture that opens the log in `dir` and holds it; resolves once it has. */
function startHolder(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [HOLDER, dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolve(child);
    });
    child.on('exit', (code) => reject(new Error(`lock holder exited (${code}): ${stderr}`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.on('exit', () => resolve()),
  );
}

test('a second open in the same process fails with ERR_DURABLE_LOCKED naming this pid; after close it opens', async () => {
  const log = await openLog(dir);
  const err = await openError();
  expect(isDurableError(err, DurableErrorCodes.LOCKED)).toBe(true);
  expect((err as { holderPid: number }).holderPid).toBe(process.pid);
  await log.close();
  expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  const again = await openLog(dir);
  await again.close();
});

test('two opens of one directory at the same time in one process: exactly one gets it, the other ERR_DURABLE_LOCKED', async () => {
  const results = await Promise.allSettled([openLog(dir), openLog(dir), openLog(dir)]);
  const opened = results.filter((r): r is PromiseFulfilledResult<SegmentLog> => r.status === 'fulfilled');
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  expect(opened.length).toBe(1);
  for (const r of refused) expect(isDurableError(r.reason, DurableErrorCodes.LOCKED)).toBe(true);
  await opened[0]?.value.close();
});

test('a live holder in another process: ERR_DURABLE_LOCKED naming its pid', async () => {
  const child = await startHolder();
  const err = await openError();
  expect(isDurableError(err, DurableErrorCodes.LOCKED)).toBe(true);
  expect((err as { holderPid: number }).holderPid).toBe(child.pid);
  expect((err as Error).message).toContain(String(child.pid));
});

test('a holder killed with SIGKILL: its lock is taken over and what it wrote is there', async () => {
  const child = await startHolder();
  child.kill('SIGKILL');
  await exited(child);
  expect(existsSync(join(dir, LOCK_FILE))).toBe(true); // left behind
  const log: SegmentLog = await openLog(dir);
  expect((await readAll(log)).map((e) => e.payload.toString())).toEqual(['from-child']);
  await log.close();
});

test('a lock naming this very pid but not taken by this process (a container restarted with the same pid) is taken over', async () => {
  writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify({ pid: process.pid, host: 'previous-life' })}\n`);
  const log = await openLog(dir);
  expect(JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8'))).toMatchObject({ pid: process.pid });
  await log.close();
});

// Start times come from /proc (Linux); elsewhere a live pid is taken at its word.
const withProc = existsSync('/proc/self/stat') ? test : test.skip;

withProc('a lock naming a live pid whose start time differs (the pid was reused) is taken over', async () => {
  // The parent of this test runner is alive, but it did not write this lock: the recorded start time says so.
  writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify({ pid: process.ppid, start: '1' })}\n`);
  const log = await openLog(dir);
  await log.close();
});

test('a lock file with unreadable content (e.g. zeros after a power loss) is taken over', async () => {
  writeFileSync(join(dir, LOCK_FILE), Buffer.alloc(64));
  const log = await openLog(dir);
  await appendAndCheck(log);
  await log.close();
});

async function appendAndCheck(log: SegmentLog): Promise<void> {
  log.append(Buffer.from('id=1;'));
  await log.flush();
  expect(goodIds(await readAll(log))).toEqual([1]);
}

test('temporary files of openers killed while taking the lock are cleaned up by the next holder', async () => {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  children.push(child);
  const dead = await new Promise<number>((resolve) => {
    const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    gone.on('exit', () => resolve(gone.pid as number));
  });
  writeFileSync(join(dir, `${LOCK_FILE}.${dead}.0badc0de.tmp`), 'x');
  writeFileSync(join(dir, `${LOCK_FILE}.stale.${dead}.0badc0de`), 'x');
  writeFileSync(join(dir, `${LOCK_FILE}.${child.pid as number}.0badc0de.tmp`), 'x'); // a live opener's: left alone
  const log = await openLog(dir);
  expect(readdirSync(dir).filter((name) => name.startsWith(`${LOCK_FILE}.`))).toEqual([
    `${LOCK_FILE}.${child.pid as number}.0badc0de.tmp`,
  ]);
  await log.close();
});
