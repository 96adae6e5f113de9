import { BackpressureState } from './state';

/** The thresholds that drive the pressure states (all fractions of the buffer). */
export interface WatermarkThresholds {
  lowWatermark: number;
  highWatermark: number;
  hysteresis: number;
}

const LEVELS = [
  BackpressureState.NORMAL,
  BackpressureState.ELEVATED,
  BackpressureState.CRITICAL,
  BackpressureState.BLOCKED,
] as const;

function levelOf(state: BackpressureState): number {
  const level = (LEVELS as readonly BackpressureState[]).indexOf(state);
  return level === -1 ? 0 : level;
}

function thresholdOf(level: number, t: WatermarkThresholds): number {
  // level 0 (normal) has no threshold: it is where everything else falls back to.
  return level === 1 ? t.lowWatermark : level === 2 ? t.highWatermark : level === 3 ? 1 : 0;
}

/**
 * The single transition function of the watermark state machine.
 *
 * Going up, a state is entered as soon as utilization reaches its threshold
 * (lowWatermark → elevated, highWatermark → critical, 1 → blocked). Going
 * down, a state is left only once utilization falls below its threshold minus
 * `hysteresis`, so a buffer hovering at a threshold does not flap: with the
 * defaults, critical is entered at 80 % and left below 75 %, blocked is
 * entered when full and left below 95 %.
 *
 * Only the four pressure states are handled here; draining and closed are
 * set by the stream's lifecycle, not by utilization.
 */
export function nextPressureState(
  current: BackpressureState,
  utilization: number,
  thresholds: WatermarkThresholds,
): BackpressureState {
  let raw = 0;
  for (let level = 3; level > 0; level--) {
    if (utilization >= thresholdOf(level, thresholds)) {
      raw = level;
      break;
    }
  }
  const currentLevel = levelOf(current);
  if (raw >= currentLevel) return LEVELS[raw] as BackpressureState;
  // On the way down: stay at the highest level (not above the current one)
  // whose threshold minus the hysteresis band is still reached.
  for (let level = currentLevel; level > raw; level--) {
    if (utilization >= thresholdOf(level, thresholds) - thresholds.hysteresis) {
      return LEVELS[level] as BackpressureState;
    }
  }
  return LEVELS[raw] as BackpressureState;
}
