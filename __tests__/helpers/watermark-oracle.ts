/**
 * The documented watermark rules, restated independently of lib/pressure/watermark-state.ts: the oracle the
 * property tests hold the library's state machine to. Kept apart from the library on purpose — a test that
 * read the library's own table could not catch a wrong table.
 */

/** The pressure levels in rank order; a level is its index here. */
export const LEVELS: readonly string[] = ['normal', 'elevated', 'critical', 'blocked'];

/** The watermark options the rules depend on. */
export interface WatermarkConfig {
  lowWatermark: number;
  highWatermark: number;
  hysteresis: number;
}

/** The utilization at which `level` is entered going up. */
export function thresholdOf(level: number, c: WatermarkConfig): number {
  return [0, c.lowWatermark, c.highWatermark, 1][level] as number;
}

/** The level utilization reaches going up: the highest whose threshold it has reached. */
export function rawLevel(u: number, c: WatermarkConfig): number {
  for (let level = 3; level > 0; level--) if (u >= thresholdOf(level, c)) return level;
  return 0;
}

/** Where a stream at `from` must be at utilization `u`: up at once; down only to the highest level still inside its band. */
export function expectedLevel(from: number, u: number, c: WatermarkConfig): number {
  const raw = rawLevel(u, c);
  if (raw >= from) return raw;
  for (let level = from; level > raw; level--) if (u >= thresholdOf(level, c) - c.hysteresis) return level;
  return raw;
}

/**
 * The level a 'state' event's `to` should have been, when it is not what the rules prescribe for a
 * change from `from` at `utilization`; `undefined` when it is (or when either end is not a pressure
 * level: 'draining', 'closed').
 */
export function wrongTransition(
  change: { from: string; to: string; utilization: number },
  c: WatermarkConfig,
): string | undefined {
  const from = LEVELS.indexOf(change.from);
  if (from === -1 || LEVELS.indexOf(change.to) === -1) return undefined;
  const expected = LEVELS[expectedLevel(from, change.utilization, c)] as string;
  return expected === change.to ? undefined : expected;
}
