import { MAX_TIMER_MS } from '../core/options';
import { functionOption, integerOption, invalidOption } from '../util/validate';

const OWNER = 'RateLimitedLog';

function stringOption(name: string, value: unknown, fallback: string | undefined): string {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string') throw invalidOption('type', OWNER, name, 'a string', value);
  return value;
}

/** Options of `RateLimitedLog`. */
export interface RateLimitedLogOptions {
  /** Where log lines go; each call gets one line, newline included. */
  write: (text: string) => void;
  /** What the summary calls the suppressed messages ("invalid lines", "dead-lettered batches"). */
  noun: string;
  /** Messages printed one by one before the log switches to summaries. Integer ≥ 0. @default 10 */
  burst?: number;
  /** While messages are being suppressed, at most one summary line per this many ms. Integer in [1, MAX_TIMER_MS]. @default 1000 */
  summaryIntervalMs?: number;
  /** Prefix of every line. @default 'backpressure: ' */
  prefix?: string;
}

/**
 * A log that a flood cannot turn into a flood on stderr: the first `burst`
 * messages are printed as they come; after that they are only counted, by
 * kind, and at most one summary line per `summaryIntervalMs` says how many
 * there were ("1234 more invalid lines (invalid-json: 1200, line-too-long: 34)").
 * `close()` prints whatever is still pending.
 */
export class RateLimitedLog {
  readonly #write: (text: string) => void;
  readonly #noun: string;
  readonly #burst: number;
  readonly #intervalMs: number;
  readonly #prefix: string;
  #printed = 0;
  /** Suppressed since the last summary, by kind. */
  readonly #pending = new Map<string, number>();
  #pendingCount = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #onTick = (): void => this.#summarize();

  constructor(options: RateLimitedLogOptions) {
    if (options === null || typeof options !== 'object')
      throw invalidOption('type', OWNER, 'options', 'an object', options);
    this.#write = functionOption<(text: string) => void>(OWNER, 'write', options.write, true) as (text: string) => void;
    this.#noun = stringOption('noun', options.noun, undefined);
    this.#burst = integerOption(OWNER, 'burst', options.burst, 10, 0);
    // It ends up in setTimeout, which would run anything above MAX_TIMER_MS after 1 ms.
    const interval = integerOption(OWNER, 'summaryIntervalMs', options.summaryIntervalMs, 1000, 1);
    if (interval > MAX_TIMER_MS)
      throw invalidOption('range', OWNER, 'summaryIntervalMs', `an integer in [1, ${MAX_TIMER_MS}]`, interval);
    this.#intervalMs = interval;
    this.#prefix = stringOption('prefix', options.prefix, 'backpressure: ');
  }

  /**
   * Logs `message()` — a thunk, so that suppressed messages (the flood case)
   * cost a counter increment and no string building.
   */
  log(kind: string, message: () => string): void {
    if (this.#printed < this.#burst) {
      this.#printed++;
      this.#write(`${this.#prefix}${message()}\n`);
      return;
    }
    this.#pending.set(kind, (this.#pending.get(kind) ?? 0) + 1);
    this.#pendingCount++;
    // unref: a pending summary must never keep the process alive on its own.
    this.#timer ??= setInterval(this.#onTick, this.#intervalMs).unref();
  }

  /** Prints what is still pending and stops the timer. */
  close(): void {
    this.#summarize();
    this.#stopTimer();
  }

  #summarize(): void {
    if (this.#pendingCount === 0) {
      this.#stopTimer(); // a quiet interval: stop ticking until the next suppressed message
      return;
    }
    const byKind = [...this.#pending].map(([kind, n]) => `${kind}: ${n}`).join(', ');
    this.#write(`${this.#prefix}${this.#pendingCount} more ${this.#noun} (${byKind})\n`);
    this.#pending.clear();
    this.#pendingCount = 0;
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
