import { AdaptiveController, type ResolvedAdaptiveOptions } from '../resilience/adaptive-controller';
import type { FlushJob } from './flush-job';

/**
 * The flush scheduler's side of the adaptive loop: the controller, fed every completed attempt,
 * and one timer that tells it about attempts still running once it wants to hear about them (over
 * the latency ceiling, or a probe that can no longer pay) — a congested sink can take seconds to
 * complete the calls that congest it, and waiting for them would be too late.
 */
export class AdaptiveLanes<T> {
  readonly #controller: AdaptiveController;
  readonly #jobs: ReadonlySet<FlushJob<T>>;
  /** The settings changed outside a completion (from the timer): the scheduler follows them. */
  readonly #onChange: () => void;
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Infinity;

  readonly #onTimer = (): void => {
    this.#timer = null;
    this.#timerAt = Infinity;
    const now = Date.now();
    for (const job of this.#jobs) {
      if (job.context !== null) this.#controller.onStalled(now, job.startedAt, job.batch.length);
    }
    this.armStallCheck();
    this.#onChange();
  };

  constructor(
    options: ResolvedAdaptiveOptions,
    batchSize: number,
    concurrency: number,
    jobs: ReadonlySet<FlushJob<T>>,
    onChange: () => void,
  ) {
    this.#controller = new AdaptiveController(options, batchSize, concurrency, Date.now());
    this.#jobs = jobs;
    this.#onChange = onChange;
  }

  get batchSize(): number {
    return this.#controller.batchSize;
  }

  get concurrency(): number {
    return this.#controller.concurrency;
  }

  get adjustments(): number {
    return this.#controller.adjustments;
  }

  onSuccess(now: number, items: number, latencyMs: number, backlogged: boolean): void {
    this.#controller.onSuccess(now, items, latencyMs, backlogged);
  }

  onFailure(now: number): void {
    this.#controller.onFailure(now);
  }

  /**
   * Arms the timer for the earliest running attempt the controller would act on, unless it is armed
   * for earlier already (it re-arms when it fires). Call after starting an attempt. Never keeps the
   * process alive: the attempts themselves do (the watchdog).
   */
  armStallCheck(): void {
    let at = Infinity;
    for (const job of this.#jobs) {
      if (job.context === null) continue;
      const due = this.#controller.stallCheckAt(job.startedAt, job.batch.length);
      if (due < at) at = due;
    }
    if (at === Infinity || at >= this.#timerAt) return;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#onTimer, Math.max(0, at - Date.now()));
    this.#timer.unref();
  }

  clearTimer(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#timerAt = Infinity;
  }
}
