import type { FlushAttemptContext } from './flush-attempt-context';

/**
 * One batch on its way to the sink, from the moment it leaves the buffer
 * until it is delivered or dead-lettered: its items count as `inFlight` the
 * whole time, including while it waits to be retried.
 */
export class FlushJob<T> {
  /** What is still to deliver (shrinks after a partial failure). */
  batch: T[];
  /** Attempts made so far (ctx.attempt of the latest). */
  attempt = 0;
  /** Identifies the current attempt; a settlement carrying another token is stale and ignored. */
  token = 0;
  startedAt = 0;
  /** Set while an attempt is running. */
  context: FlushAttemptContext | null = null;
  /** Backoff or circuit-breaker wait before the next attempt. */
  timer: NodeJS.Timeout | null = null;
  /** The wait is for the circuit breaker (wake early when it closes). */
  waitingForCircuit = false;

  constructor(batch: T[]) {
    this.batch = batch;
  }
}
