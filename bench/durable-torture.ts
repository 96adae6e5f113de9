/**
 * Long crash-torture campaigns of the durable log (the CI test runs a short slice of the same
 * campaign: __tests__/durable/durable-log-crash-torture.test.ts, helpers/durable-torture.ts says what is
 * checked). Each campaign SIGKILLs a child that appends and consumes through the log, restarts
 * it on the same directory, and injects torn tails, zero fill and bit flips between lives.
 *
 *   npm run torture -- --kills 1000                  one campaign of 1000 kills, random seed
 *   npm run torture -- --kills 200 --campaigns 10    ten campaigns, a fresh seed each
 *   npm run torture -- --seed 1234 --kills 300       replay a failure
 *   options: --no-faults (kills only), --segment-bytes N (default 2048), --max-bytes N (default 65536),
 *            --trace (print every life's reports and every injected fault)
 *
 * Prints one line per campaign; on a failure, its seed, and exits 1.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runTorture, TortureFailure } from '../__tests__/helpers/durable-torture';

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

async function main(): Promise<void> {
  // Compiled to build/bench/: the repository is two levels up, the fixture is not compiled.
  const root = resolve(__dirname, '..', '..');
  const child = join(root, '__tests__', 'fixtures', 'durable-torture-child.js');
  const kills = intOption('kills', 1000);
  const campaigns = intOption('campaigns', 1);
  const fixedSeed = option('seed');
  for (let c = 0; c < campaigns; c++) {
    const seed = fixedSeed !== undefined ? Number(fixedSeed) >>> 0 : Math.floor(Math.random() * 2 ** 32);
    const dir = mkdtempSync(join(tmpdir(), 'durable-torture-'));
    const started = Date.now();
    try {
      const result = await runTorture({
        dir,
        child,
        seed,
        kills,
        faults: !process.argv.includes('--no-faults'),
        segmentBytes: intOption('segment-bytes', 2048),
        maxBytes: intOption('max-bytes', 64 * 1024),
        progress: (line) => console.log(`  seed ${seed}: ${line}`),
        ...(process.argv.includes('--trace') ? { trace: (line: string) => console.log(`    ${line}`) } : {}),
      });
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      console.log(
        `campaign ${c + 1}/${campaigns} seed ${seed}: OK in ${seconds} s — ${result.kills} kills (${result.killsBeforeOpen} before open), ` +
          `${result.confirmed} confirmed, ${result.delivered} delivered (${result.duplicates} duplicates), ` +
          `faults: ${result.tornTails} torn, ${result.zeroTails} zero-filled, ${result.bitFlips} bit flips (${result.corruptReported} corrupt reported), ` +
          `${result.truncatedBytes} bytes truncated`,
      );
    } catch (err) {
      if (err instanceof TortureFailure) {
        console.error(
          `campaign ${c + 1}/${campaigns} FAILED — seed ${err.seed} (replay: npm run torture -- --seed ${err.seed} --kills ${kills})\n${err.message}\nlog directory kept: ${dir}`,
        );
        process.exit(1);
      }
      throw err;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
