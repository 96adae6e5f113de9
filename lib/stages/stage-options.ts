import type { PressureSource } from '../pressure/state';
import { integerOption } from '../util/validate';

/** Default `capacity` of every stage: enough to ride out a short stall, small enough not to matter for memory. */
export const DEFAULT_STAGE_CAPACITY = 1000;

/**
 * A stage's `capacity`, validated: an integer >= 1, `DEFAULT_STAGE_CAPACITY` when unset. `owner` and
 * `name` say who refuses it in the caller's words (`backpressure()` checks it before building a stage).
 */
export function stageCapacity(owner: string, name: string, value: unknown): number {
  return integerOption(owner, name, value, DEFAULT_STAGE_CAPACITY, 1);
}

/** Options every stage shares. */
export interface SheddingStageOptions {
  /**
   * How many items the stage holds while downstream does not want them. When the hold is full the
   * stage's policy decides what to drop; it never makes its writer wait (beyond the one-turn yield,
   * see `SheddingStage`). Integer ≥ 1.
   * At most one more item can sit in the stage's readable side (its highWaterMark is 0: only an item pushed
   * while a paused-mode consumer is not reading); `held` counts it too.
   * @default 1000
   */
  capacity?: number | undefined;
  /**
   * Downstream pressure (e.g. the `BackpressureWritable` the stage feeds). The sample and priority
   * stages shed by it; every stage also yields one event-loop turn when it rises above `normal`
   * (see `SheddingStage`), so that a sink that only needs the event loop can catch up before
   * anything is shed.
   * @default undefined (no pressure source: only the hold starting to fill makes the stage yield)
   */
  pressure?: PressureSource | undefined;
}

/** A stage's account of every item written to it. */
export interface StageMetrics {
  /** Items that reached the stage (accepted by `write()`). */
  written: number;
  /** Items the stage's consumer has taken. */
  passed: number;
  /** Items dropped, for any reason; each one was announced by a `'drop'` event. */
  dropped: number;
  /** `dropped` split by `DropReason`; every reason the stage can produce is present, 0 or more. */
  droppedByReason: Record<string, number>;
  /** Items waiting in the stage: its hold plus what its readable side has buffered. */
  held: number;
  /** The configured `capacity` of the hold. */
  capacity: number;
}
