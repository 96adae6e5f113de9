import { parseArgs } from 'node:util';
import { MAX_TIMER_MS } from '../options';

/** The strategies the CLI can select; each maps to `backpressure({ strategy })`. */
export const STRATEGIES = ['block', 'drop-oldest', 'drop-newest', 'sample', 'priority'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export const INVALID_POLICIES = ['skip', 'fail'] as const;
export type InvalidPolicy = (typeof INVALID_POLICIES)[number];

/** Defaults the CLI owns. Everything else falls through to the library's own defaults. */
export const CLI_DEFAULTS = {
  strategy: 'block' as StrategyName,
  sink: 'stdout',
  invalid: 'skip' as InvalidPolicy,
  /** 1 MiB: far above any sane log record, far below what could exhaust memory on one line. */
  maxLineBytes: 1024 * 1024,
  /** How long a signal-triggered shutdown waits for the sink before dead-lettering the rest. */
  drainTimeoutMs: 10_000,
} as const;

/** Flags after validation. Optional fields left unset mean "use the library's default". */
export interface CliOptions {
  strategy: StrategyName;
  maxBuffer?: number;
  maxBufferBytes?: number;
  batchSize?: number;
  flushIntervalMs?: number;
  sampleRate?: number;
  priorityField?: string;
  sink: string;
  deadLetter?: string;
  invalid: InvalidPolicy;
  maxLineBytes: number;
  retries?: number;
  flushTimeoutMs?: number;
  drainTimeoutMs: number;
  stats: boolean;
  /** `undefined`: decide from whether stderr is a TTY. */
  progress?: boolean;
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
  'flush-interval': { type: 'string' },
  'sample-rate': { type: 'string' },
  'priority-field': { type: 'string' },
  sink: { type: 'string' },
  'dead-letter': { type: 'string' },
  invalid: { type: 'string' },
  'max-line-bytes': { type: 'string' },
  retries: { type: 'string' },
  'flush-timeout': { type: 'string' },
  'drain-timeout': { type: 'string' },
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
    parsed = parseArgs({ args: [...argv], options: OPTIONS, strict: true, allowPositionals: false, tokens: true });
  } catch (err) {
    // parseArgs messages are precise but may run on with advice ("Unknown option '--x'. To specify
    // a positional argument ..."): keep the first sentence, so the usage error stays one line.
    throw new UsageError(firstSentence((err as Error).message));
  }
  const { values, tokens } = parsed;
  if (values.help === true) return { command: 'help' };
  if (values.version === true) return { command: 'version' };

  const options: CliOptions = {
    strategy: oneOf('--strategy', values.strategy, STRATEGIES) ?? CLI_DEFAULTS.strategy,
    sink: nonEmpty('--sink', values.sink) ?? CLI_DEFAULTS.sink,
    invalid: oneOf('--invalid', values.invalid, INVALID_POLICIES) ?? CLI_DEFAULTS.invalid,
    maxLineBytes: integer('--max-line-bytes', values['max-line-bytes'], 1) ?? CLI_DEFAULTS.maxLineBytes,
    drainTimeoutMs: integer('--drain-timeout', values['drain-timeout'], 0, MAX_TIMER_MS) ?? CLI_DEFAULTS.drainTimeoutMs,
    stats: values.stats === true,
  };
  setIfDefined(options, 'maxBuffer', integer('--max-buffer', values['max-buffer'], 1));
  setIfDefined(options, 'maxBufferBytes', integer('--max-buffer-bytes', values['max-buffer-bytes'], 1));
  setIfDefined(options, 'batchSize', integer('--batch-size', values['batch-size'], 1));
  setIfDefined(options, 'flushIntervalMs', integer('--flush-interval', values['flush-interval'], 0, MAX_TIMER_MS));
  setIfDefined(options, 'sampleRate', integer('--sample-rate', values['sample-rate'], 1));
  setIfDefined(options, 'priorityField', nonEmpty('--priority-field', values['priority-field']));
  setIfDefined(options, 'deadLetter', nonEmpty('--dead-letter', values['dead-letter']));
  setIfDefined(options, 'retries', integer('--retries', values.retries, 0));
  setIfDefined(options, 'flushTimeoutMs', integer('--flush-timeout', values['flush-timeout'], 1, MAX_TIMER_MS));
  setIfDefined(options, 'progress', lastProgressFlag(tokens));

  if (options.strategy === 'priority' && options.priorityField === undefined) {
    throw new UsageError('--strategy priority needs --priority-field PATH');
  }
  if (options.strategy !== 'priority' && options.priorityField !== undefined) {
    throw new UsageError('--priority-field only applies to --strategy priority');
  }
  if (options.strategy !== 'sample' && options.sampleRate !== undefined) {
    throw new UsageError('--sample-rate only applies to --strategy sample');
  }
  return { command: 'run', options };
}

function firstSentence(message: string): string {
  const line = message.split('\n', 1)[0] ?? message;
  const end = line.indexOf('. ');
  return end === -1 ? line : line.slice(0, end);
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

/** `max` bounds the flags that end up in a timer: Node cannot wait longer than MAX_TIMER_MS (it would fire after 1 ms). */
function integer(flag: string, value: string | undefined, min: number, max?: number): number | undefined {
  if (value === undefined) return undefined;
  const n = INTEGER.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
    throw new UsageError(`${flag} must be an integer >= ${min}${max === undefined ? '' : ` and <= ${max}`}, got '${value}'`);
  }
  return n;
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
