import { parseArgs } from 'node:util';
import { Strategy } from '../compose/backpressure';
import { DEFAULTS, MAX_TIMER_MS } from '../core/options';
import type { SyncMode } from '../durable/segment-writer';
import { DEFAULT_MAX_LINE_BYTES, InvalidPolicies, type InvalidPolicy } from '../ndjson/ndjson-splitter';
import { DEFAULT_MAX_DISK_BYTES, minMaxDiskBytes, SYNC_MODES } from './buffer-dir';

/** The strategies the CLI can select: exactly the library's, each mapping to `backpressure({ strategy })`. */
const STRATEGY_VALUES: readonly Strategy[] = Object.values(Strategy);

/** `--invalid` takes exactly the splitter's `onInvalid` policies. */
const INVALID_POLICY_VALUES: readonly InvalidPolicy[] = Object.values(InvalidPolicies);

/** Defaults the CLI owns. Everything else falls through to the library's own defaults. */
export const CLI_DEFAULTS = {
  strategy: Strategy.BLOCK as Strategy,
  sink: 'stdout',
  source: 'stdin',
  invalid: InvalidPolicies.SKIP as InvalidPolicy,
  /** The splitter's own default, named here because the CLI always passes it on. */
  maxLineBytes: DEFAULT_MAX_LINE_BYTES,
  /** How long a signal-triggered shutdown waits for the sink before dead-lettering the rest. */
  drainTimeoutMs: 10_000,
  /** Most `--concurrency`: more sink writes in flight than this would only queue in the sink. */
  maxConcurrency: 1024,
} as const;

/** Flags after validation. Optional fields left unset mean "use the library's default". */
export interface CliOptions {
  strategy: Strategy;
  maxBuffer?: number;
  maxBufferBytes?: number;
  batchSize?: number;
  /** Sink writes in flight at once (the library's `concurrency`). */
  concurrency?: number;
  /** Let the library's control loop choose batch size and concurrency. */
  adaptive?: boolean;
  flushIntervalMs?: number;
  sampleRate?: number;
  priorityField?: string;
  sink: string;
  /** `stdin`, or a `redis://` stream URL (parsed by `parseSourceSpec` before anything is opened). */
  source: string;
  /** With a Redis source: end the run once it found nothing for this long. */
  exitWhenIdleMs?: number;
  deadLetter?: string;
  invalid: InvalidPolicy;
  maxLineBytes: number;
  retries?: number;
  flushTimeoutMs?: number;
  drainTimeoutMs: number;
  stats: boolean;
  /** `undefined`: decide from whether stderr is a TTY. */
  progress?: boolean;
  /** Durable mode: the directory of the on-disk log. Unset: everything buffered is in memory. */
  bufferDir?: string;
  /** With `bufferDir`: most bytes of its segment files (the library's default when unset). */
  maxDiskBytes?: number;
  /** With `bufferDir`: when a record counts as written (the library's default, 'batch', when unset). */
  sync?: SyncMode;
}

export type ParsedCommand =
  | { readonly command: 'help' }
  | { readonly command: 'version' }
  | { readonly command: 'run'; readonly options: CliOptions };

/** A bad flag or value. `main` prints the message as one line and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const OPTIONS = {
  strategy: { type: 'string' },
  'max-buffer': { type: 'string' },
  'max-buffer-bytes': { type: 'string' },
  'batch-size': { type: 'string' },
  concurrency: { type: 'string' },
  adaptive: { type: 'boolean' },
  'flush-interval': { type: 'string' },
  'sample-rate': { type: 'string' },
  'priority-field': { type: 'string' },
  sink: { type: 'string' },
  source: { type: 'string' },
  'exit-when-idle': { type: 'string' },
  'dead-letter': { type: 'string' },
  invalid: { type: 'string' },
  'max-line-bytes': { type: 'string' },
  retries: { type: 'string' },
  'flush-timeout': { type: 'string' },
  'drain-timeout': { type: 'string' },
  'buffer-dir': { type: 'string' },
  'max-disk-bytes': { type: 'string' },
  sync: { type: 'string' },
  stats: { type: 'boolean' },
  progress: { type: 'boolean' },
  // Declared on its own rather than via `allowNegative`, which would also
  // accept meaningless `--no-help`, `--no-stats`, ...
  'no-progress': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const;

/**
 * Parses argv (without `node` and the script path). Strict: unknown flags,
 * positionals, missing or malformed values throw `UsageError`.
 */
