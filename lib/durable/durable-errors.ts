/**
 * Coded errors of the durable log. They mirror `BackpressureError` (a stable
 * `code`: match on it, never on the message) but live in their own class
 * because they carry disk-level details (a holder's pid, a corrupt range).
 */
export const DurableErrorCodes = {
  /** Another live process (or another open log in this process) holds the directory's lock. `holderPid` names it. */
  LOCKED: 'ERR_DURABLE_LOCKED',
  /**
   * Records whose bytes failed their checksum (or whose frame could not be found at all).
   * `seq`/`count` give the sequence range lost; the read entry's `payload` holds the raw bytes.
   */
  CORRUPT_RECORD: 'ERR_DURABLE_CORRUPT_RECORD',
  /** A record is intact (its checksum holds) but the `decode` given to `read()` threw on it; `cause` holds why. */
  DECODE_FAILED: 'ERR_DURABLE_DECODE_FAILED',
  /** No room for the record: `maxBytes` is reached, or the disk reported ENOSPC. `reason` says which. */
  FULL: 'ERR_DURABLE_FULL',
  /** A payload larger than the log can hold in one segment. */
  RECORD_TOO_LARGE: 'ERR_DURABLE_RECORD_TOO_LARGE',
  /** The log was closed: no more appends; records not yet durable were not written. */
  CLOSED: 'ERR_DURABLE_CLOSED',
  /** An I/O error other than a full disk (EIO, EROFS, …). The log stops accepting appends. `cause` holds the system error. */
  IO_FAILED: 'ERR_DURABLE_IO_FAILED',
  /** `ack(seq)` named a sequence number that `read()` has not handed out. */
  ACK_UNKNOWN: 'ERR_DURABLE_ACK_UNKNOWN',
  /** `read()` was called while a previous `read()` had not settled. */
  READ_IN_PROGRESS: 'ERR_DURABLE_READ_IN_PROGRESS',
  /** An option is missing, of the wrong type or out of range (thrown synchronously by `open`). */
  INVALID_OPTION: 'ERR_DURABLE_INVALID_OPTION',
} as const;

export type DurableErrorCode = (typeof DurableErrorCodes)[keyof typeof DurableErrorCodes];

/** Why the log is full. */
export type FullReason = 'max-bytes' | 'enospc';

export interface DurableErrorDetails {
  cause?: unknown;
  /** LOCKED: the pid written in the lock file. */
  holderPid?: number;
  /** CORRUPT_RECORD: first sequence number of the damaged range. */
  seq?: number;
  /** CORRUPT_RECORD: how many sequence numbers the damage covers (≥ 1). */
  count?: number;
  /** CORRUPT_RECORD: the segment file and byte offset where the damage starts. */
  segment?: string;
  offset?: number;
  /** CORRUPT_RECORD: true when `payload` holds only the first bytes of a longer damaged region. */
  rawTruncated?: boolean;
  /** FULL: what is full. */
  reason?: FullReason;
}

export class DurableError extends Error {
  readonly code: DurableErrorCode;
  readonly holderPid: number | undefined;
  readonly seq: number | undefined;
  readonly count: number | undefined;
  readonly segment: string | undefined;
  readonly offset: number | undefined;
  readonly rawTruncated: boolean | undefined;
  readonly reason: FullReason | undefined;

  constructor(code: DurableErrorCode, message: string, details: DurableErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'DurableError';
    this.code = code;
    this.holderPid = details.holderPid;
    this.seq = details.seq;
    this.count = details.count;
    this.segment = details.segment;
    this.offset = details.offset;
    this.rawTruncated = details.rawTruncated;
    this.reason = details.reason;
  }
}

/** Type guard: `true` for durable-log errors, optionally of one code. */
export function isDurableError(err: unknown, code?: DurableErrorCode): err is DurableError {
  return err instanceof DurableError && (code === undefined || err.code === code);
}

/** A RangeError/TypeError with the INVALID_OPTION code, naming the option and what it accepts. */
export function invalidOption(kind: 'type' | 'range', name: string, expected: string, value: unknown): Error {
  const shown = typeof value === 'string' ? JSON.stringify(value) : String(value);
  const message = `SegmentLog: option "${name}" must be ${expected} (got ${shown})`;
  const err = kind === 'type' ? new TypeError(message) : new RangeError(message);
  return Object.assign(err, { code: DurableErrorCodes.INVALID_OPTION });
}
