/**
 * The adversarial fuzzer (__tests__/helpers/fuzz/) on a fixed list of seeds: each seed is one random
 * composition — strategy, extreme options, a sink that fails, hangs, answers late, answers nonsense or
 * mutates its batch, an onDeadLetter that fails or is slow, cork/uncork/end/destroy at random points,
 * producers that respect or ignore write() === false, sync loops and async generators through
 * pipeline() — run under a fake clock and checked item by item: every item written ends exactly once as
 * acknowledged, dropped (with an event) or dead-lettered (with an event, and in onDeadLetter or the
 * error's `items`), and the metrics invariant holds every virtual millisecond and inside every event.
 *
 * A seed listed in known-failing.<mode>.json still reproduces a defect of issue 10: its test asserts
 * that it still fails, and only for the defects listed. Once a fix makes it pass, the test says so:
 * regenerate the list (see helpers/fuzz/seeds.ts). Replay one seed with
 *   npm run fuzz -- --seed <seed> --cases 1 --verbose
 */
import { formatResult, runCase } from '../helpers/fuzz/run-case';
import { FIXED_SEEDS, knownFailure, streamMode } from '../helpers/fuzz/seeds';

describe(`adversarial fuzzer, fixed seeds (${streamMode()} streams)`, () => {
  for (const seed of FIXED_SEEDS) {
    const known = knownFailure(seed);
    if (known === undefined) {
      it(`seed ${seed}`, async () => {
        const result = await runCase(seed);
        if (result.failures.length > 0) throw new Error(formatResult(result, true));
      });
      continue;
    }
    it(`seed ${seed} still reproduces ${known} (known failing)`, async () => {
      const result = await runCase(seed);
      const allowed = new Set(known.split(' '));
      const found = [...new Set(result.failures.flatMap((f) => f.hint.split('+')))];
      const unexpected = found.filter((hint) => !allowed.has(hint));
      if (result.failures.length === 0) {
        throw new Error(`seed ${seed} passes now: it no longer reproduces ${known}. Regenerate the known-failing list (helpers/fuzz/seeds.ts).`);
      }
      if (unexpected.length > 0) {
        throw new Error(`seed ${seed} fails for ${unexpected.join(' ')}, beyond the known ${known}:\n${formatResult(result, true)}`);
      }
    });
  }
});
