/**
 * The watermark states. `as const` strings rather than a TS `enum`, so that
 * they survive `erasableSyntaxOnly` and read well in logs and metrics.
 */
export const BackpressureState = {
  /** utilization < lowWatermark */
  NORMAL: 'normal',
  /** lowWatermark ≤ utilization < highWatermark */
  ELEVATED: 'elevated',
  /** highWatermark ≤ utilization, buffer not full */
  CRITICAL: 'critical',
  /** buffer full: `write()` returns false until `'drain'` */
  BLOCKED: 'blocked',
  /** `end()` was called; the rest of the buffer is being flushed */
  DRAINING: 'draining',
  /** terminal: finished or destroyed */
  CLOSED: 'closed',
} as const;

export type BackpressureState = (typeof BackpressureState)[keyof typeof BackpressureState];

/** Payload of the `'state'` event. */
export interface StateChange {
  from: BackpressureState;
  to: BackpressureState;
  utilization: number;
}

/**
 * Anything that reports downstream pressure. `BackpressureWritable` implements
 * it; sample and priority stages read it to decide what to shed.
 */
export interface PressureSource {
  readonly state: BackpressureState;
  on(event: 'state', listener: (change: StateChange) => void): unknown;
  off(event: 'state', listener: (change: StateChange) => void): unknown;
}
