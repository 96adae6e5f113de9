/**
 * Coded errors of the line sinks. They mirror `BackpressureError` (stable
 * `code`; match on it, never on the message) and add what a retry policy
 * needs: `retryable` and, from an HTTP `Retry-After`, `retryAfterMs`.
 *
 * Messages never contain credentials: every sink builds them from its
 * redacted `description`.
 */
export const SinkErrorCodes = {
  /** `createSink` got a spec it cannot parse (programmer/user error, thrown synchronously). */
  INVALID_SPEC: 'ERR_SINK_INVALID_SPEC',
  /** The destination is gone: EPIPE on stdout/stdin of a child, stream destroyed, or `write` after `close()`. Not retryable: stop reading, report, exit. */
  CLOSED: 'ERR_SINK_CLOSED',
  /** Any other I/O error of a stream or file sink (ENOSPC, EACCES, EISDIR, …). Not retryable: the stream is destroyed. */
  WRITE_FAILED: 'ERR_SINK_WRITE_FAILED',
  /** The HTTP server answered with a non-2xx status. `statusCode` set; retryable for 408, 429 and 5xx. */
  HTTP_STATUS: 'ERR_SINK_HTTP_STATUS',
  /** The HTTP request failed below HTTP (refused, reset, socket hang up, DNS). Retryable. */
  HTTP_NETWORK: 'ERR_SINK_HTTP_NETWORK',
  /** `ctx.signal` was aborted (the core's flush timeout or shutdown) before the write completed. Retryable. */
  ABORTED: 'ERR_SINK_ABORTED',
  /** The exec sink's child exited (with any status) before `close()`, or `close()` saw a non-zero exit. `exitCode`/`exitSignal` set. */
  CHILD_EXITED: 'ERR_SINK_CHILD_EXITED',
  /** The exec sink could not start its child (the shell could not be spawned). */
  SPAWN_FAILED: 'ERR_SINK_SPAWN_FAILED',
} as const;

export type SinkErrorCode = (typeof SinkErrorCodes)[keyof typeof SinkErrorCodes];

export interface SinkErrorOptions {
  retryable?: boolean;
  retryAfterMs?: number;
  statusCode?: number;
  exitCode?: number | null;
  exitSignal?: string | null;
  cause?: unknown;
}

export class SinkError extends Error {
  readonly code: SinkErrorCode;
  /** `true` when the same batch may succeed later (the core should retry it); `false` when retrying cannot help. */
  readonly retryable: boolean;
  /** From an HTTP `Retry-After` header (seconds or HTTP date), in ms from when the response arrived. */
  readonly retryAfterMs: number | undefined;
  /** HTTP status, for `ERR_SINK_HTTP_STATUS`. */
  readonly statusCode: number | undefined;
  /** Child exit code (null when killed by a signal), for `ERR_SINK_CHILD_EXITED`. */
  readonly exitCode: number | null | undefined;
  /** Signal that killed the child, for `ERR_SINK_CHILD_EXITED`. */
  readonly exitSignal: string | null | undefined;

  constructor(code: SinkErrorCode, message: string, options: SinkErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SinkError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.retryAfterMs = options.retryAfterMs;
    this.statusCode = options.statusCode;
    this.exitCode = options.exitCode;
    this.exitSignal = options.exitSignal;
  }
}

/** Type guard: `true` for sink errors, optionally of one code. */
export function isSinkError(err: unknown, code?: SinkErrorCode): err is SinkError {
  return err instanceof SinkError && (code === undefined || err.code === code);
}

/** What a caller should do with a rejected `LineSink.write`. */
export const SinkFailureAction = {
  /** Transient: let the core retry the batch (honouring `retryAfterMs` when set). */
  RETRY: 'retry',
  /** Permanent for this batch (HTTP 4xx other than 408/429): retrying cannot help, dead-letter it now. */
  DEAD_LETTER: 'dead-letter',
  /** The sink itself is gone (EPIPE, child exited, I/O error): stop reading input, report, exit non-zero. */
  STOP: 'stop',
} as const;

export type SinkFailureAction = (typeof SinkFailureAction)[keyof typeof SinkFailureAction];

/**
 * Classifies a rejection of `LineSink.write`. Errors that are not `SinkError`s
 * are treated as transient (`retry`): when in doubt, do not lose data.
 */
export function sinkFailureAction(err: unknown): SinkFailureAction {
  if (!isSinkError(err)) return SinkFailureAction.RETRY;
  if (err.retryable) return SinkFailureAction.RETRY;
  if (err.code === SinkErrorCodes.HTTP_STATUS) return SinkFailureAction.DEAD_LETTER;
  return SinkFailureAction.STOP;
}

/** A write rejected because `signal` (the core's flush timeout, a shutdown) aborted it. Retryable. */
export function abortedError(description: string, reason: unknown): SinkError {
  return new SinkError(SinkErrorCodes.ABORTED, `${description}: write aborted`, {
    retryable: true,
    cause: reason,
  });
}