export function parseCliArgs(argv: readonly string[]): ParsedCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: attachNegativeValues(argv),
      options: OPTIONS,
      strict: true,
      allowPositionals: false,
      tokens: true,
    });
  } catch (err) {
    // parseArgs messages are precise but may run on with advice ("Unknown option '--x'. To specify
    // a positional argument ..."): keep the first sentence, so the usage error stays one line.
    throw new UsageError(firstSentence((err as Error).message));
  }
  const { values, tokens } = parsed;
  if (values.help === true) return { command: 'help' };
  if (values.version === true) return { command: 'version' };

  const options: CliOptions = {
    strategy: oneOf('--strategy', values.strategy, STRATEGY_VALUES) ?? CLI_DEFAULTS.strategy,
    sink: nonEmpty('--sink', values.sink) ?? CLI_DEFAULTS.sink,
    source: nonEmpty('--source', values.source) ?? CLI_DEFAULTS.source,
    invalid: oneOf('--invalid', values.invalid, INVALID_POLICY_VALUES) ?? CLI_DEFAULTS.invalid,
    maxLineBytes: integer('--max-line-bytes', values['max-line-bytes'], 1) ?? CLI_DEFAULTS.maxLineBytes,
    drainTimeoutMs: integer('--drain-timeout', values['drain-timeout'], 0, MAX_TIMER_MS) ?? CLI_DEFAULTS.drainTimeoutMs,
    stats: values.stats === true,
  };
  if (values.adaptive === true) options.adaptive = true;
  setIfDefined(options, 'maxBuffer', integer('--max-buffer', values['max-buffer'], 1));
  setIfDefined(options, 'maxBufferBytes', integer('--max-buffer-bytes', values['max-buffer-bytes'], 1));
  setIfDefined(options, 'batchSize', integer('--batch-size', values['batch-size'], 1));
  setIfDefined(options, 'concurrency', integer('--concurrency', values.concurrency, 1, CLI_DEFAULTS.maxConcurrency));
  setIfDefined(options, 'flushIntervalMs', integer('--flush-interval', values['flush-interval'], 0, MAX_TIMER_MS));
  setIfDefined(options, 'sampleRate', integer('--sample-rate', values['sample-rate'], 1));
  setIfDefined(options, 'priorityField', dottedPath('--priority-field', values['priority-field']));
  setIfDefined(options, 'deadLetter', nonEmpty('--dead-letter', values['dead-letter']));
  setIfDefined(options, 'retries', integer('--retries', values.retries, 0));
  setIfDefined(options, 'flushTimeoutMs', integer('--flush-timeout', values['flush-timeout'], 1, MAX_TIMER_MS));
  setIfDefined(options, 'progress', lastProgressFlag(tokens));
  setIfDefined(options, 'bufferDir', nonEmpty('--buffer-dir', values['buffer-dir']));
  setIfDefined(options, 'sync', oneOf('--sync', values.sync, SYNC_MODES));
  const minDisk = minMaxDiskBytes(options.maxLineBytes);
  setIfDefined(
    options,
    'maxDiskBytes',
    integer('--max-disk-bytes', values['max-disk-bytes'], minDisk.bytes, Number.MAX_SAFE_INTEGER, minDisk.why),
  );
  setIfDefined(options, 'exitWhenIdleMs', integer('--exit-when-idle', values['exit-when-idle'], 0, MAX_TIMER_MS));
  if (options.exitWhenIdleMs !== undefined && !/^rediss?:\/\//i.test(options.source.trim())) {
    throw new UsageError('--exit-when-idle only applies to --source redis://… (stdin ends at EOF)');
  }
  if (options.bufferDir !== undefined && /^rediss?:\/\//i.test(options.source.trim())) {
    // Undelivered entries of a stream stay pending in Redis until acknowledged: a disk log in between adds
    // a second copy, and its replay would hand the source records it can no longer match to their entries.
    throw new UsageError(
      '--buffer-dir applies to stdin input; a Redis stream already keeps undelivered entries pending',
    );
  }

  if (options.strategy === 'priority' && options.priorityField === undefined) {
    throw new UsageError('--strategy priority needs --priority-field PATH');
  }
  if (options.strategy !== 'priority' && options.priorityField !== undefined) {
    throw new UsageError('--priority-field only applies to --strategy priority');
  }
  if (options.strategy !== 'sample' && options.sampleRate !== undefined) {
    throw new UsageError('--sample-rate only applies to --strategy sample');
  }
  checkBufferDirFlags(options, minDisk);
  // A batch larger than the buffer could never fill. Only a conflict the user wrote is an error:
  // `--max-buffer 50` alone shrinks the default batch instead (see effectiveBatchSize).
  if (options.batchSize !== undefined) {
    const maxBuffer = options.maxBuffer ?? DEFAULTS.maxBufferSize;
    if (options.batchSize > maxBuffer) {
      const which =
        options.maxBuffer === undefined ? `the default --max-buffer (${maxBuffer})` : `--max-buffer (${maxBuffer})`;
      throw new UsageError(
        `--batch-size is out of range: must be an integer from 1 to ${which}, got '${options.batchSize}'`,
      );
    }
  }
  return { command: 'run', options };
}

