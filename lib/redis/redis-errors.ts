/**
 * Coded errors of the Redis Streams source and sink. Like every error of this package they carry a
 * stable `code` (match on it, never on the message) and, for the sink, `retryable`, which the core
 * reads to retry a batch or dead-letter it at once.
 */
export const RedisStreamErrorCodes = {
  /** `ioredis` is not installed: `npm install ioredis` (it is an optional peer dependency). */
  CLIENT_MISSING: 'ERR_REDIS_CLIENT_MISSING',
  /**
   * An entry was delivered more than `maxDeliveries` times: it is handed to the source's
   * `onDeadLetter` with this error instead of being delivered again (`entries` holds them).
   */
  POISON: 'ERR_REDIS_POISON',
  /** The source's `onDeadLetter` threw or rejected: the source fails with this; the entries stay pending. */
  DEAD_LETTER_FAILED: 'ERR_REDIS_DEAD_LETTER_FAILED',
  /**
   * `close()` could not acknowledge every settled entry within `closeTimeoutMs` (Redis unreachable):
   * `ids` holds them. They stay pending in the group and are delivered again (at least once).
   */
  ACK_FAILED: 'ERR_REDIS_ACK_FAILED',
  /** `acknowledge()`/`onSettled` was called after `close()` finished: those entries stay pending. */
  CLOSED: 'ERR_REDIS_CLOSED',
  /** Redis refused a command for a reason retrying cannot fix (WRONGTYPE: the key is not a stream, NOPERM, …). */
  COMMAND_FAILED: 'ERR_REDIS_COMMAND_FAILED',
  /** The sink's XADD failed; `retryable` says whether the batch may succeed later. */
  WRITE_FAILED: 'ERR_REDIS_WRITE_FAILED',
  /** A `redis://` URL (CLI `--source`/`--sink`) that cannot be parsed, or lacks what it needs. */
  INVALID_URL: 'ERR_REDIS_INVALID_URL',
} as const;

export type RedisStreamErrorCode = (typeof RedisStreamErrorCodes)[keyof typeof RedisStreamErrorCodes];

export interface RedisStreamErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  ids?: string[];
  entries?: unknown[];
}

export class RedisStreamError extends Error {
  readonly code: RedisStreamErrorCode;
  /** `true` when the same operation may succeed later (connection lost, Redis loading, OOM). */
  readonly retryable: boolean;
  /** The entry ids concerned (ACK_FAILED, POISON, DEAD_LETTER_FAILED). */
  readonly ids: string[] | undefined;
  /** The entries concerned (POISON, DEAD_LETTER_FAILED): nothing handed back is lost. */
  readonly entries: unknown[] | undefined;

  constructor(code: RedisStreamErrorCode, message: string, options: RedisStreamErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RedisStreamError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.ids = options.ids;
    this.entries = options.entries;
  }
}

/** Type guard: `true` for Redis Streams errors, optionally of one code. */
export function isRedisStreamError(err: unknown, code?: RedisStreamErrorCode): err is RedisStreamError {
  return err instanceof RedisStreamError && (code === undefined || err.code === code);
}

/**
 * Reply-error prefixes that describe a passing state of the server: the same command may work a
 * moment later (a restart loading its data, a failover, memory freed by consumers trimming).
 */
const TRANSIENT_REPLY_PREFIXES = new Set([
  'LOADING',
  'BUSY',
  'TRYAGAIN',
  'MASTERDOWN',
  'CLUSTERDOWN',
  'READONLY',
  'OOM',
  'NOREPLICAS',
  'UNBLOCKED',
]);

/** The first word of a Redis error reply (`WRONGTYPE Operation against…` → `WRONGTYPE`), or undefined for other errors. */
export function replyErrorPrefix(err: unknown): string | undefined {
  // Duck-typed: ioredis's ReplyError comes from its own dependency (redis-errors), never imported here.
  if ((err as { name?: unknown } | null)?.name !== 'ReplyError') return undefined;
  const message = (err as { message?: unknown }).message;
  if (typeof message !== 'string') return undefined;
  const space = message.indexOf(' ');
  return space === -1 ? message : message.slice(0, space);
}

/**
 * Whether a failed command may succeed if tried again. Anything that is not a reply from the server
 * (connection refused or reset, "Connection is closed", too many reconnection attempts) is
 * transient: Redis is coming back or the client is reconnecting. A reply error is transient only
 * for the states above; WRONGTYPE, NOPERM, ERR syntax … are not: retrying cannot change them.
 */
export function isTransientRedisError(err: unknown): boolean {
  const prefix = replyErrorPrefix(err);
  return prefix === undefined || TRANSIENT_REPLY_PREFIXES.has(prefix);
}

/** The stream or its consumer group does not exist (deleted, or Redis restarted without persistence). */
export function isNoGroupError(err: unknown): boolean {
  return replyErrorPrefix(err) === 'NOGROUP';
}

/** A `message` for any thrown value. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * What a failed read means for the source: `'group-lost'` (NOGROUP: create stream and group again,
 * then retry), `'retry'` (transient), or the ERR_REDIS_COMMAND_FAILED error to fail with.
 */
export function readFailure(err: unknown, stream: string, group: string): 'group-lost' | 'retry' | RedisStreamError {
  if (isNoGroupError(err)) return 'group-lost';
  if (isTransientRedisError(err)) return 'retry';
  return new RedisStreamError(
    RedisStreamErrorCodes.COMMAND_FAILED,
    `reading ${stream} (group ${group}) failed: ${messageOf(err)}`,
    { cause: err },
  );
}
