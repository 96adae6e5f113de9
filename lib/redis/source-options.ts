import { hostname } from 'node:os';
import { MAX_TIMER_MS } from '../core/options';
import { enumOption, functionOption, integerOption, invalidOption } from '../util/validate';
import type { RedisClientLike } from './redis-client';

const OWNER = 'redisStreamSource()';

/** One stream entry as the source hands it out. */
export interface RedisStreamEntry<V extends string | Buffer = string> {
  /** The entry id (`1700000000000-0`): what is acknowledged once the entry is settled. */
  id: string;
  /** Every field of the entry (a field that appears twice keeps its last value). */
  fields: Record<string, V>;
  /** `fields[field]`: the record itself, or undefined when the entry has no such field. */
  record: V | undefined;
}

/** Told about entries the source gives up on delivering (see `maxDeliveries`). */
export type RedisDeadLetterHandler<V extends string | Buffer> = (
  entries: RedisStreamEntry<V>[],
  error: Error,
) => void | Promise<void>;

/** Options of `redisStreamSource()`. */
export interface RedisStreamSourceOptions<V extends string | Buffer = string> {
  /** Where Redis is (`redis://[user:pass@]host:port[/db]`, `rediss://` for TLS). Give this or `client`. */
  url?: string;
  /**
   * An `ioredis` client to use instead of `url` (yours: the source never closes it). The source
   * reads with BLOCK on a `duplicate()` of it, which it does close.
   */
  client?: RedisClientLike;
  /** Options for the clients made from `url` (passed to `new Redis(url, options)`). @default {} */
  redisOptions?: Record<string, unknown>;
  /** The stream's key. Required. */
  stream: string;
  /** The consumer group; created at the first read if it does not exist (with MKSTREAM). Required. */
  group: string;
  /**
   * This worker's name in the group. A worker restarted under the same name first reads what it had
   * read and not acknowledged before (its pending entries); under a new name those are taken over
   * through `claimIdleMs` instead.
   * @default `${hostname}-${pid}`
   */
  consumer?: string;
  /** Most entries per read (XREADGROUP / XAUTOCLAIM `COUNT`); also the readable's high-water mark. @default 100 */
  count?: number;
  /** How long one read waits for new entries (XREADGROUP `BLOCK`), in ms. In [1, MAX_TIMER_MS]. @default 2000 */
  blockMs?: number;
  /**
   * Entries pending (read, not acknowledged) for longer than this, in ms, are taken over from
   * whichever consumer holds them (XAUTOCLAIM): a crashed worker's entries are delivered again by
   * another. The source keeps the entries it holds itself from going idle (XCLAIM … JUSTID every
   * third of this), so a slow sink does not lose them to other workers. In [1, MAX_TIMER_MS].
   * @default 30000
   */
  claimIdleMs?: number;
  /**
   * An entry delivered more than this many times (a worker crashed on it, or its flushes failed and
   * it was left pending, again and again) is poison: it goes to `onDeadLetter` with
   * ERR_REDIS_POISON instead of being delivered again, and is acknowledged once that resolved.
   * An integer ≥ 1, or `Infinity` (never poison; no delivery counts are looked up).
   * @default 10
   */
  maxDeliveries?: number;
  /** The field that holds the record: `entry.record` is `entry.fields[field]`. @default 'data' */
  field?: string;
  /** Where a group created by the source starts: `'0'` (the whole stream) or `'$'` (new entries only). @default '0' */
  groupStartId?: string;
  /**
   * How field values are handed out: `'utf8'` strings (invalid UTF-8 becomes U+FFFD, as with
   * `Buffer.toString`), or `'buffer'`: the bytes as stored.
   * @default 'utf8'
   */
  valueEncoding?: V extends Buffer ? 'buffer' : 'utf8';
  /**
   * Receives poison entries (see `maxDeliveries`) with an ERR_REDIS_POISON error. They are
   * acknowledged once it returns or resolves. If it throws or rejects, the source fails with
   * ERR_REDIS_DEAD_LETTER_FAILED and they stay pending. Without it, poison entries are left pending
   * (never acknowledged, never delivered again by this source) and reported by the `'poison'` event.
   * @default undefined
   */
  onDeadLetter?: RedisDeadLetterHandler<V>;
  /**
   * End the readable once nothing was found (no new entry, nothing to take over) for this long, in
   * ms: for batch jobs that drain a stream and exit. Unset: read until `stop()`.
   * In [0, MAX_TIMER_MS].
   * @default undefined
   */
  endWhenIdleMs?: number;
  /**
   * Most entries handed out and not yet acknowledged (or released): reading pauses at this many, so
   * that memory stays bounded even when downstream buffers more than `count`, and a pipeline that
   * never acknowledges stalls visibly instead of growing. At least `count`; keep it above the
   * writable's `maxBufferSize` + `batchSize` × `concurrency` so it never limits a healthy pipeline.
   * @default 20000
   */
  maxUnacknowledged?: number;
  /** How long `close()` keeps trying to acknowledge what was settled, in ms. In [0, MAX_TIMER_MS]. @default 10000 */
  closeTimeoutMs?: number;
}

