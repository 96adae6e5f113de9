/**
 * The log creates its directory, parents included, and a directory that cannot be created is an
 * ERR_DURABLE_IO_FAILED at open — never a hang (Node's recursive mkdir never settles for a path
 * under /proc, whose mkdir answers ENOENT at every level).
 */
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DurableErrorCodes, isDurableError } from '../../lib';
import { makeDir } from '../../lib/durable/make-dir';
import { openLog, removeDir, tempDir } from '../helpers/durable-helpers';

let dir: string;
beforeEach(() => {
  dir = tempDir('durable-mkdir-');
});
afterEach(() => removeDir(dir));

test('missing parents are created, and an existing directory is fine', async () => {
  const deep = join(dir, 'a', 'b', 'c');
  await makeDir(deep);
  expect(statSync(deep).isDirectory()).toBe(true);
  await makeDir(deep);
  const log = await openLog(join(dir, 'x', 'y'));
  await log.close();
  expect(existsSync(join(dir, 'x', 'y', 'checkpoint'))).toBe(true);
});

test('a file where the directory should be is refused (EEXIST), and so is a file as a parent (ENOTDIR)', async () => {
  const file = join(dir, 'file');
  writeFileSync(file, 'x');
  await expect(makeDir(file)).rejects.toMatchObject({ code: 'EEXIST' });
  await expect(makeDir(join(file, 'sub'))).rejects.toMatchObject({ code: 'ENOTDIR' });
});

const onLinux = process.platform === 'linux' && existsSync('/proc/self');
(onLinux ? test : test.skip)(
  'a directory under /proc fails the open with ERR_DURABLE_IO_FAILED instead of hanging',
  async () => {
    const error = await openLog('/proc/no-such-entry/buffer').then(
      () => null,
      (err: unknown) => err,
    );
    expect(isDurableError(error, DurableErrorCodes.IO_FAILED)).toBe(true);
    expect((error as { cause?: { code?: string } }).cause?.code).toBe('ENOENT');
  },
);
