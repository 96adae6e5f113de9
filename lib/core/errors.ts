/**
 * Every runtime failure this package reports carries a stable `code`. Match on
 * `err.code`, never on the message: messages may be reworded, codes will not.
 */
export const ErrorCodes = {
  /** A batch could not be delivered after all retries and no `onDeadLetter` handler was set. `items` holds the batch. */
  FLUSH_FAILED: 'ERR_BACKPRESSURE_FLUSH_FAILED',
  /** One flush attempt ran past `flushTimeoutMs`; its signal was aborted. Used as the attempt's error (retried). */
  FLUSH_TIMEOUT: 'ERR_BACKPRESSURE_FLUSH_TIMEOUT',
  /** A writer stayed blocked for `maxBlockTimeMs` while the sink made no progress. `items` holds what was still held. */
  BLOCK_TIMEOUT: 'ERR_BACKPRESSURE_BLOCK_TIMEOUT',
  /** `end()` could not deliver everything within `drainTimeoutMs`. Used as the dead-letter error (or the stream error, with `items`). */
  DRAIN_TIMEOUT: 'ERR_BACKPRESSURE_DRAIN_TIMEOUT',
  /** The stream was destroyed while it still held items; `items` holds them (only when there is no `onDeadLetter`). */
  DESTROYED: 'ERR_BACKPRESSURE_DESTROYED',
  /** `flush` returned something that is neither `undefined` nor a valid `FlushResult`. */
  INVALID_FLUSH_RESULT: 'ERR_BACKPRESSURE_INVALID_FLUSH_RESULT',
  /** `sizeOf(item)` threw or returned something other than a finite number ≥ 0. */
  INVALID_ITEM_SIZE: 'ERR_BACKPRESSURE_INVALID_ITEM_SIZE',
  /** The `onDeadLetter` handler threw or rejected (once or more); `items` holds every item a failed call was given, each once. */
  DEAD_LETTER_FAILED: 'ERR_BACKPRESSURE_DEAD_LETTER_FAILED',
  /** The `onSettled` handler threw. The items it was told about stay counted as delivered or dead-lettered. */
  SETTLED_HANDLER_FAILED: 'ERR_BACKPRESSURE_SETTLED_HANDLER_FAILED',
  /**
   * Durable mode: an item could not be made into a record — `durable.codec.encode` threw or returned
   * something other than a `Uint8Array`, or the record is larger than a segment holds (`cause`:
   * ERR_DURABLE_RECORD_TOO_LARGE). The item is refused by the log (nothing half-written) and
   * dead-lettered; the write's callback gets this error.
   */
  ENCODE_FAILED: 'ERR_BACKPRESSURE_ENCODE_FAILED',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * The one error class of this package. `items` is set whenever the error hands
 * undelivered items back to you, so that nothing is ever lost silently.
 */
export class BackpressureError<T = unknown> extends Error {
  readonly code: ErrorCode;
  readonly items: T[] | undefined;

  constructor(code: ErrorCode, message: string, options: { items?: T[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BackpressureError';
    this.code = code;
    this.items = options.items;
  }
}

/** Type guard: `true` for errors raised by this package, optionally of one code. */
export function isBackpressureError(err: unknown, code?: ErrorCode): err is BackpressureError {
  return err instanceof BackpressureError && (code === undefined || err.code === code);
}
