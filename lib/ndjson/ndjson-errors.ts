/**
 * Coded errors of the NDJSON splitter. They mirror `BackpressureError` (a
 * stable `code`, match on it, never on the message) but live in their own
 * class because `BackpressureError.code` is typed to the core's codes.
 */
export const NdjsonErrorCodes = {
  /** `onInvalid: 'fail'` met an invalid line. `line` and `reason` say which and why. */
  INVALID_LINE: 'ERR_NDJSON_INVALID_LINE',
  /** A splitter option is out of range (programmer error, thrown synchronously). */
  INVALID_OPTION: 'ERR_NDJSON_INVALID_OPTION',
} as const;

export type NdjsonErrorCode = (typeof NdjsonErrorCodes)[keyof typeof NdjsonErrorCodes];

/** Why a line was rejected. */
export const InvalidReasons = {
  /** The line is valid UTF-8 but `JSON.parse` rejects it. */
  INVALID_JSON: 'invalid-json',
  /** The line is longer than `maxLineBytes`; its bytes were discarded up to the next newline. */
  LINE_TOO_LONG: 'line-too-long',
  /** The line is not valid UTF-8 (JSON text must be). */
  INVALID_UTF8: 'invalid-utf8',
} as const;

export type InvalidReason = (typeof InvalidReasons)[keyof typeof InvalidReasons];

export class NdjsonError extends Error {
  readonly code: NdjsonErrorCode;
  /** 1-based physical line number of the offending line, when there is one. */
  readonly line: number | undefined;
  readonly reason: InvalidReason | undefined;

  constructor(
    code: NdjsonErrorCode,
    message: string,
    options: { line?: number; reason?: InvalidReason; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NdjsonError';
    this.code = code;
    this.line = options.line;
    this.reason = options.reason;
  }
}

/** Type guard: `true` for splitter errors, optionally of one code. */
export function isNdjsonError(err: unknown, code?: NdjsonErrorCode): err is NdjsonError {
  return err instanceof NdjsonError && (code === undefined || err.code === code);
}
