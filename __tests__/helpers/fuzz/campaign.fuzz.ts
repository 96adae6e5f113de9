/**
 * A long fuzz campaign: `npm run fuzz -- --cases 5000 [--seed N] [--verbose] [--json report.json]`.
 * Not a test of the suite (the name does not end in .test.ts): scripts/fuzz.js runs it through Jest
 * (for ts-jest and Jest's fake clock, as the fixed-seed test does) with the settings in FUZZ_* variables.
 * Case i uses seed N + i; every failure prints its seed and the command that replays it alone.
 */
import { writeFileSync } from 'node:fs';
import { formatResult, runCase, type CaseResult } from './run-case';
import { FIXED_SEEDS, knownFailingPath, knownFailure, streamMode } from './seeds';

const start = Number(process.env['FUZZ_SEED'] ?? '1');
/** --fixed: the seeds CI runs, instead of a range. */
const fixed = process.env['FUZZ_FIXED'] === '1';
const writeKnown = process.env['FUZZ_WRITE_KNOWN'] === '1';
const seeds: readonly number[] = fixed
  ? FIXED_SEEDS
  : Array.from({ length: Number(process.env['FUZZ_CASES'] ?? '1000') }, (_, i) => start + i);
const cases = seeds.length;
const verbose = process.env['FUZZ_VERBOSE'] === '1';
const jsonPath = process.env['FUZZ_JSON'] ?? '';

function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

const range = fixed ? `the ${cases} fixed seeds` : `seeds ${start}..${start + cases - 1}`;

it(`fuzz campaign: ${range}`, async () => {
  const failing: CaseResult[] = [];
  const byHint = new Map<string, number[]>();
  const report: { seed: number; outcome: string; realMs: number; hints: string[]; kinds: string[] }[] = [];
  const began = Date.now();
  out(`fuzz: ${cases} case(s), ${range}, on ${streamMode()} streams`);
  for (let i = 0; i < cases; i++) {
    const seed = seeds[i] as number;
    const result = await runCase(seed, { verbose });
    const hints = [...new Set(result.failures.flatMap((f) => f.hint.split('+')))].sort();
    report.push({
      seed,
      outcome: result.outcome,
      realMs: result.realMs,
      hints,
      kinds: [...new Set(result.failures.map((f) => f.kind))].sort(),
    });
    if (result.failures.length > 0) {
      failing.push(result);
      for (const hint of hints) byHint.set(hint, [...(byHint.get(hint) ?? []), seed]);
      const known = fixed ? knownFailure(seed) : undefined;
      out(`${formatResult(result, verbose)}${known === undefined ? '' : `\n  (known failing: ${known})`}`);
    } else if (verbose) out(formatResult(result, true));
    if ((i + 1) % 250 === 0)
      process.stderr.write(
        `fuzz: ${i + 1}/${cases} cases, ${failing.length} failing, ${Math.round((Date.now() - began) / 1000)} s\n`,
      );
  }
  if (jsonPath !== '') writeFileSync(jsonPath, JSON.stringify(report, null, 1));
  out(`fuzz: ${failing.length} of ${cases} case(s) failed (${range}, ${Math.round((Date.now() - began) / 1000)} s)`);
  for (const [hint, seeds] of [...byHint.entries()].sort()) {
    out(`  ${hint.padEnd(10)} ${String(seeds.length).padStart(5)} case(s), e.g. seeds ${seeds.slice(0, 8).join(' ')}`);
  }
  if (writeKnown) {
    const known: Record<string, string> = {};
    for (const entry of report) if (entry.hints.length > 0) known[String(entry.seed)] = entry.hints.join(' ');
    writeFileSync(knownFailingPath(), `${JSON.stringify(known, null, 0).replace(/,"/g, ',\n"')}\n`);
    out(`fuzz: wrote ${Object.keys(known).length} known-failing seed(s) to ${knownFailingPath()}`);
    return;
  }
  expect(failing.map((r) => r.seed)).toEqual([]);
});
