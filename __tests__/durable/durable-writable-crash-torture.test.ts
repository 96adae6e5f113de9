/**
 * Crash torture THROUGH THE WRITABLE, with real processes: a child writes numbered items through a
 * durable BackpressureWritable and delivers what it replays; it is SIGKILLed at random moments — during
 * open and recovery, appends, group commits, acknowledgements, checkpoints, segment rollover and
 * deletion — and restarted on the same directory, with torn tails, zero-filled tails and flipped bits
 * injected between lives. Every item whose write completed must be delivered (or, if a flipped bit
 * destroyed its record, reported corrupt), in order, with duplicates only of what was in flight at a
 * crash, and every restart must succeed without help. See helpers/durable-writable-torture.ts.
 *
 * The CI slice: TORTURE_KILLS (default 200). `npm run torture -- --kills 1000` runs long campaigns; a
 * failure prints its seed: replay it with TORTURE_SEED=<seed>.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, ROOT } from '../helpers/cli';
import { removeDir, tempDir } from '../helpers/durable-helpers';
import { runWritableTorture } from '../helpers/durable-writable-torture';

const KILLS = Number(process.env['TORTURE_KILLS'] ?? 200);
const SEED =
  process.env['TORTURE_SEED'] !== undefined && process.env['TORTURE_SEED'] !== ''
    ? Number(process.env['TORTURE_SEED']) >>> 0
    : Math.floor(Math.random() * 2 ** 32);

let dir: string;
beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'index.js')))
    throw new Error('the torture child needs the built library: run npm run build');
  dir = tempDir('writable-torture-');
});
afterAll(() => removeDir(dir));

test(`${KILLS} SIGKILLs of a durable writable at random moments, with torn tails, zero fill and bit flips: every completed write delivered, in order, every restart succeeds`, async () => {
  const result = await runWritableTorture({
    dir,
    child: join(FIXTURES, 'durable-writable-torture-child.js'),
    seed: SEED,
    kills: KILLS,
  });
  // The campaign must have done real work, or it proves nothing.
  expect(result.kills).toBe(KILLS);
  expect(result.kills - result.killsBeforeOpen).toBeGreaterThan(KILLS / 3);
  expect(result.confirmed).toBeGreaterThan(KILLS * 10);
  expect(result.delivered).toBeGreaterThanOrEqual(result.confirmed - result.bitFlips);
  expect(result.duplicates).toBeGreaterThan(0); // kills did land between delivery and checkpoint
  expect(result.bitFlips + result.tornTails + result.zeroTails).toBeGreaterThan(KILLS / 10);
}, 600_000);
