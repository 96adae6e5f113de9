/**
 * The circuit breaker's states. `as const` strings, like the watermark states.
 */
export const CircuitState = {
  /** Calls go through; consecutive failures are counted. */
  CLOSED: 'closed',
  /** The sink failed `failureThreshold` times in a row: no calls until `cooldownMs` has passed. */
  OPEN: 'open',
  /** Cooldown over: exactly one probe call goes through; its outcome closes or re-opens the circuit. */
  HALF_OPEN: 'half-open',
} as const;

export type CircuitState = (typeof CircuitState)[keyof typeof CircuitState];

/** Payload of the `'circuit'` event. */
export interface CircuitChange {
  from: CircuitState;
  to: CircuitState;
  consecutiveFailures: number;
}

export interface CircuitBreakerOptions {
  /** Consecutive failed flush attempts that open the circuit. Integer ≥ 1. @default 5 */
  failureThreshold?: number;
  /** How long the circuit stays open before one probe is let through, in ms. In (0, MAX_TIMER_MS] (2^31 − 1). @default 30000 */
  cooldownMs?: number;
}

export const CIRCUIT_DEFAULTS = { failureThreshold: 5, cooldownMs: 30000 } as const;

/**
 * A classic three-state breaker (closed → open → half-open → closed), kept
 * free of timers: the caller asks `admit(now)` before each call and is told
 * how long to wait, so the breaker itself never keeps a process alive.
 */
export class CircuitBreaker {
  readonly #threshold: number;
  readonly #cooldownMs: number;
  readonly #onChange: (change: CircuitChange) => void;
  #state: CircuitState = CircuitState.CLOSED;
  #failures = 0;
  #openedAt = 0;
  #probing = false;
  #opens = 0;

  constructor(options: Required<CircuitBreakerOptions>, onChange: (change: CircuitChange) => void) {
    this.#threshold = options.failureThreshold;
    this.#cooldownMs = options.cooldownMs;
    this.#onChange = onChange;
  }

  get state(): CircuitState {
    return this.#state;
  }

  /** How many times the circuit has opened. */
  get opens(): number {
    return this.#opens;
  }

  /**
   * 0 when a call may go now (taking the single probe slot when half-open);
   * otherwise how many ms to wait before asking again. A caller told to wait
   * while a probe is out is woken early by the caller's own 'circuit' handler
   * when the probe closes the circuit.
   */
  admit(now: number): number {
    if (this.#state === CircuitState.CLOSED) return 0;
    if (this.#state === CircuitState.OPEN) {
      const left = this.#openedAt + this.#cooldownMs - now;
      if (left > 0) return left;
      this.#transition(CircuitState.HALF_OPEN);
    }
    if (this.#probing) return this.#cooldownMs;
    this.#probing = true;
    return 0;
  }

  success(): void {
    this.#failures = 0;
    this.#probing = false;
    if (this.#state !== CircuitState.CLOSED) this.#transition(CircuitState.CLOSED);
  }

  failure(now: number): void {
    this.#failures++;
    this.#probing = false;
    if (
      this.#state === CircuitState.HALF_OPEN ||
      (this.#state === CircuitState.CLOSED && this.#failures >= this.#threshold)
    ) {
      this.#openedAt = now;
      this.#opens++;
      this.#transition(CircuitState.OPEN);
    }
  }

  #transition(to: CircuitState): void {
    const from = this.#state;
    this.#state = to;
    this.#onChange({ from, to, consecutiveFailures: this.#failures });
  }
}
