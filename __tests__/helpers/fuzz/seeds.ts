/**
 * The seeds CI runs (__tests__/properties/adversarial.fuzz.test.ts): every one must pass.
 *
 * FIXED_SEEDS: a broad range, plus the seeds that first found each defect of issue 10 and each failure
 * the fuzzer found beyond them (found by `npm run fuzz -- --cases 2000 --seed 1`), kept as regressions.
 * Defect labels: '#1'…'#12' are issue 10's; 'N1'… are failures found by the fuzzer that are not among them.
 *
 * known-failing.<mode>.json ({ "<seed>": "<defects>" }, per stream implementation) is for triage while
 * a defect is open: `npm run fuzz -- --fixed --write-known` (and again with READABLE_STREAM=disable)
 * records which fixed seeds fail now and why, and `--fixed` runs mark those failures as known. CI does
 * not read it; both lists are empty while every fixed seed passes.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Seeds that reproduce each defect alone (or nearly), beyond the range; the first one listed found it. */
export const DEFECT_SEEDS: Readonly<Record<string, readonly number[]>> = {
  '#1': [7, 313, 346],
  '#2': [1, 340, 347],
  '#3': [180, 471, 1168],
  '#4': [31, 68, 377, 477],
  '#5': [1, 487, 549],
  '#6': [1, 319, 323],
  // 613, 925: onDeadLetter failing after a composition's block timeout (the timeout's error won).
  '#7': [9, 314, 517, 613, 925],
  '#8': [6, 391, 727],
  '#10': [23, 558, 566],
  '#11': [2, 5, 13],
  '#12': [19, 345, 577],
  // N1: a composition destroyed with the user's error while onDeadLetter fails (the user's error won, without the items).
  N1: [38, 295, 504, 515],
  // N2: no onDeadLetter, destroy() inside the 'dead-letter' listener of a failing stream (no error at all).
  N2: [217, 1583, 1904],
  // N3: the stream went on flushing after a destroy() made from a listener.
  N3: [1510],
  // N4: no onDeadLetter, a composition destroyed from the 'dead-letter' listener of a drain timeout: the
  // items its stage handed over made a second error, and the first one's items were in none.
  N4: [104720],
  // N5: onSettled threw: a writable without onDeadLetter failed with ERR_BACKPRESSURE_DESTROYED, not
  // ERR_BACKPRESSURE_SETTLED_HANDLER_FAILED; a composition reported the bare error without the items it held.
  N5: [71, 433, 736, 1112],
};

const RANGE = 400;

export const FIXED_SEEDS: readonly number[] = [
  ...new Set([...Array.from({ length: RANGE }, (_, i) => i + 1), ...Object.values(DEFECT_SEEDS).flat()]),
].sort((a, b) => a - b);

/** 'core' when the library runs on Node core's stream classes (READABLE_STREAM=disable), else 'readable-stream'. */
export function streamMode(): 'core' | 'readable-stream' {
  return process.env['READABLE_STREAM'] === 'disable' ? 'core' : 'readable-stream';
}

export function knownFailingPath(mode = streamMode()): string {
  return path.join(__dirname, `known-failing.${mode}.json`);
}

let cache: Record<string, string> | undefined;

/** The defects a fixed seed is known to reproduce on the current code (undefined: it must pass). */
export function knownFailure(seed: number): string | undefined {
  cache ??= JSON.parse(readFileSync(knownFailingPath(), 'utf8')) as Record<string, string>;
  return cache[String(seed)];
}
