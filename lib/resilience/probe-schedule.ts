/** The loop's probes: one knob moved one step, kept only if the sink does better for it. */
export const PROBES = ['batch-up', 'concurrency-up', 'concurrency-down'] as const;
export type Probe = (typeof PROBES)[number];

/**
 * Which probe the adaptive loop tries next, and when. Probes take turns; probing costs throughput,
 * so a probe that keeps finding nothing runs less often (1, 2, 4 … `maxWait` baseline windows
 * apart) — each on its own schedule: a bigger batch that pays says nothing about whether another
 * lane would, and the lane probes should not be held back by it, nor it by them.
 */
export class ProbeSchedule {
  readonly #maxWait: number;
  #next = 0;
  /** Per probe: how often in a row it found nothing, and the baseline window from which it may run again. */
  readonly #misses: Record<Probe, number> = { 'batch-up': 0, 'concurrency-up': 0, 'concurrency-down': 0 };
  readonly #waitUntil: Record<Probe, number> = { 'batch-up': 0, 'concurrency-up': 0, 'concurrency-down': 0 };
  /** Baseline windows measured so far: the clock of #waitUntil. */
  #windows = 0;

  constructor(maxWait: number) {
    this.#maxWait = maxWait;
  }

  /** A baseline window (no probe running) was measured. */
  tick(): void {
    this.#windows++;
  }

  /**
   * Offers the probes that are due, in turn, to `attempt`, until it returns true (it started that
   * probe, or used the turn without one).
   */
  take(attempt: (probe: Probe) => boolean): void {
    for (let tries = 0; tries < PROBES.length; tries++) {
      const probe = PROBES[this.#next] as Probe;
      this.#next = (this.#next + 1) % PROBES.length;
      if (this.#waitUntil[probe] <= this.#windows && attempt(probe)) return;
    }
  }

  /** `probe` found nothing better: it runs again after 1, 2, 4 … maxWait baseline windows. */
  missed(probe: Probe): void {
    const misses = ++this.#misses[probe];
    this.#waitUntil[probe] = this.#windows + Math.min(2 ** (misses - 1), this.#maxWait);
  }

  /** `probe` paid: it may run again at once. */
  found(probe: Probe): void {
    this.#misses[probe] = 0;
  }

  /**
   * The sink changed (a cut, a failure): every probe is due again soon — but not at full rate from
   * scratch (a loop that just had to back off should not pay for a burst of exploring), and not
   * another lane at once: the sink just said it had too many.
   */
  restart(): void {
    for (const probe of PROBES) {
      this.#misses[probe] = Math.min(this.#misses[probe], 2);
      this.#waitUntil[probe] = probe === 'concurrency-up' ? this.#windows + 2 : 0;
    }
  }
}
