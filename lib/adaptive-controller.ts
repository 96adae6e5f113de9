/**
 * One control loop for batch size and concurrency, driven by what the sink
 * actually does.
 *
 * Why hill climbing on measured throughput rather than a latency target
 * alone: a sink's throughput rises with batch size (per-call overhead is
 * amortised) and with concurrency up to a knee where it congests, and both
 * the overhead and the knee drift. Latency alone cannot tell "bigger batch"
 * from "congestion" (both make a call slower); throughput can. So the loop:
 *
 * 1. measures a window (at least `windowMinCompletions` flushes, twice the
 *    concurrency, and `windowMinMs`) of sink throughput, mean latency and
 *    whether the sink was the bottleneck (a full batch was waiting when a flush
 *    completed). Throughput is estimated as lanes × Σitems / Σlatency — the
 *    rate each lane sustains — rather than items / wall time, which with a few
 *    lanes completing in bursts swings by a whole burst per window;
 * 2. alternates a baseline window with a probe window that moves one knob one
 *    step (batch ×1.5 or ÷1.5, concurrency +1 or −1, in turn); a probe is
 *    kept if throughput improved by more than `keepThreshold`, else reverted,
 *    and a kept probe is repeated at once (keep climbing while it pays);
 * 3. backs off fast: any failure halves concurrency and batch size; a mean
 *    latency above `targetLatencyMs` cuts batch size ×0.7 (and concurrency by
 *    one when batch is already at its floor) — the latency target is a hard
 *    ceiling, throughput is climbed beneath it;
 * 4. probes only while the sink is the bottleneck: with a slow producer there
 *    is nothing to gain and the knobs stay put.
 *
 * Compare Vector's adaptive request concurrency (AIMD on RTT, concurrency
 * only) and Netflix concurrency-limits (gradient on RTT, in-flight only); here
 * the two knobs share one loop so neither fights the other.
 */
export interface AdaptiveOptions {
  /** Smallest batch the loop may choose. Integer ≥ 1. @default 1 */
  minBatchSize?: number;
  /** Largest batch the loop may choose. Integer ≤ maxBufferSize. @default maxBufferSize */
  maxBatchSize?: number;
  /** Most batches in flight the loop may choose. Integer ≥ 1. @default 16 */
  maxConcurrency?: number;
}

export interface ResolvedAdaptiveOptions {
  minBatchSize: number;
  maxBatchSize: number;
  maxConcurrency: number;
  targetLatencyMs: number;
}

const KNOBS = ['batch-up', 'concurrency-up', 'batch-down', 'concurrency-down'] as const;
type Probe = (typeof KNOBS)[number];

const PHASE = { BASELINE: 'baseline', PROBE: 'probe' } as const;
type Phase = (typeof PHASE)[keyof typeof PHASE];

export class AdaptiveController {
  static readonly windowMinCompletions = 4;
  static readonly windowMinMs = 100;
  static readonly keepThreshold = 0.03;

  readonly #o: ResolvedAdaptiveOptions;
  #batchSize: number;
  #concurrency: number;

  #phase: Phase = PHASE.BASELINE;
  #baselineThroughput = 0;
  #probeIndex = 0;
  #beforeProbe: { batchSize: number; concurrency: number } | null = null;

  #windowStart: number;
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
   */
  onSuccess(now: number, items: number, latencyMs: number, backlogged: boolean): void {
    this.#windowItems += items;
    this.#windowCompletions++;
    this.#windowLatencyMs += latencyMs;
    if (backlogged) this.#windowSaturated++;
    if (this.#windowCompletions < Math.max(AdaptiveController.windowMinCompletions, 2 * this.#concurrency)) return;
    if (now - this.#windowStart < AdaptiveController.windowMinMs) return;
    this.#endWindow(now);
  }

  /** A flush attempt failed (error, timeout, partial failure): back off fast. */
  onFailure(now: number): void {
    this.#set(this.#batchSize * 0.5, Math.ceil(this.#concurrency / 2));
    this.#restart(now);
  }

  #endWindow(now: number): void {
    const throughput = (this.#concurrency * this.#windowItems * 1000) / Math.max(1, this.#windowLatencyMs);
    const meanLatency = this.#windowLatencyMs / this.#windowCompletions;
    const saturated = this.#windowSaturated * 2 >= this.#windowCompletions;
    this.#resetWindow(now);

    if (meanLatency > this.#o.targetLatencyMs) {
      // Over the latency ceiling: smaller batches first, fewer lanes once batches are at the floor.
      const atFloor = this.#batchSize <= this.#o.minBatchSize;
      this.#set(this.#batchSize * 0.7, atFloor ? this.#concurrency - 1 : this.#concurrency);
      this.#restart(now);
      return;
    }
    if (!saturated) {
      // The producer sets the pace: a probe would measure the producer, not the sink.
      if (this.#phase === PHASE.PROBE) this.#revert();
      this.#phase = PHASE.BASELINE;
      return;
    }
    if (this.#phase === PHASE.BASELINE) {
      this.#baselineThroughput = throughput;
      this.#startProbe();
      return;
    }
    // Probe window over: keep it if it clearly helped.
    if (throughput > this.#baselineThroughput * (1 + AdaptiveController.keepThreshold)) {
      this.#baselineThroughput = throughput;
      // Keep climbing the same way: the next probe repeats this one.
      this.#startProbe(true);
      return;
    }
    this.#revert();
    this.#phase = PHASE.BASELINE;
  }

  #startProbe(repeat = false): void {
    // Try each probe in turn, skipping those that cannot move.
    for (let tries = 0; tries < KNOBS.length; tries++) {
      if (!repeat) this.#probeIndex = (this.#probeIndex + 1) % KNOBS.length;
      repeat = false;
      const before = { batchSize: this.#batchSize, concurrency: this.#concurrency };
      if (this.#apply(KNOBS[this.#probeIndex] as Probe)) {
        this.#beforeProbe = before;
        this.#phase = PHASE.PROBE;
        return;
      }
    }
    this.#phase = PHASE.BASELINE;
  }

  #apply(probe: Probe): boolean {
    switch (probe) {
      case 'batch-up':
        return this.#set(this.#batchSize * 1.5, this.#concurrency);
      case 'batch-down':
        return this.#set(this.#batchSize / 1.5, this.#concurrency);
      case 'concurrency-up':
        return this.#set(this.#batchSize, this.#concurrency + 1);
      case 'concurrency-down':
        return this.#set(this.#batchSize, this.#concurrency - 1);
    }
  }

  #revert(): void {
    if (this.#beforeProbe !== null) this.#set(this.#beforeProbe.batchSize, this.#beforeProbe.concurrency);
    this.#beforeProbe = null;
  }

  /** Sets both knobs within bounds; true if anything changed. */
  #set(batchSize: number, concurrency: number): boolean {
    const b = clamp(batchSize, this.#o.minBatchSize, this.#o.maxBatchSize);
    const c = clamp(Math.round(concurrency), 1, this.#o.maxConcurrency);
    const changed = Math.round(b) !== Math.round(this.#batchSize) || c !== this.#concurrency;
    this.#batchSize = b;
    this.#concurrency = c;
    if (changed) this.#adjustments++;
    return changed;
  }

  #restart(now: number): void {
    this.#phase = PHASE.BASELINE;
    this.#beforeProbe = null;
    this.#baselineThroughput = 0;
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
