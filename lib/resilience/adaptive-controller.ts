/**
 * One control loop for batch size and concurrency, driven by what the sink
 * actually does. Each knob gets the signal that identifies it:
 *
 * - **Batch size follows latency.** Bigger batches amortise a sink's per-call
 *   overhead, so they raise throughput until a call takes too long. While the
 *   mean flush latency is under half of `targetLatencyMs` the loop probes a
 *   batch ×1.5 bigger and keeps it unless throughput fell (a sink whose cost
 *   grows faster than linearly with the batch shows it here).
 * - **The latency target is a ceiling.** One flush over `targetLatencyMs`
 *   (under the current settings) cuts at once: half the lanes when there are
 *   several (congestion is the likely cause), else the batch ×0.7. A probe
 *   that crosses the ceiling is simply undone.
 * - **Concurrency follows throughput (AIMD).** More lanes help until the sink
 *   congests past its concurrency knee. The loop probes +1 lane and −1 lane in
 *   turn and keeps a probe only if throughput rose by more than
 *   `keepThreshold`. It halves the lanes (and the batch) on any failure, and
 *   halves the lanes when latency jumps by half at unchanged settings (the
 *   knee moved): back off fast, probe up one lane at a time. A probe that
 *   finds nothing better makes the next one wait 1, 2, 4 … 16 windows.
 * - **Only while the sink is the bottleneck.** A probe is judged only if a full
 *   batch was waiting when most flushes of its window completed; with a slow
 *   producer there is nothing to learn and the knobs stay put.
 *
 * Throughput is estimated per window as lanes × Σitems / Σlatency (what each
 * lane sustains), not items / wall time, which with a few lanes completing in
 * bursts swings by a whole burst per window.
 *
 * Compare Vector's adaptive request concurrency (AIMD on RTT, concurrency
 * only) and Netflix concurrency-limits (gradient on RTT, in-flight only).
 */
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

const PROBES = ['batch-up', 'concurrency-up', 'concurrency-down'] as const;
type Probe = (typeof PROBES)[number];

interface Window {
  throughput: number;
  meanLatencyMs: number;
  saturated: boolean;
}

export class AdaptiveController {
  static readonly windowMinCompletions = 2;
  static readonly windowMinMs = 100;
  /** A concurrency probe must beat the baseline by this much to be kept (measurement noise is a few %). */
  static readonly keepThreshold = 0.03;
  /** Latency this much above the last baseline at unchanged settings means congestion. */
  static readonly congestionJump = 1.5;

  readonly #o: ResolvedAdaptiveOptions;
  #batchSize: number;
  #concurrency: number;

  /** The probe being measured, and the settings to go back to. */
  #probe: Probe | null = null;
  #beforeProbe = { batchSize: 0, concurrency: 0 };
  #baseline: Window | null = null;
  #nextProbe = 0;
  /** Probes rejected in a row, and baseline windows left before the next probe: probing costs throughput, so a loop that keeps finding nothing better probes less often (1, 2, 4 … 16 windows apart). */
  #rejections = 0;
  #holdoff = 0;

  #windowStart: number;
  /** Attempts started before this ran under other settings: their samples would mislead. */
  #settingsSince: number;
  /**
   * Completions still to skip after a change: as many as lanes were (or are)
   * open, so the batches in flight across the change — which congest or relieve
   * the sink for the new settings too — have drained before anything is judged.
   */
  #warmup = 0;
  #windowItems = 0;
  #windowCompletions = 0;
  #windowLatencyMs = 0;
  #windowSaturated = 0;
  #adjustments = 0;

  constructor(options: ResolvedAdaptiveOptions, initialBatchSize: number, initialConcurrency: number, now: number) {
    this.#o = options;
    this.#batchSize = clamp(initialBatchSize, options.minBatchSize, options.maxBatchSize);
    this.#concurrency = clamp(initialConcurrency, 1, options.maxConcurrency);
    this.#windowStart = now;
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
      // Back off at once, not at the end of a window: one flush over the ceiling
      // under the current settings is enough (like TCP, at most one cut per
      // round trip, because older attempts are ignored after the change).
      this.#now = now;
      if (this.#probe !== null) {
        // The probe itself crossed the ceiling: undo it, as a rejected probe.
        this.#rejectProbe();
        return;
      }
      this.#cutForLatency();
      this.#restart(now);
      this.#settingsSince = now;
      return;
    }
    if (this.#warmup > 0) {
      this.#warmup--;
      return;
    }
    this.#windowItems += items;
    this.#windowCompletions++;
    this.#windowLatencyMs += latencyMs;
    if (backlogged) this.#windowSaturated++;
    if (this.#windowCompletions < Math.max(AdaptiveController.windowMinCompletions, this.#concurrency)) return;
    if (now - this.#windowStart < AdaptiveController.windowMinMs) return;
    this.#endWindow(now);
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
    const window: Window = {
      throughput: (this.#concurrency * this.#windowItems * 1000) / Math.max(1, this.#windowLatencyMs),
      meanLatencyMs: this.#windowLatencyMs / this.#windowCompletions,
      saturated: this.#windowSaturated * 2 >= this.#windowCompletions,
    };
    this.#resetWindow(now);

    if (window.meanLatencyMs > this.#o.targetLatencyMs) {
      this.#cutForLatency();
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
      const previous = this.#baseline;
      if (previous !== null && window.meanLatencyMs > previous.meanLatencyMs * AdaptiveController.congestionJump) {
        // Same settings, much slower: the sink congested (its knee moved). Halve the lanes.
        this.#set(this.#batchSize, Math.floor(this.#concurrency / 2));
        this.#restart(now);
        return;
      }
      this.#baseline = window;
      if (this.#holdoff > 0) {
        this.#holdoff--;
        return;
      }
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
    this.#rejections = 0;
    // Keep climbing the same way while it pays; the probe's window is the new baseline.
    const probe = this.#probe;
    this.#probe = null;
    this.#baseline = window;
    if (!this.#tryProbe(probe, window)) this.#startProbe(window);
  }

  /** Starts the next applicable probe in turn. */
  #startProbe(window: Window): void {
    for (let tries = 0; tries < PROBES.length; tries++) {
      const probe = PROBES[this.#nextProbe] as Probe;
      this.#nextProbe = (this.#nextProbe + 1) % PROBES.length;
      if (this.#tryProbe(probe, window)) return;
    }
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
   * Over the latency ceiling: with several lanes the likely cause is
   * congestion, so halve the lanes and keep the batch; with one lane the batch
   * itself is too big, so cut it ×0.7.
   */
  #cutForLatency(): void {
    if (this.#concurrency > 1) this.#set(this.#batchSize, Math.floor(this.#concurrency / 2));
    else this.#set(this.#batchSize * 0.7, 1);
  }

  #rejectProbe(): void {
    this.#revertProbe();
    this.#baseline = null; // measure the old settings again before the next probe
    this.#rejections++;
    this.#holdoff = Math.min(2 ** (this.#rejections - 1), 16);
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

  #restart(now: number): void {
    this.#rejections = 0;
    this.#holdoff = 0;
    this.#probe = null;
    this.#baseline = null;
    this.#resetWindow(now);
  }

  #resetWindow(now: number): void {
    this.#windowStart = now;
    this.#windowItems = 0;
    this.#windowCompletions = 0;
    this.#windowLatencyMs = 0;
    this.#windowSaturated = 0;
  }
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}
