import { createRequire } from 'node:module';
import { RedisStreamError, RedisStreamErrorCodes } from './redis-errors';

/** An argument of a Redis command. */
export type RedisArgument = string | Buffer | number;

/**
 * The part of an `ioredis` pipeline this package uses. Structural on purpose: the package's types
 * never import `ioredis`, so users who do not use Redis need neither it nor its types.
 */
export interface RedisPipelineLike {
  call(command: string, ...args: RedisArgument[]): unknown;
  exec(): Promise<Array<[Error | null, unknown]> | null>;
}

/**
 * The part of an `ioredis` client (`new Redis(…)`, v5 or later) the Redis Streams source and sink
 * use: pass your own client as `client`, or a `url` to have one made (and closed) for you.
 */
export interface RedisClientLike {
  /** A command; replies decoded as UTF-8 strings. */
  call(command: string, ...args: RedisArgument[]): Promise<unknown>;
  /** A command; replies as Buffers (record bytes are never decoded on their way through). */
  callBuffer(command: string, ...args: RedisArgument[]): Promise<unknown>;
  pipeline(): RedisPipelineLike;
  /** A new connection with the same options: the source reads with BLOCK on a connection of its own. */
  duplicate(): RedisClientLike;
  quit(): Promise<unknown>;
  disconnect(): void;
  on(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
}

type RedisConstructor = new (url: string, options?: Record<string, unknown>) => RedisClientLike;

/** How this module finds `ioredis`: `require`, replaceable in tests to simulate a missing package. */
export type ModuleLoader = (id: string) => unknown;

// Resolved from this module, as require() here would: the caller's ioredis, an optional peer dependency.
const requireFromHere = createRequire(__filename);
const defaultLoader: ModuleLoader = (id) => requireFromHere(id) as unknown;
let loader: ModuleLoader = defaultLoader;

/** For tests: load `ioredis` through `replacement` (undefined restores `require`). */
export function setModuleLoaderForTests(replacement: ModuleLoader | undefined): void {
  loader = replacement ?? defaultLoader;
}

/**
 * `ioredis`'s client class, loaded on first use only: the package does not depend on it, and a
 * program that never touches Redis never loads it. Missing → one line naming the fix.
 */
export function loadRedisConstructor(): RedisConstructor {
  let mod: unknown;
  try {
    mod = loader('ioredis');
  } catch (err) {
    if ((err as { code?: unknown } | null)?.code === 'MODULE_NOT_FOUND') {
      throw new RedisStreamError(
        RedisStreamErrorCodes.CLIENT_MISSING,
        'Redis Streams need the ioredis package, which is not installed: npm install ioredis',
        { cause: err },
      );
    }
    throw err;
  }
  const candidate = (mod as { default?: unknown; Redis?: unknown } | null | undefined) ?? {};
  const ctor = typeof mod === 'function' ? mod : (candidate.Redis ?? candidate.default);
  if (typeof ctor !== 'function') {
    throw new RedisStreamError(
      RedisStreamErrorCodes.CLIENT_MISSING,
      'the installed ioredis package has no Redis client class (need ioredis 5 or later): npm install ioredis',
    );
  }
  return ctor as RedisConstructor;
}

/**
 * Reconnect quickly and keep trying: a worker waits for Redis to come back rather than giving up
 * (its reads and acknowledgements retry on their own). ioredis's default backs off to 5 s.
 */
function reconnectDelayMs(times: number): number {
  return Math.min(times * 100, 1000);
}

/** Options this package sets on the clients it makes; the caller's `redisOptions` win. */
export const OWN_CLIENT_DEFAULTS: Readonly<Record<string, unknown>> = {
  retryStrategy: reconnectDelayMs,
  // A client made here is used from the first call: no separate connect() step for the caller.
  lazyConnect: false,
};

/** A client for `url`: made with `ioredis`, loaded now. */
export function createClient(url: string, redisOptions: Readonly<Record<string, unknown>> = {}): RedisClientLike {
  const Redis = loadRedisConstructor();
  return new Redis(url, { ...OWN_CLIENT_DEFAULTS, ...redisOptions });
}

/**
 * Ends a client this package made: QUIT (replies already on their way still arrive), or — when
 * Redis does not answer within `timeoutMs` — a hard disconnect, so closing never hangs.
 */
export async function closeClient(client: RedisClientLike, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(resolve, timeoutMs, 'timeout');
  });
  try {
    const outcome = await Promise.race([client.quit().then(() => 'quit' as const), timedOut]);
    if (outcome === 'timeout') client.disconnect();
  } catch {
    client.disconnect();
  } finally {
    clearTimeout(timer);
  }
}
