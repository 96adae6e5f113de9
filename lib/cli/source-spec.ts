import { MAX_TIMER_MS } from '../core/options';
import { isRedisStreamError, RedisStreamErrorCodes } from '../redis/redis-errors';
import { integerParam, isRedisUrl, parseRedisStreamUrl, type RedisStreamUrl } from '../redis/redis-url';
import { UsageError } from './parse-args';

/** The `--source` parameters of a Redis stream, besides `db`. */
const SOURCE_PARAMS = ['group', 'consumer', 'count', 'blockMs', 'claimIdleMs', 'maxDeliveries', 'field'] as const;

/** A Redis stream to read through a consumer group, as `--source redis://…` names it. */
export interface RedisSourceSpec {
  readonly kind: 'redis';
  readonly url: RedisStreamUrl;
  readonly group: string;
  readonly consumer: string | undefined;
  readonly count: number | undefined;
  readonly blockMs: number | undefined;
  readonly claimIdleMs: number | undefined;
  readonly maxDeliveries: number | undefined;
  readonly field: string | undefined;
}

/** A `--source` value, parsed: stdin, or a Redis stream. */
export type SourceSpec = { readonly kind: 'stdin' } | RedisSourceSpec;

/**
 * Parses `--source` without side effects: `stdin` (or `-`), or
 * `redis://[user:pass@]HOST:PORT/STREAM?group=G[&consumer=C&count=N&blockMs=MS&claimIdleMs=MS&maxDeliveries=N&field=F&db=N]`.
 * Anything wrong is a `UsageError` (exit 2) whose message never echoes credentials.
 */
export function parseSourceSpec(text: string): SourceSpec {
  const trimmed = text.trim();
  if (trimmed === 'stdin' || trimmed === '-') return { kind: 'stdin' };
  if (!isRedisUrl(trimmed)) throw new UsageError(`--source must be stdin or redis://HOST:PORT/STREAM?group=G`);
  try {
    const url = parseRedisStreamUrl(trimmed, SOURCE_PARAMS);
    const group = url.params.get('group');
    if (group === undefined || group === '') throw usage(`${url.description} needs a consumer group: ?group=NAME`);
    const consumer = url.params.get('consumer');
    if (consumer === '') throw usage('consumer must not be empty');
    const field = url.params.get('field');
    if (field === '') throw usage('field must not be empty');
    return {
      kind: 'redis',
      url,
      group,
      consumer,
      count: integerParam(url, 'count', 1),
      blockMs: timerParam(url, 'blockMs'),
      claimIdleMs: timerParam(url, 'claimIdleMs'),
      maxDeliveries: integerParam(url, 'maxDeliveries', 1),
      field,
    };
  } catch (err) {
    if (isRedisStreamError(err, RedisStreamErrorCodes.INVALID_URL)) throw usage(err.message);
    throw err;
  }
}

function timerParam(url: RedisStreamUrl, name: string): number | undefined {
  const ms = integerParam(url, name, 1);
  if (ms !== undefined && ms > MAX_TIMER_MS)
    throw usage(`parameter ${name} must be an integer from 1 to ${MAX_TIMER_MS}, got '${ms}'`);
  return ms;
}

function usage(message: string): UsageError {
  return new UsageError(`--source: ${message}`);
}
