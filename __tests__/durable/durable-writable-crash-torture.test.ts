/**
 * Crash torture THROUGH THE WRITABLE, with real processes: a child writes numbered items through a
 * durable BackpressureWritable and delivers what it replays; it is SIGKILLed at random moments — during
 * open and recovery, appends, group commits, acknowledgements, checkpoints, segment rollover and
 * deletion — and restarted on the same directory, with torn tails, zero-filled tails and flipped bits
 * injected between lives. Every item whose write completed must be delivered (or, if a flipped bit
 * destroyed its record, reported corrupt), in order, with duplicates only of what was in flight at a
 * crash, and every restart must succeed without help. See helpers/durable-writable-torture.ts.
 *
 * The CI slice: the fixed seeds below, each with the kills that reach its failure, then a fresh seed with
 * TORTURE_KILLS kills (default 150; about 200 kills in all). `npm run torture -- --kills 1000` runs long
 * campaigns; a failure prints its seed: replay it with TORTURE_SEED=<seed> (and its TORTURE_KILLS), then
 * keep it here. A seed replays its schedule of lives and faults; what the children had written by each kill
 * varies with timing, so a fixed seed reaches its failure most of the time, not always.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, ROOT } from '../helpers/cli';
import { removeDir, tempDir } from '../helpers/durable-helpers';
import { runWritableTorture, type WritableTortureResult } from '../helpers/durable-writable-torture';

/** Seeds that failed (CI) or that reach a failure's pattern early, with what each one caught. */
const FIXED: ReadonlyArray<{ seed: number; kills: number; caught: string }> = [
  {
    seed: 449323932,
    kills: 25,
    caught:
      'CI: a torn frame after life 20, then a header bit of the last record before it flipped after life 21: ' +
      'recovery took that record for part of the torn tail and cut it without a report',
  },
  { seed: 546841, kills: 11, caught: 'the same: a torn frame or zero fill after life 8, then the flip after life 9' },
  {
    seed: 2021854,
    kills: 11,
    caught: 'the other order: a header bit of the last record flipped after life 8, zero fill after life 9',
  },
];
const KILLS = Number(process.env['TORTURE_KILLS'] ?? 150);
const SEED =
  process.env['TORTURE_SEED'] !== undefined && process.env['TORTURE_SEED'] !== ''
    ? Number(process.env['TORTURE_SEED']) >>> 0
    : Math.floor(Math.random() * 2 ** 32);

let dir: string;
beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist', 'index.js')))
    throw new Error('the torture child needs the built library: run npm run build');
});
beforeEach(() => {
  dir = tempDir('writable-torture-');
});
afterEach(() => removeDir(dir));

function campaign(seed: number, kills: number): Promise<WritableTortureResult> {
  return runWritableTorture({ dir, child: join(FIXTURES, 'durable-writable-torture-child.js'), seed, kills });
}

// A fixed seed's job is to reach its pattern: how much the children wrote meanwhile varies with the load.
test.each(FIXED)(
  'fixed seed $seed, $kills SIGKILLs (caught: $caught)',
  async ({ seed, kills }) => {
    const result = await campaign(seed, kills);
    expect(result.kills).toBe(kills);
    expect(result.confirmed).toBeGreaterThan(0);
  },
  600_000,
);

test(`${KILLS} SIGKILLs of a durable writable at random moments, with torn tails, zero fill and bit flips: every completed write delivered, in order, every restart succeeds`, async () => {
  const result = await campaign(SEED, KILLS);
  // The campaign must have done real work, or it proves nothing.
  expect(result.kills).toBe(KILLS);
  expect(result.kills - result.killsBeforeOpen).toBeGreaterThan(KILLS / 3);
  // More than one confirmed write per life on average: how many more depends on the machine's load (a loaded
  // 2-core run confirmed ~6 per kill where a quiet one confirms 20+), so the floor is the load-proof one.
  expect(result.confirmed).toBeGreaterThan(KILLS);
  expect(result.delivered).toBeGreaterThanOrEqual(result.confirmed - result.bitFlips);
  expect(result.duplicates).toBeGreaterThan(0); // kills did land between delivery and checkpoint
  expect(result.bitFlips + result.tornTails + result.zeroTails).toBeGreaterThan(KILLS / 10);
}, 600_000);
