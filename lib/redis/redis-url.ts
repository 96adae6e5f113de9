import { redactCredentialsInText, redactUrl, safeDecode } from '../sinks/redact';
import { RedisStreamError, RedisStreamErrorCodes } from './redis-errors';

/**
 * A stream named by a URL, as the CLI takes it: `redis://[user:pass@]HOST[:PORT]/STREAM?param=…`
 * (`rediss://` for TLS). The path is the stream's key (percent-decoded); the database, when not 0,
 * is the `db` parameter. The other parameters are the source's or the sink's options.
 */
export interface RedisStreamUrl {
  /** What to connect to: the URL without the stream and without the parameters that are options. */
  connectionUrl: string;
  stream: string;
  /** The parameters, by name (each at most once). */
  params: ReadonlyMap<string, string>;
  /** For logs and errors: no credentials (`redis://***@host:6379/stream`). */
  description: string;
}

/** `redis://…`, `rediss://…`: the schemes the CLI reads as a Redis stream. */
export function isRedisUrl(text: string): boolean {
  return /^rediss?:\/\//i.test(text.trim());
}

/**
 * Parses a stream URL. `allowed` lists the parameters the caller takes besides `db`; any other, a
 * repeated one, a missing stream or a bad `db` is an ERR_REDIS_INVALID_URL error whose message
 * never echoes credentials.
 */
export function parseRedisStreamUrl(text: string, allowed: readonly string[]): RedisStreamUrl {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw invalidUrl(`not a valid URL: ${redactCredentialsInText(text)}`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw invalidUrl(`expected redis:// or rediss://, got ${url.protocol}//`);
  if (url.hostname === '') throw invalidUrl(`${redactUrl(url)} has no host`);
  const stream = safeDecode(url.pathname.slice(1));
  if (stream === '') throw invalidUrl(`${redactUrl(url)} names no stream: redis://HOST:PORT/STREAM`);
  const params = new Map<string, string>();
  for (const [name, value] of url.searchParams) {
    if (name !== 'db' && !allowed.includes(name)) {
      const known = ['db', ...allowed].join(', ');
      throw invalidUrl(`unknown parameter '${name}' in a redis:// URL (known: ${known})`);
    }
    if (params.has(name)) throw invalidUrl(`parameter '${name}' given twice`);
    params.set(name, value);
  }
  const db = params.get('db');
  if (db !== undefined && !/^\d+$/.test(db)) throw invalidUrl(`db must be a database number, got '${db}'`);
  const auth =
    url.username !== '' || url.password !== ''
      ? `${url.username}${url.password !== '' ? `:${url.password}` : ''}@`
      : '';
  const connectionUrl = `${url.protocol}//${auth}${url.host}${db === undefined ? '' : `/${db}`}`;
  const description = `${url.protocol}//${auth === '' ? '' : '***@'}${url.host}/${encodeURIComponent(stream)}`;
  return { connectionUrl, stream, params, description };
}

/** A positive integer parameter (`count=100`), or undefined when absent. */
export function integerParam(parsed: RedisStreamUrl, name: string, min: number): number | undefined {
  const value = parsed.params.get(name);
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min)
    throw invalidUrl(`parameter ${name} must be an integer >= ${min}, got '${value}'`);
  return n;
}

function invalidUrl(message: string): RedisStreamError {
  return new RedisStreamError(RedisStreamErrorCodes.INVALID_URL, message);
}

/** `redis stream STREAM at redis://***@host:6379` (or without `at …` for a client given by the caller). */
export function describeStream(url: string | undefined, stream: string): string {
  if (url === undefined) return `redis stream ${stream}`;
  let where: string;
  try {
    where = redactUrl(new URL(url));
  } catch {
    where = redactCredentialsInText(url);
  }
  return `redis stream ${stream} at ${where}`;
}
