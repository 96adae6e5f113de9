/**
 * One control loop for batch size and concurrency, driven by what the sink
 * actually does. Each knob gets the signal that identifies it:
 *
 * - **Batch size follows latency.** While the mean flush latency is under half
 *   of `targetLatencyMs` the loop probes a batch ×1.5 bigger and keeps it unless
 *   throughput fell (bigger batches amortise a sink's per-call overhead).
 * - **The latency target is a ceiling**, checked while calls run, not only when
 *   they complete: a call older than `targetLatencyMs` under the current
 *   settings cuts at once — the lanes in proportion to the slowdown (at least
 *   half) when there are several, else the batch ×0.7. A probe crossing it is undone.
 * - **Concurrency follows throughput (AIMD).** The loop probes +1 and −1 lane in
 *   turn and keeps a probe only if throughput rose by more than `keepThreshold`;
 *   a probe is undone as soon as one of its calls has run too long to show a
 *   gain. Failures halve lanes and batch; latency up by half at unchanged
 *   settings (the knee moved) cuts the lanes. −1 lane is not tried again until
 *   latency per item rises. Each probe that finds nothing waits 1, 2, 4 … 16
 *   windows before its next turn.
 * - **Only while the sink is the bottleneck.** A probe is judged only if a full
 *   batch was waiting when most flushes of its window completed.
 *
 * Throughput is estimated per window as lanes × Σitems / Σlatency (what each
 * lane sustains), not items / wall time, which with a few lanes completing in
 * bursts swings by a whole burst per window. Compare Vector's adaptive request
 * concurrency (AIMD on RTT) and Netflix concurrency-limits (gradient on RTT).
 */
import { LatencyWindow, type Window } from './latency-window';
import { ProbeSchedule, type Probe } from './probe-schedule';

export interface AdaptiveOptions {
  /** Smallest batch the loop may choose. Integer ≥ 1. @default 1 */
  minBatchSize?: number;
  /** Largest batch the loop may choose. Integer ≤ maxBufferSize. @default maxBufferSize */
  maxBatchSize?: number;
  /** Most batches in flight the loop may choose. Integer ≥ 1. @default max(16, concurrency) */
  maxConcurrency?: number;
}

export interface ResolvedAdaptiveOptions {
  minBatchSize: number;
  maxBatchSize: number;
  maxConcurrency: number;
  targetLatencyMs: number;
}

export class AdaptiveController {
  static readonly windowMinCompletions = 2;
  static readonly windowMinMs = 100;
  /** A concurrency probe must beat the baseline by this much to be kept (measurement noise is a few %). */
  static readonly keepThreshold = 0.03;
  /** Latency within this fraction of an earlier window's counts as unchanged. */
  static readonly latencyNoise = 0.1;
  /** Most baseline windows between probes once probing keeps finding nothing better. */
  static readonly maxHoldoffWindows = 16;
  /** Latency this much above the last baseline at unchanged settings means congestion. */
  static readonly congestionJump = 1.5;

  readonly #o: ResolvedAdaptiveOptions;
  #batchSize: number;
  #concurrency: number;

  /** The probe being measured, and the settings to go back to. */
  #probe: Probe | null = null;
  #beforeProbe = { batchSize: 0, concurrency: 0 };
  #baseline: Window | null = null;
  readonly #schedule = new ProbeSchedule(AdaptiveController.maxHoldoffWindows);
  /** Where a lane fewer last found nothing (see #uncongested). */
  #downFoundNothing: { concurrency: number; msPerItem: number } | null = null;
  /** The baseline before a rejected probe, at the settings it went back to (see #endWindow). */
  #reference: Window | null = null;

  readonly #window: LatencyWindow;
  /** Attempts started before this ran under other settings: their samples would mislead. */
  #settingsSince: number;
  /**
   * Completions still to skip after a change: as many as lanes were (or are)
   * open, so the batches in flight across the change — which congest or relieve
   * the sink for the new settings too — have drained before anything is judged.
   */
  #warmup = 0;
  #adjustments = 0;