export interface ResolvedSourceOptions<V extends string | Buffer> {
  url: string | undefined;
  client: RedisClientLike | undefined;
  redisOptions: Record<string, unknown>;
  stream: string;
  group: string;
  consumer: string;
  count: number;
  blockMs: number;
  claimIdleMs: number;
  maxDeliveries: number;
  field: string;
  groupStartId: string;
  buffers: boolean;
  onDeadLetter: RedisDeadLetterHandler<V> | undefined;
  endWhenIdleMs: number | undefined;
  maxUnacknowledged: number;
  closeTimeoutMs: number;
}

export const SOURCE_DEFAULTS = {
  count: 100,
  blockMs: 2000,
  claimIdleMs: 30_000,
  maxDeliveries: 10,
  field: 'data',
  groupStartId: '0',
  maxUnacknowledged: 20_000,
  closeTimeoutMs: 10_000,
} as const;

function text(name: string, value: unknown, fallback: string | undefined): string {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'string') throw invalidOption('type', OWNER, name, 'a non-empty string', value);
  if (value === '') throw invalidOption('range', OWNER, name, 'a non-empty string', value);
  return value;
}

function ms(name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value))
    throw invalidOption('type', OWNER, name, `a number in [${min}, ${MAX_TIMER_MS}] ms`, value);
  if (!Number.isInteger(value) || value < min || value > MAX_TIMER_MS)
    throw invalidOption('range', OWNER, name, `an integer in [${min}, ${MAX_TIMER_MS}] ms`, value);
  return value;
}

/** `url` or `client`, exactly one; shared with the sink. */
export function connectionOptions(
  owner: string,
  options: { url?: unknown; client?: unknown; redisOptions?: unknown },
): { url: string | undefined; client: RedisClientLike | undefined; redisOptions: Record<string, unknown> } {
  const { url, client, redisOptions } = options;
  if ((url === undefined) === (client === undefined))
    throw invalidOption('type', owner, 'url', 'a redis:// URL, or omitted when `client` is given (exactly one)', url);
  if (url !== undefined && (typeof url !== 'string' || url === ''))
    throw invalidOption('type', owner, 'url', 'a redis:// URL string', url);
  if (client !== undefined) {
    const c = client as Partial<RedisClientLike> | null;
    if (
      c === null ||
      typeof c !== 'object' ||
      typeof c.call !== 'function' ||
      typeof c.callBuffer !== 'function' ||
      typeof c.pipeline !== 'function' ||
      typeof c.duplicate !== 'function'
    )
      throw invalidOption('type', owner, 'client', 'an ioredis client (call, callBuffer, pipeline, duplicate)', client);
  }
  if (redisOptions !== undefined && (redisOptions === null || typeof redisOptions !== 'object'))
    throw invalidOption('type', owner, 'redisOptions', 'an object', redisOptions);
  return {
    url,
    client: client as RedisClientLike | undefined,
    redisOptions: (redisOptions as Record<string, unknown> | undefined) ?? {},
  };
}

/** Validates `redisStreamSource()`'s options (coded TypeError/RangeError naming the option) and fills in defaults. */
export function resolveSourceOptions<V extends string | Buffer>(
  options: RedisStreamSourceOptions<V>,
): ResolvedSourceOptions<V> {
  if (options === null || typeof options !== 'object')
    throw invalidOption('type', OWNER, 'options', 'an object with stream and group', options);
  const connection = connectionOptions(OWNER, options);
  const count = integerOption(OWNER, 'count', options.count, SOURCE_DEFAULTS.count, 1);
  const maxUnacknowledged = integerOption(
    OWNER,
    'maxUnacknowledged',
    options.maxUnacknowledged,
    Math.max(SOURCE_DEFAULTS.maxUnacknowledged, count),
    1,
  );
  if (maxUnacknowledged < count)
    throw invalidOption('range', OWNER, 'maxUnacknowledged', `>= count (${count})`, maxUnacknowledged);
  const maxDeliveries =
    options.maxDeliveries === Infinity
      ? Infinity
      : integerOption(OWNER, 'maxDeliveries', options.maxDeliveries, SOURCE_DEFAULTS.maxDeliveries, 1);
  const encoding = enumOption(OWNER, 'valueEncoding', options.valueEncoding, ['utf8', 'buffer'], 'utf8');
  return {
    ...connection,
    stream: text('stream', options.stream, undefined),
    group: text('group', options.group, undefined),
    consumer: text('consumer', options.consumer, `${hostname()}-${process.pid}`),
    count,
    blockMs: ms('blockMs', options.blockMs, SOURCE_DEFAULTS.blockMs, 1),
    claimIdleMs: ms('claimIdleMs', options.claimIdleMs, SOURCE_DEFAULTS.claimIdleMs, 1),
    maxDeliveries,
    field: text('field', options.field, SOURCE_DEFAULTS.field),
    groupStartId: text('groupStartId', options.groupStartId, SOURCE_DEFAULTS.groupStartId),
    buffers: encoding === 'buffer',
    onDeadLetter: functionOption<RedisDeadLetterHandler<V>>(OWNER, 'onDeadLetter', options.onDeadLetter, false),
    endWhenIdleMs: options.endWhenIdleMs === undefined ? undefined : ms('endWhenIdleMs', options.endWhenIdleMs, 0, 0),
    maxUnacknowledged,
    closeTimeoutMs: ms('closeTimeoutMs', options.closeTimeoutMs, SOURCE_DEFAULTS.closeTimeoutMs, 0),
  };
}
