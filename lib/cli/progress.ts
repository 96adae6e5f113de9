/** What one progress redraw shows. */
export interface ProgressSnapshot {
  /** Lines read so far (valid + invalid). */
  lines: number;
  state: string;
  bufferSize: number;
  bufferUtilization: number;
  dropped: number;
  deadLettered: number;
}

/** Options of `ProgressLine`. */
export interface ProgressLineOptions {
  /** Where to draw: a TTY stream (stderr). */
  write: (text: string) => void;
  /** Called once per redraw; must be cheap. */
  snapshot: () => ProgressSnapshot;
  /** Redraw period. 250 ms: four redraws a second reads as "live" without costing throughput. @default 250 */
  intervalMs?: number;
  now?: () => number;
}

/** Carriage return + "erase to end of line": redraws in place, and leaves no tail of a longer previous line. */
const REDRAW = '\r';
const ERASE_REST = '\x1b[K';

/**
 * A live one-line status ("12,345 lines  41.2k/s  buffer 80% (8000)  critical  dropped 0")
 * redrawn in place with `\r`. Rate is lines per second over the last interval.
 */
export class ProgressLine {
  readonly #write: (text: string) => void;
  readonly #snapshot: () => ProgressSnapshot;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #lastLines = 0;
  #lastAt = 0;
  #drawn = false;
  readonly #onTick = (): void => this.#draw();

  constructor(options: ProgressLineOptions) {
    this.#write = options.write;
    this.#snapshot = options.snapshot;
    this.#intervalMs = options.intervalMs ?? 250;
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#lastAt = this.#now();
    // unref: the status line must never be what keeps the process alive.
    this.#timer = setInterval(this.#onTick, this.#intervalMs).unref();
  }

  /** Erases the line so that whatever is printed next starts clean. Call before writing to the same stream. */
  clear(): void {
    if (this.#drawn) this.#write(`${REDRAW}${ERASE_REST}`);
    this.#drawn = false;
  }

  /** Draws the final state, ends the line and stops redrawing. */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#draw();
    this.#write('\n');
    this.#drawn = false;
  }

  #draw(): void {
    const s = this.#snapshot();
    const now = this.#now();
    const seconds = (now - this.#lastAt) / 1000;
    const rate = seconds > 0 ? (s.lines - this.#lastLines) / seconds : 0;
    this.#lastLines = s.lines;
    this.#lastAt = now;
    this.#write(`${REDRAW}${renderProgress(s, rate)}${ERASE_REST}`);
    this.#drawn = true;
  }
}

/** The status text itself, without terminal control codes. */
export function renderProgress(s: ProgressSnapshot, linesPerSecond: number): string {
  const parts = [
    `${s.lines.toLocaleString('en-US')} lines`,
    `${compact(linesPerSecond)}/s`,
    `buffer ${Math.round(s.bufferUtilization * 100)}% (${s.bufferSize})`,
    s.state,
    `dropped ${s.dropped.toLocaleString('en-US')}`,
  ];
  if (s.deadLettered > 0) parts.push(`dead-lettered ${s.deadLettered.toLocaleString('en-US')}`);
  return parts.join('  ');
}

function compact(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}