/** --max-disk-bytes and --sync only mean something with --buffer-dir; the default disk bound must fit the longest line. */
function checkBufferDirFlags(options: CliOptions, minDisk: { bytes: number; why: string }): void {
  if (options.bufferDir === undefined) {
    if (options.maxDiskBytes !== undefined) throw new UsageError('--max-disk-bytes only applies with --buffer-dir DIR');
    if (options.sync !== undefined) throw new UsageError('--sync only applies with --buffer-dir DIR');
    return;
  }
  if (options.maxDiskBytes === undefined && DEFAULT_MAX_DISK_BYTES < minDisk.bytes) {
    throw new UsageError(
      `--max-line-bytes ${options.maxLineBytes} needs --max-disk-bytes of at least ${minDisk.bytes} (${minDisk.why}); the default is ${DEFAULT_MAX_DISK_BYTES}`,
    );
  }
}

function firstSentence(message: string): string {
  const line = message.split('\n', 1)[0] ?? message;
  const end = line.indexOf('. ');
  const sentence = end === -1 ? line : line.slice(0, end);
  return sentence.endsWith('.') ? sentence.slice(0, -1) : sentence;
}

function setIfDefined<K extends keyof CliOptions>(target: CliOptions, key: K, value: CliOptions[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${flag} must be one of ${allowed.join('|')}, got '${value}'`);
}

function nonEmpty(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.trim() === '') throw new UsageError(`${flag} must not be empty`);
  return value;
}

// Digits only: "1e3", "0x10", " 5" and "5ms" are typos more often than intent.
const INTEGER = /^\d+$/;
// A number with a sign (or a fraction): well-formed, so "out of range" says more than "malformed".
const SIGNED_NUMBER = /^[-+]\d+(\.\d+)?$/;

/**
 * An integer flag in [min, max]. The message always names the flag and the allowed range, and
 * says "out of range" for a number outside it (`-5`, `3000000000` for a timer).
 */
function integer(
  flag: string,
  value: string | undefined,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
  why?: string,
): number | undefined {
  if (value === undefined) return undefined;
  const range =
    (max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`) +
    (why === undefined ? '' : ` (${why})`);
  if (!INTEGER.test(value)) {
    if (SIGNED_NUMBER.test(value)) throw new UsageError(`${flag} is out of range: must be ${range}, got '${value}'`);
    throw new UsageError(`${flag} must be ${range}, got '${value}'`);
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const limit = max === Number.MAX_SAFE_INTEGER && n > max ? ` (at most ${max})` : '';
    throw new UsageError(`${flag} is out of range: must be ${range}${limit}, got '${value}'`);
  }
  return n;
}

/** `name` or `name.sub.field`: non-empty names joined by dots (what fieldPriority reads). */
function dottedPath(flag: string, value: string | undefined): string | undefined {
  if (nonEmpty(flag, value) === undefined) return undefined;
  const path = value as string;
  if (path.split('.').some((key) => key === '')) {
    throw new UsageError(
      `${flag} must be a dotted path of non-empty field names (e.g. priority or meta.level), got '${path}'`,
    );
  }
  return path;
}

/** Flags that take a value (all but the booleans). */
const VALUE_FLAGS = new Set(
  Object.entries(OPTIONS)
    .filter(([, spec]) => spec.type === 'string')
    .map(([name]) => `--${name}`),
);

/**
 * `--max-buffer -5` → `--max-buffer=-5`. util.parseArgs refuses a value that starts with a dash
 * ("argument is ambiguous"), which hides the real problem; joined, the value reaches the range
 * check and the message says it is out of range. Only number-like values are joined, so that
 * `--sink --stats` (a forgotten value) still reads as a missing argument.
 */
function attachNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const next = argv[i + 1];
    if (VALUE_FLAGS.has(arg) && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
    if (arg === '--') {
      for (let j = i + 1; j < argv.length; j++) out.push(argv[j] as string);
      break;
    }
  }
  return out;
}

/**
 * The batch size to give the library: the user's, or — when only `--max-buffer` was given and it
 * is below the library's default batch (100) — the buffer size, so that a small buffer alone is
 * not refused for a default the user never chose.
 */
export function effectiveBatchSize(options: Pick<CliOptions, 'batchSize' | 'maxBuffer'>): number | undefined {
  if (options.batchSize !== undefined) return options.batchSize;
  if (options.maxBuffer !== undefined && options.maxBuffer < DEFAULTS.batchSize) return options.maxBuffer;
  return undefined;
}

type Token = { kind: string; name?: string };

/** `--progress --no-progress` and the reverse: the last one wins, as in most CLIs. */
function lastProgressFlag(tokens: readonly Token[]): boolean | undefined {
  let result: boolean | undefined;
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    if (token.name === 'progress') result = true;
    else if (token.name === 'no-progress') result = false;
  }
  return result;
}