  constructor(options: ResolvedAdaptiveOptions, initialBatchSize: number, initialConcurrency: number, now: number) {
    this.#o = options;
    this.#batchSize = clamp(initialBatchSize, options.minBatchSize, options.maxBatchSize);
    this.#concurrency = clamp(initialConcurrency, 1, options.maxConcurrency);
    this.#window = new LatencyWindow(now);
    this.#settingsSince = now;
  }

  get batchSize(): number {
    return Math.round(this.#batchSize);
  }

  get concurrency(): number {
    return this.#concurrency;
  }

  /** How many times the loop changed a knob (for metrics and tests). */
  get adjustments(): number {
    return this.#adjustments;
  }

  /**
   * A flush attempt succeeded. `backlogged`: a full batch was waiting for a
   * free slot when it completed, i.e. the sink, not the producer, set the pace.
   * Attempts that started before the settings last changed are not counted:
   * they measured the old settings.
   */
  onSuccess(now: number, items: number, latencyMs: number, backlogged: boolean): void {
    if (now - latencyMs < this.#settingsSince) {
      // Started under older settings: it tells nothing about these. It still counts towards the warm-up.
      if (this.#warmup > 0) this.#warmup--;
      return;
    }
    if (latencyMs > this.#o.targetLatencyMs) {
      this.#overCeiling(now, latencyMs);
      return;
    }
    if (latencyMs >= this.#rejectAfterMs(items)) {
      // The first attempt run entirely under a probe already says whether it can pay: one that
      // shows no gain undoes it now, not a warm-up and a window later (a probe past the knee
      // congests every lane while it lasts). Keeping a probe still takes a whole window.
      this.#now = now;
      this.#rejectProbe();
      return;
    }
    if (this.#warmup > 0) {
      this.#warmup--;
      return;
    }
    const stats = this.#window;
    stats.add(items, latencyMs, backlogged);
    if (stats.completions < Math.max(AdaptiveController.windowMinCompletions, this.#concurrency)) return;
    if (stats.age(now) < AdaptiveController.windowMinMs) return;
    this.#endWindow(now);
  }

  /**
   * An attempt of `items` started at `startedAt` is still running at `now`. Once that is longer
   * than `targetLatencyMs` (and it started under the current settings), it is over the ceiling
   * whatever it ends up taking: cut now rather than when it completes — a sink whose knee dropped
   * under many lanes can take seconds to complete the first of them, congested all that time by
   * the very lanes the loop is about to cut. Likewise a probe is undone as soon as one of its
   * attempts has run too long to show a gain. The scheduler calls this at `stallCheckAt`.
   */
  onStalled(now: number, startedAt: number, items: number): void {
    if (now < this.stallCheckAt(startedAt, items)) return;
    const age = now - startedAt;
    if (age > this.#o.targetLatencyMs) {
      this.#overCeiling(now, age);
    } else {
      this.#now = now;
      this.#rejectProbe();
    }
  }

  /**
   * When an attempt of `items` started at `startedAt` would call for onStalled: past the ceiling,
   * or, during a probe, past the latency at which it can no longer show a gain. Infinity for an
   * attempt started under older settings (it says nothing about these).
   */
  stallCheckAt(startedAt: number, items: number): number {
    if (startedAt < this.#settingsSince) return Infinity;
    return startedAt + Math.min(this.#o.targetLatencyMs + 1, this.#rejectAfterMs(items));
  }

  /**
   * During a probe, the latency from which an attempt of `items` shows no gain: its throughput
   * (lanes × items / latency) below what keeping the probe needs. Infinity when not probing.
   */
  #rejectAfterMs(items: number): number {
    const baseline = this.#baseline;
    if (this.#probe === null || baseline === null) return Infinity;
    const needed =
      this.#probe === 'batch-up'
        ? baseline.throughput * (1 - AdaptiveController.keepThreshold)
        : baseline.throughput * (1 + AdaptiveController.keepThreshold);
    return (this.#concurrency * items * 1000) / needed;
  }

  /**
   * Over the ceiling under the current settings: back off at once, not at the end of a window (like
   * TCP, at most one cut per round trip, because older attempts are ignored after the change).
   */
  #overCeiling(now: number, latencyMs: number): void {
    this.#now = now;
    const reference = this.#baseline ?? this.#reference;
    if (this.#probe !== null) {
      // The probe itself crossed the ceiling: undo it, as a rejected probe. A batch ×1.5 explains
      // at most about that much more latency (with the noise allowance): far more than that means
      // the sink congested while it ran (its knee moved), and the lanes are cut as well.
      const explained =
        this.#probe === 'batch-up' && reference !== null
          ? reference.meanLatencyMs * 1.5 * AdaptiveController.congestionJump
          : Infinity;
      this.#rejectProbe();
      if (latencyMs <= explained) return;
    }
    this.#cutForLatency(latencyMs, reference);
    this.#restart(now);
    this.#settingsSince = now;
  }

  /** A flush attempt failed (error, timeout, partial failure): back off fast. */
  onFailure(now: number): void {
    this.#now = now;
    this.#set(this.#batchSize * 0.5, Math.floor(this.#concurrency / 2));
    this.#restart(now);
  }

  /** The time of the event being handled (set on entry, read by #set). */
  #now = 0;

  #endWindow(now: number): void {
    this.#now = now;
    const window = this.#window.close(now, this.#concurrency);

    if (window.meanLatencyMs > this.#o.targetLatencyMs) {
      this.#cutForLatency(window.meanLatencyMs, this.#baseline ?? this.#reference);
      this.#restart(now);
      return;
    }
    if (!window.saturated) {
      // The producer sets the pace: a probe would measure the producer, not the sink.
      this.#revertProbe();
      this.#baseline = null;
      return;
    }
    if (this.#probe === null) {
      const previous = this.#baseline ?? this.#reference;
      this.#reference = null;
      if (previous !== null && window.meanLatencyMs > previous.meanLatencyMs * AdaptiveController.congestionJump) {
        // Same settings, much slower: the sink congested (its knee moved). Cut the lanes.
        this.#set(this.#batchSize, this.#fewerLanes(window.meanLatencyMs, previous));
        this.#restart(now);
        return;
      }
      this.#baseline = window;
      this.#schedule.tick();
      this.#startProbe(window);
      return;
    }
    const baseline = this.#baseline as Window;
    const kept =
      this.#probe === 'batch-up'
        ? window.throughput >= baseline.throughput * (1 - AdaptiveController.keepThreshold)
        : window.throughput > baseline.throughput * (1 + AdaptiveController.keepThreshold);
    if (!kept) {
      this.#rejectProbe();
      return;
    }
    const probe = this.#probe;
    this.#probe = null;
    this.#baseline = window;
    if (window.throughput <= baseline.throughput * (1 + AdaptiveController.keepThreshold)) {
      // Kept without a real gain (a bigger batch within the noise): the settings stay, but as far
      // as exploring goes it found nothing.
      this.#schedule.missed(probe);
      return;
    }
    this.#schedule.found(probe);
    // Keep climbing the same way while it pays; the probe's window is the new baseline.
    if (!this.#tryProbe(probe, window)) this.#startProbe(window);
  }

  /** Starts the next probe in turn that is due and applicable, if any. */
  #startProbe(window: Window): void {
    // A lane fewer that is known to find nothing uses its turn without probing, rather than
    // letting the next probe run early.
    this.#schedule.take(
      (probe) => (probe === 'concurrency-down' && this.#uncongested(window)) || this.#tryProbe(probe, window),
    );
  }

  #tryProbe(probe: Probe, window: Window): boolean {
    const before = { batchSize: this.#batchSize, concurrency: this.#concurrency };
    let moved: boolean;
    switch (probe) {
      case 'batch-up':
        // Only with latency headroom: at least half the target left.
        moved =
          window.meanLatencyMs < this.#o.targetLatencyMs / 2 && this.#set(this.#batchSize * 1.5, this.#concurrency);
        break;
      case 'concurrency-up':
        moved = this.#set(this.#batchSize, this.#concurrency + 1);
        break;
      case 'concurrency-down':
        moved = this.#set(this.#batchSize, this.#concurrency - 1);
        break;
    }
    if (moved) {
      this.#probe = probe;
      this.#beforeProbe = before;
    }
    return moved;
  }

  /**
   * Over the latency ceiling: with several lanes the likely cause is congestion, so cut the lanes
   * and keep the batch — by half, or in proportion to how much slower than `reference` (the last
   * baseline) the sink has become, if that is more (a knee that dropped from 8 to 2 is found in
   * one cut, not three, each waiting for the congested calls to drain). `latencyMs` is a lower
   * bound when it is the age of a call still running, so the cut never exceeds the evidence.
   * With one lane the batch itself is too big: cut it ×0.7.
   */
  #cutForLatency(latencyMs: number, reference: Window | null): void {
    if (this.#concurrency > 1) this.#set(this.#batchSize, this.#fewerLanes(latencyMs, reference));
    else this.#set(this.#batchSize * 0.7, 1);
  }

  /** Half the lanes, or fewer in proportion to latency against `reference` (the lanes × speed the sink sustained). */
  #fewerLanes(latencyMs: number, reference: Window | null): number {
    const half = Math.floor(this.#concurrency / 2);
    if (reference === null) return half;
    return Math.min(half, Math.floor((this.#concurrency * reference.meanLatencyMs) / latencyMs));
  }

  #rejectProbe(): void {
    if (this.#probe === 'concurrency-down' && this.#baseline !== null) {
      this.#downFoundNothing = {
        concurrency: this.#beforeProbe.concurrency,
        msPerItem: this.#baseline.meanLatencyMs / this.#beforeProbe.batchSize,
      };
    }
    const probe = this.#probe;
    this.#revertProbe();
    if (probe !== null) this.#schedule.missed(probe);
    // Measure the old settings again before the next probe; until then the last baseline at them
    // still tells a congested sink (the knee moved during the probe) from an unchanged one.
    this.#reference = this.#baseline;
    this.#baseline = null;
  }

  #revertProbe(): void {
    if (this.#probe === null) return;
    this.#set(this.#beforeProbe.batchSize, this.#beforeProbe.concurrency);
    this.#probe = null;
  }

  /** Sets both knobs within bounds; true if anything changed. */
  #set(batchSize: number, concurrency: number): boolean {
    const b = clamp(batchSize, this.#o.minBatchSize, this.#o.maxBatchSize);
    const c = clamp(Math.round(concurrency), 1, this.#o.maxConcurrency);
    const changed = Math.round(b) !== Math.round(this.#batchSize) || c !== this.#concurrency;
    const previousConcurrency = this.#concurrency;
    this.#batchSize = b;
    this.#concurrency = c;
    if (changed) {
      this.#adjustments++;
      this.#settingsSince = this.#now;
      this.#warmup = Math.max(c, previousConcurrency);
    }
    return changed;
  }

  /**
   * A lane fewer only helps a congested sink, and congestion shows as latency: true when a lane
   * fewer already found nothing at this concurrency and the window's latency per item has not
   * risen since (a bigger batch lowers it: the sink's per-call overhead is shared by more items).
   */
  #uncongested(window: Window): boolean {
    const last = this.#downFoundNothing;
    return (
      last !== null &&
      last.concurrency === this.#concurrency &&
      window.meanLatencyMs / this.#batchSize <= last.msPerItem * (1 + AdaptiveController.latencyNoise)
    );
  }

  #restart(now: number): void {
    this.#reference = null;
    this.#schedule.restart();
    this.#probe = null;
    this.#baseline = null;
    this.#window.reset(now);
  }
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}
