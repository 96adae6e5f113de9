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
  /**
   * The terminal's width, read at every redraw (it can change). The line is cut to one column less,
   * so that it never wraps: a wrapped line is not erased by `\r`, and the redraws would pile up.
   * `undefined`: not cut.
   * @default () => undefined
   */
  columns?: () => number | undefined;
  now?: () => number;
}

/** Carriage return + "erase to end of line": redraws in place, and leaves no tail of a longer previous line. */
const REDRAW = '\r';
const ERASE_REST = '\x1b[K';

/**
 * A live one-line status ("12,345 lines  41.2k/s  buffer 80% (8000)  critical  dropped 0")
 * redrawn in place with `\r`, cut to the terminal's width. The rate is lines per second over the
 * last interval while running; the final frame (`stop()`) shows the average over the whole run.
 */
export class ProgressLine {
  readonly #write: (text: string) => void;
  readonly #snapshot: () => ProgressSnapshot;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #columns: () => number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #startedAt = 0;
  #startLines = 0;
  #lastLines = 0;
  #lastAt = 0;
  #drawn = false;
  readonly #onTick = (): void => this.#draw();

  constructor(options: ProgressLineOptions) {
    this.#write = options.write;
    this.#snapshot = options.snapshot;
    this.#intervalMs = options.intervalMs ?? 250;
    this.#now = options.now ?? Date.now;
    this.#columns = options.columns ?? (() => undefined);
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#lastAt = this.#now();
    this.#startedAt = this.#lastAt;
    this.#lastLines = this.#snapshot().lines;
    this.#startLines = this.#lastLines;
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
    this.#draw(true);
    this.#write('\n');
    this.#drawn = false;
  }

  /** `final`: the last frame, whose rate is the run's average (the last interval may have read nothing). */
  #draw(final = false): void {
    const s = this.#snapshot();
    const now = this.#now();
    const since = final ? this.#startedAt : this.#lastAt;
    const seconds = (now - since) / 1000;
    const rate = seconds > 0 ? (s.lines - (final ? this.#startLines : this.#lastLines)) / seconds : 0;
    this.#lastLines = s.lines;
    this.#lastAt = now;
    this.#write(`${REDRAW}${fitToWidth(renderProgress(s, rate), this.#columns())}${ERASE_REST}`);
    this.#drawn = true;
  }
}

/**
 * Cuts `text` to `columns - 1` characters (the last column stays empty: writing into it makes some
 * terminals wrap). The status text is ASCII, so characters are columns.
 */
export function fitToWidth(text: string, columns: number | undefined): string {
  if (columns === undefined || !Number.isFinite(columns) || columns < 2) return text;
  const room = Math.floor(columns) - 1;
  return text.length <= room ? text : text.slice(0, room);
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
  // A slow trickle (0.4 lines/s) is not "0/s".
  if (n > 0 && n < 10) return n.toFixed(1);
  return String(Math.round(n));
}
