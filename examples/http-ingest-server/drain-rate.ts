/**
 * How fast the stream is draining, from its recent `'flush'` events: items per
 * second *while flushing*, i.e. Σ items / Σ latency over the last `window`
 * flushes, times the concurrency. Measuring busy time (rather than items per
 * wall-clock second) keeps an idle minute from making the sink look slow right
 * when a burst arrives and a Retry-After is needed.
 */
export class DrainRateMeter {
  readonly #items: Float64Array;
  readonly #latencyMs: Float64Array;
  readonly #concurrency: number;
  #next = 0;
  #count = 0;

  /** @param window flushes remembered @param concurrency batches the stream flushes at once */
  constructor(window = 16, concurrency = 1) {
    this.#items = new Float64Array(window);
    this.#latencyMs = new Float64Array(window);
    this.#concurrency = concurrency;
  }

  /** Called once per successful flush (per batch, never per item). */
  record(items: number, latencyMs: number): void {
    this.#items[this.#next] = items;
    this.#latencyMs[this.#next] = latencyMs;
    this.#next = (this.#next + 1) % this.#items.length;
    if (this.#count < this.#items.length) this.#count++;
  }

  /** Items per second, `Infinity` when flushes take no measurable time, 0 before the first flush. */
  itemsPerSecond(): number {
    if (this.#count === 0) return 0;
    let items = 0;
    let ms = 0;
    for (let i = 0; i < this.#count; i++) {
      items += this.#items[i] as number;
      ms += this.#latencyMs[i] as number;
    }
    if (ms === 0) return Infinity;
    return (items / ms) * 1000 * this.#concurrency;
  }
}

/**
 * Seconds a throttled client should wait: the items held (buffered + in flight)
 * divided by the drain rate, rounded up, at least 1 (Retry-After is in whole
 * seconds) and at most `maxSeconds`. Before the first flush the rate is
 * unknown and the answer is 1: come back soon, we will know more then.
 */
export function retryAfterSeconds(heldItems: number, itemsPerSecond: number, maxSeconds: number): number {
  if (!(itemsPerSecond > 0)) return 1;
  const seconds = Math.ceil(heldItems / itemsPerSecond);
  return Math.min(Math.max(seconds, 1), maxSeconds);
}
