/**
 * Crash torture with real processes: a child appends and consumes numbered
 * records through the durable log and is SIGKILLed at random moments — during
 * open and recovery, appends, group commits, acks, checkpoints, segment
 * rollover and deletion — and restarted on the same directory, with torn tails,
 * zero-filled tails and flipped bits injected between lives. Every confirmed
 * record must be delivered (or, if a flipped bit destroyed it, reported corrupt),
 * in order, with no redelivery below a checkpoint, and every restart must
 * succeed without help. See helpers/durable-torture.ts for the full list.
 *
 * The CI slice is short (TORTURE_KILLS, default 200); `npm run torture -- --kills 1000`
 * runs long campaigns. A failure prints its seed: replay it with TORTURE_SEED=<seed>.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, ROOT } from '../helpers/cli';
import { removeDir, tempDir } from '../helpers/durable-helpers';
import { runTorture } from '../helpers/durable-torture';

const KILLS = Number(process.env['TORTURE_KILLS'] ?? 200);
const SEED =
  process.env['TORTURE_SEED'] !== undefined && process.env['TORTURE_SEED'] !== ''
    ? Number(process.env['TORTURE_SEED']) >>> 0
    : Math.floor(Math.random() * 2 ** 32);

let dir: string;
beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'durable', 'index.js')))
    throw new Error('the torture child needs the built library: run npm run build');
  dir = tempDir('torture-');
});
afterAll(() => removeDir(dir));

test(`${KILLS} SIGKILLs at random moments, with torn tails, zero fill and bit flips: nothing confirmed is lost, order holds, every restart succeeds`, async () => {
  const result = await runTorture({ dir, child: join(FIXTURES, 'durable-torture-child.js'), seed: SEED, kills: KILLS });
  // The campaign must have done real work, or it proves nothing.
  expect(result.kills).toBe(KILLS);
  expect(result.kills - result.killsBeforeOpen).toBeGreaterThan(KILLS / 3);
  expect(result.confirmed).toBeGreaterThan(KILLS);
  expect(result.delivered).toBeGreaterThanOrEqual(result.confirmed - result.bitFlips);
  expect(result.bitFlips + result.tornTails + result.zeroTails).toBeGreaterThan(KILLS / 10);
}, 600_000);
