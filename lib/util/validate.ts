/**
 * One way to refuse a bad option, across the library: a `TypeError` (wrong kind of value) or a
 * `RangeError` (right kind, outside what is allowed) whose `code` is Node's own
 * `ERR_INVALID_ARG_TYPE` / `ERR_OUT_OF_RANGE`, and whose message names the entry point, the option
 * as the caller spelled it, what is allowed, and what was given:
 * `backpressure(): option "sampleRate" must be an integer >= 1 (got 0)`.
 *
 * Callers match on `code` (and the class); the message is for people. The CLI turns these into
 * usage errors by the quoted option name, so keep the `option "…"` part.
 */

/** The `code` of an option error. */
export const OptionErrorCode = {
  /** The option has the wrong type (not a number, not a function, not an object…). A `TypeError`. */
  INVALID_TYPE: 'ERR_INVALID_ARG_TYPE',
  /** The option has the right type but a value outside what is allowed. A `RangeError`. */
  OUT_OF_RANGE: 'ERR_OUT_OF_RANGE',
} as const;

export type OptionErrorCode = (typeof OptionErrorCode)[keyof typeof OptionErrorCode];

export type OptionError = (TypeError | RangeError) & { code: OptionErrorCode };

/**
 * The error for option `name` of `owner` (e.g. `'BackpressureWritable'`, `'backpressure()'`).
 * `expected` completes "must be …"; `value` is what was given.
 */
export function invalidOption(
  kind: 'type' | 'range',
  owner: string,
  name: string,
  expected: string,
  value: unknown,
): OptionError {
  const message = optionMessage(owner, name, expected, value);
  const err = kind === 'type' ? new TypeError(message) : new RangeError(message);
  return Object.assign(err, { code: kind === 'type' ? OptionErrorCode.INVALID_TYPE : OptionErrorCode.OUT_OF_RANGE });
}

/**
 * The message of {@link invalidOption}, for the few entry points whose option errors carry a
 * documented code of their own (the NDJSON splitter's `ERR_NDJSON_INVALID_OPTION`).
 */
export function optionMessage(owner: string, name: string, expected: string, value: unknown): string {
  return `${owner}: option "${name}" must be ${expected} (got ${describeValue(value)})`;
}

/** True for an error made by {@link invalidOption}. */
export function isOptionError(err: unknown): err is OptionError {
  return (
    (err instanceof TypeError || err instanceof RangeError) &&
    ((err as { code?: unknown }).code === OptionErrorCode.INVALID_TYPE ||
      (err as { code?: unknown }).code === OptionErrorCode.OUT_OF_RANGE)
  );
}

/** A short, safe rendering of a bad value for a message (functions are not printed). */
function describeValue(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'symbol') return value.toString();
  if (Array.isArray(value)) return 'an array';
  if (value !== null && typeof value === 'object') return 'an object';
  return String(value);
}

/** `'a', 'b' or 'c'`: the allowed values of an enumerated option, for "must be one of …". */
export function oneOfList(values: readonly string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  return quoted.length <= 1
    ? (quoted[0] ?? '')
    : `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1] ?? ''}`;
}

/**
 * `value` if it is one of `allowed`, else a RangeError (a wrong string) or TypeError (not a
 * string at all). `undefined` gives `fallback`.
 */
export function enumOption<V extends string>(
  owner: string,
  name: string,
  value: unknown,
  allowed: readonly V[],
  fallback: V,
): V {
  if (value === undefined) return fallback;
  if ((allowed as readonly unknown[]).includes(value)) return value as V;
  throw invalidOption(typeof value === 'string' ? 'range' : 'type', owner, name, `one of ${oneOfList(allowed)}`, value);
}

/** An integer ≥ `min`: a number that is not one (NaN included, as in Node) is a RangeError, a non-number a TypeError. */
export function integerOption(owner: string, name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw invalidOption('type', owner, name, `an integer >= ${min}`, value);
  if (!Number.isSafeInteger(value) || value < min)
    throw invalidOption('range', owner, name, `an integer >= ${min}`, value);
  return value;
}

/** A function, or `undefined` when not given and not `required`. */
export function functionOption<F>(
  owner: string,
  name: string,
  value: unknown,
  required: boolean,
  expected = 'a function',
): F | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'function') throw invalidOption('type', owner, name, expected, value);
  return value as F;
}
