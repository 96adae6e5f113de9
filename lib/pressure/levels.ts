import { BackpressureState } from './state';

/** The thresholds that drive the pressure states (all fractions of the buffer). */
export interface WatermarkThresholds {
  lowWatermark: number;
  highWatermark: number;
  hysteresis: number;
}

/**
 * The one table of pressure levels: level `i` is `PRESSURE_LEVELS[i]`, entered when utilization
 * reaches `thresholdOf(i)`. Everything that maps states to levels or thresholds (the transition
 * function, the writable's pressure tracker, the stages' ranks and hold pressure, the option
 * defaults) reads it from here, so the mapping cannot drift between copies again.
 */
export const PRESSURE_LEVELS = [
  BackpressureState.NORMAL,
  BackpressureState.ELEVATED,
  BackpressureState.CRITICAL,
  BackpressureState.BLOCKED,
] as const;

/** The highest pressure level (blocked): the buffer is full. */
export const TOP_LEVEL = PRESSURE_LEVELS.length - 1;

/** The watermarks `BackpressureWritable` uses unless told otherwise, and stages use for their own hold. */
export const DEFAULT_WATERMARKS = {
  lowWatermark: 0.5,
  highWatermark: 0.8,
  hysteresis: 0.05,
} as const satisfies WatermarkThresholds;

/**
 * Level of each state for "at or above" comparisons. Draining and closed are lifecycle states,
 * not levels: they accept nothing more, so they rank as full.
 */
const RANK: Readonly<Record<BackpressureState, number>> = {
  [BackpressureState.NORMAL]: 0,
  [BackpressureState.ELEVATED]: 1,
  [BackpressureState.CRITICAL]: 2,
  [BackpressureState.BLOCKED]: TOP_LEVEL,
  [BackpressureState.DRAINING]: TOP_LEVEL,
  [BackpressureState.CLOSED]: TOP_LEVEL,
};

/** Rank of the pressure states, for "at or above" comparisons (draining and closed rank as blocked). */
export function pressureRank(state: BackpressureState): number {
  return RANK[state];
}

/**
 * Utilization at which `level` begins: 0 for normal (where everything falls back to), the
 * watermarks in between, 1 (full) for blocked, Infinity above the top level.
 */
export function thresholdOf(level: number, t: WatermarkThresholds): number {
  switch (level) {
    case 0:
      return 0;
    case 1:
      return t.lowWatermark;
    case 2:
      return t.highWatermark;
    case TOP_LEVEL:
      return 1;
    default:
      return level < 0 ? 0 : Infinity;
  }
}

/** The highest level whose threshold `utilization` reaches (no hysteresis). */
export function levelAt(utilization: number, t: WatermarkThresholds): number {
  for (let level = TOP_LEVEL; level > 0; level--) {
    if (utilization >= thresholdOf(level, t)) return level;
  }
  return 0;
}

/**
 * Utilization at which the state above `state` begins: Infinity at the top, and for draining
 * and closed, which utilization never leaves.
 */
export function upperThreshold(state: BackpressureState, t: WatermarkThresholds): number {
  const level = (PRESSURE_LEVELS as readonly BackpressureState[]).indexOf(state);
  return level === -1 ? Infinity : thresholdOf(level + 1, t);
}
