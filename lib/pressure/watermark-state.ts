import { BackpressureState } from './state';
import { PRESSURE_LEVELS, levelAt, thresholdOf, type WatermarkThresholds } from './levels';

export type { WatermarkThresholds } from './levels';

function levelOf(state: BackpressureState): number {
  const level = (PRESSURE_LEVELS as readonly BackpressureState[]).indexOf(state);
  return level === -1 ? 0 : level;
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
  const raw = levelAt(utilization, thresholds);
  const currentLevel = levelOf(current);
  if (raw >= currentLevel) return PRESSURE_LEVELS[raw] as BackpressureState;
  // On the way down: stay at the highest level (not above the current one)
  // whose threshold minus the hysteresis band is still reached.
  for (let level = currentLevel; level > raw; level--) {
    if (utilization >= thresholdOf(level, thresholds) - thresholds.hysteresis) {
      return PRESSURE_LEVELS[level] as BackpressureState;
    }
  }
  return PRESSURE_LEVELS[raw] as BackpressureState;
}
