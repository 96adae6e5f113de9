import { promises as fsp } from 'node:fs';
import { dirname } from 'node:path';

/**
 * `mkdir -p`, one level at a time. Node's own `mkdir(dir, { recursive: true })` never settles when a
 * parent can neither be found nor created — a path under /proc (`/proc/nope/buffer`), where mkdir
 * answers ENOENT forever — and the log's open would hang instead of failing. Here every level is
 * tried at most twice (before and after its parent), so the walk ends at the root whatever the
 * filesystem answers, with the error of the level that could not be made.
 */
export async function makeDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      const stat = await fsp.stat(dir);
      if (stat.isDirectory()) return;
      throw err;
    }
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw err;
  }
  await makeDir(dirname(dir));
  try {
    await fsp.mkdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !(await fsp.stat(dir)).isDirectory()) throw err;
  }
}
