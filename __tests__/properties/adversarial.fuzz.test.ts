/**
 * The adversarial fuzzer (__tests__/helpers/fuzz/) on a fixed list of seeds: each seed is one random
 * composition — strategy, extreme options, a sink that fails, hangs, answers late, answers nonsense or
 * mutates its batch, an onDeadLetter that fails or is slow, cork/uncork/end/destroy at random points,
 * producers that respect or ignore write() === false, sync loops and async generators through
 * pipeline() — run under a fake clock and checked item by item: every item written ends exactly once as
 * acknowledged, dropped (with an event) or dead-lettered (with an event, and in onDeadLetter or the
 * error's `items`), the metrics invariant holds every virtual millisecond and inside every event, and a
 * composition's write() says false only as the one-turn yield, with 'drain' before the clock moves on.
 *
 * Every fixed seed must pass. Replay one seed with
 *   npm run fuzz -- --seed <seed> --cases 1 --verbose
 */
import { formatResult, runCase } from '../helpers/fuzz/run-case';
import { FIXED_SEEDS, streamMode } from '../helpers/fuzz/seeds';

describe(`adversarial fuzzer, fixed seeds (${streamMode()} streams)`, () => {
  for (const seed of FIXED_SEEDS) {
    it(`seed ${seed}`, async () => {
      const result = await runCase(seed);
      if (result.failures.length > 0) throw new Error(formatResult(result, true));
    });
  }
});
