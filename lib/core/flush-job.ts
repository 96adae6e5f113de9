import type { FlushAttemptContext } from './flush-attempt-context';
import { splitSeqs } from './flush-outcome';

/**
 * One batch on its way to the sink, from the moment it leaves the buffer
 * until it is delivered or dead-lettered: its items count as `inFlight` the
 * whole time, including while it waits to be retried.
 */
export class FlushJob<T> {
  /**
   * What is still to deliver (shrinks after a partial failure). The stream's own array: never
   * handed to user code (flush, listeners and onDeadLetter get copies), so nothing they do to
   * their arrays can change what is retried, dead-lettered or counted.
   */
  batch: T[];
  /** Durable mode: the seq of each item's record, in step with `batch` (null otherwise). */
  seqs: number[] | null;
  /** Attempts made so far (ctx.attempt of the latest). */
  attempt = 0;
  /** Identifies the current attempt; a settlement carrying another token is stale and ignored. */
  token = 0;
  startedAt = 0;
  /** Set while an attempt is running. */
  context: FlushAttemptContext | null = null;
  /** Backoff wait before the next attempt. */
  timer: NodeJS.Timeout | null = null;
  /** Waiting for the circuit breaker to let it through (woken, oldest first, by the CircuitGate when its timer fires or the circuit closes). */
  waitingForCircuit = false;

  constructor(batch: T[], seqs: number[] | null) {
    this.batch = batch;
    this.seqs = seqs;
  }

  /**
   * An attempt delivered `delivered` items: only `retry` (taken from `batch`) is left to deliver. Returns the
   * seqs of the delivered items, to acknowledge (durable mode; null otherwise, or when none was delivered).
   */
  keepOnly(retry: T[], delivered: number): number[] | null {
    const attempted = this.batch;
    this.batch = retry;
    if (this.seqs === null || delivered === 0) return null;
    const split = splitSeqs(attempted, retry, this.seqs);
    this.seqs = split.retry;
    return split.delivered;
  }
}
