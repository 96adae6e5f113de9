/**
 * Long crash-torture campaigns of durable mode, at two levels (the CI tests run short slices of the
 * same campaigns):
 * - `writable`: a child writes and delivers through a durable BackpressureWritable
 *   (__tests__/durable/durable-writable-crash-torture.test.ts; helpers/durable-writable-torture.ts says
 *   what is checked);
 * - `log`: a child appends and consumes through the SegmentLog engine itself
 *   (__tests__/durable/durable-log-crash-torture.test.ts; helpers/durable-torture.ts).
 * Each campaign SIGKILLs its child at random moments, restarts it on the same directory, and injects
 * torn tails, zero fill and bit flips between lives.
 *
 *   npm run torture -- --kills 1000                  one campaign of 1000 kills at each level, random seed
 *   npm run torture -- --kills 200 --campaigns 10    ten campaigns, a fresh seed each
 *   npm run torture -- --target writable --seed 1234 --kills 300    replay a failure
 *   options: --target writable|log|both (default both), --no-faults (kills only),
 *            --segment-bytes N, --max-bytes N (the log level; defaults 2048, 65536),
 *            --trace (print every life's reports and every injected fault)
 *
 * Prints one line per campaign; on a failure, its level and seed, and exits 1.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runTorture, TortureFailure } from '../__tests__/helpers/durable-torture';
import { runWritableTorture } from '../__tests__/helpers/durable-writable-torture';

function option(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? undefined : process.argv[at + 1];
}

function intOption(name: string, fallback: number): number {
  const text = option(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    console.error(`--${name} must be a non-negative integer (got ${text})`);
    process.exit(2);
  }
  return value;
}

type Target = 'writable' | 'log';

async function campaign(target: Target, dir: string, root: string, seed: number, kills: number): Promise<string> {
  const faults = !process.argv.includes('--no-faults');
  const progress = (line: string): void => console.log(`  ${target} seed ${seed}: ${line}`);
  const trace = process.argv.includes('--trace') ? { trace: (line: string) => console.log(`    ${line}`) } : {};
  if (target === 'writable') {
    const child = join(root, '__tests__', 'fixtures', 'durable-writable-torture-child.js');
    const r = await runWritableTorture({ dir, child, seed, kills, faults, progress, ...trace });
    return (
      `${r.kills} kills (${r.killsBeforeOpen} before open), ${r.confirmed} writes completed, ` +
      `${r.delivered} delivered (${r.duplicates} duplicates), faults: ${r.tornTails} torn, ${r.zeroTails} zero-filled, ` +
      `${r.bitFlips} bit flips (${r.corruptReported} corrupt reported)`
    );
  }
  const child = join(root, '__tests__', 'fixtures', 'durable-torture-child.js');
  const r = await runTorture({
    dir,
    child,
    seed,
    kills,
    faults,
    segmentBytes: intOption('segment-bytes', 2048),
    maxBytes: intOption('max-bytes', 64 * 1024),
    progress,
    ...trace,
  });
  return (
    `${r.kills} kills (${r.killsBeforeOpen} before open), ${r.confirmed} confirmed, ${r.delivered} delivered ` +
    `(${r.duplicates} duplicates), faults: ${r.tornTails} torn, ${r.zeroTails} zero-filled, ${r.bitFlips} bit flips ` +
    `(${r.corruptReported} corrupt reported), ${r.truncatedBytes} bytes truncated`
  );
}

async function main(): Promise<void> {
  // Compiled to build/bench/: the repository is two levels up, the fixtures are not compiled.
  const root = resolve(__dirname, '..', '..');
  const kills = intOption('kills', 1000);
  const campaigns = intOption('campaigns', 1);
  const fixedSeed = option('seed');
  const which = option('target') ?? 'both';
  if (which !== 'writable' && which !== 'log' && which !== 'both') {
    console.error(`--target must be writable, log or both (got ${which})`);
    process.exit(2);
  }
  const targets: Target[] = which === 'both' ? ['writable', 'log'] : [which];
  for (let c = 0; c < campaigns; c++) {
    for (const target of targets) {
      const seed = fixedSeed !== undefined ? Number(fixedSeed) >>> 0 : Math.floor(Math.random() * 2 ** 32);
      const dir = mkdtempSync(join(tmpdir(), `durable-torture-${target}-`));
      const started = Date.now();
      try {
        const summary = await campaign(target, dir, root, seed, kills);
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        console.log(`campaign ${c + 1}/${campaigns} ${target} seed ${seed}: OK in ${seconds} s — ${summary}`);
      } catch (err) {
        if (err instanceof TortureFailure) {
          console.error(
            `campaign ${c + 1}/${campaigns} ${target} FAILED — seed ${err.seed} (replay: npm run torture -- --target ${target} --seed ${err.seed} --kills ${kills})\n${err.message}\nlog directory kept: ${dir}`,
          );
          process.exit(1);
        }
        throw err;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
