/** What the adaptive loop learned of the sink over one window of completed flush attempts. */
export interface Window {
  /** lanes × Σitems / Σlatency: what the lanes sustain, per second (see the adaptive controller). */
  throughput: number;
  meanLatencyMs: number;
  /** A full batch was waiting when at least half the window's attempts completed: the sink set the pace. */
  saturated: boolean;
}

/**
 * The adaptive loop's running statistics: the completions counted since the window began, summed
 * until the window is closed into a {@link Window}. It judges nothing: which completions count and
 * when a window is long enough are the controller's decisions.
 */
export class LatencyWindow {
  #start: number;
  #items = 0;
  #completions = 0;
  #latencyMs = 0;
  #saturated = 0;

  constructor(now: number) {
    this.#start = now;
  }

  /** Completions counted so far. */
  get completions(): number {
    return this.#completions;
  }

  /** Milliseconds since the window began. */
  age(now: number): number {
    return now - this.#start;
  }

  /** Counts one successful attempt of `items` that took `latencyMs`; `backlogged` as in onSuccess. */
  add(items: number, latencyMs: number, backlogged: boolean): void {
    this.#items += items;
    this.#completions++;
    this.#latencyMs += latencyMs;
    if (backlogged) this.#saturated++;
  }

  /** The window's figures with `lanes` open (at least one completion counted), and a new window from `now`. */
  close(now: number, lanes: number): Window {
    const window: Window = {
      throughput: (lanes * this.#items * 1000) / Math.max(1, this.#latencyMs),
      meanLatencyMs: this.#latencyMs / this.#completions,
      saturated: this.#saturated * 2 >= this.#completions,
    };
    this.reset(now);
    return window;
  }

  /** Forgets what was counted: a new window begins at `now`. */
  reset(now: number): void {
    this.#start = now;
    this.#items = 0;
    this.#completions = 0;
    this.#latencyMs = 0;
    this.#saturated = 0;
  }
}
