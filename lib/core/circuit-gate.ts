import {
  CircuitBreaker,
  CircuitState,
  type CircuitBreakerOptions,
  type CircuitChange,
} from '../resilience/circuit-breaker';
import type { FlushJob } from './flush-job';

/**
 * The flush scheduler's side of the circuit breaker: the breaker itself, fed every attempt's
 * outcome, and the batches it told to wait. They wait in the scheduler's job list, flagged
 * `waitingForCircuit`, under one timer, and are let through oldest first — when the timer fires or
 * the moment the circuit closes — so that a batch never overtakes an older one (FIFO into flush).
 * A wait is not an attempt: no retry is spent against an open circuit.
 */
export class CircuitGate<T> {
  /** Told of every attempt's outcome by the scheduler directly (no call through here on a success). */
  readonly breaker: CircuitBreaker;
  /** The scheduler's batches in flight, oldest first. */
  readonly #jobs: ReadonlySet<FlushJob<T>>;
  readonly #onChange: (change: CircuitChange) => void;
  /** Runs an attempt of a batch that may go on (the scheduler's runAttempt, which asks admit() again). */
  readonly #runAttempt: (job: FlushJob<T>) => void;
  /** One timer for every batch waiting for the circuit breaker, so they are let through oldest first. */
  #timer: NodeJS.Timeout | null = null;

  readonly #onBreakerChange = (change: CircuitChange): void => {
    this.#onChange(change);
    // The probe got through: wake every batch that was told to wait for the
    // circuit, now, before pump() forms new batches from the buffer.
    if (change.to === CircuitState.CLOSED) this.#wakeWaiters();
  };
  readonly #onTimer = (): void => {
    this.#timer = null;
    this.#wakeWaiters();
  };

  constructor(
    options: Required<CircuitBreakerOptions>,
    jobs: ReadonlySet<FlushJob<T>>,
    onChange: (change: CircuitChange) => void,
    runAttempt: (job: FlushJob<T>) => void,
  ) {
    this.breaker = new CircuitBreaker(options, this.#onBreakerChange);
    this.#jobs = jobs;
    this.#onChange = onChange;
    this.#runAttempt = runAttempt;
  }

  /**
   * May `job` be attempted now? If not, it waits (flagged, with the timer armed for the breaker's
   * wait). The breaker may announce half-open from here: the caller must check that a 'circuit'
   * listener did not destroy the stream meanwhile.
   */
  admit(job: FlushJob<T>): boolean {
    // FIFO into flush: a batch never overtakes an older one waiting for the circuit.
    const behindOlder = this.#olderJobWaits(job);
    const wait = behindOlder ? 0 : this.breaker.admit(Date.now());
    if (behindOlder || wait > 0) {
      job.waitingForCircuit = true;
      if (wait > 0 && this.#timer === null) this.#timer = setTimeout(this.#onTimer, wait);
      return false;
    }
    job.waitingForCircuit = false;
    return true;
  }

  clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #olderJobWaits(job: FlushJob<T>): boolean {
    for (const other of this.#jobs) {
      if (other === job) return false;
      if (other.waitingForCircuit) return true;
    }
    return false;
  }

  /** Lets waiting batches try the circuit again, oldest first (each admitted one may take the probe slot). */
  #wakeWaiters(): void {
    this.clearTimer();
    for (const job of [...this.#jobs]) {
      if (!job.waitingForCircuit) continue;
      job.waitingForCircuit = false;
      this.#runAttempt(job);
      if (job.waitingForCircuit) break; // not admitted: the rest keep waiting behind it
    }
  }
}
