import type { FlushContext, FlushResult } from '../core/options';
import type { LineSink, LineSinkResult, SinkWriteContext } from '../sinks/line-sink';
import { integerOption, invalidOption } from '../util/validate';
import { closeClient, createClient, type RedisClientLike } from './redis-client';
import { isTransientRedisError, messageOf, RedisStreamError, RedisStreamErrorCodes } from './redis-errors';
import { describeStream } from './redis-url';
import { connectionOptions } from './source-options';

const OWNER = 'redisStreamSink()';
const CLIENT_CLOSE_MS = 2000;

/** Options of `redisStreamSink()`. */
export interface RedisStreamSinkOptions {
  /** Where Redis is (`redis://[user:pass@]host:port[/db]`, `rediss://` for TLS). Give this or `client`. */
  url?: string;
  /** An `ioredis` client to use instead of `url` (yours: `close()` leaves it open). */
  client?: RedisClientLike;
  /** Options for the client made from `url` (passed to `new Redis(url, options)`). @default {} */
  redisOptions?: Record<string, unknown>;
  /** The stream's key. Required. */
  stream: string;
  /**
   * Trim the stream to about this many entries as it grows (`XADD … MAXLEN ~ n`). Trimming removes
   * the oldest entries whether or not a consumer group has read them: size it so that they have.
   * An integer ≥ 1. Unset: never trimmed.
   * @default undefined
   */
  maxLen?: number;
  /** The field each record is written to. @default 'data' */
  field?: string;
  /** How the sink names itself in logs and errors (never with credentials). @default derived from `url` */
  description?: string;
}

/** A record as the sink writes it: one field value. */
export type RedisRecord = string | Buffer;

/**
 * A sink that appends each batch to a Redis stream: one pipeline of XADDs per batch, one round trip.
 *
 * At least once: when a batch fails part-way (the connection dropped after some XADDs were applied),
 * the retry appends the whole batch or its failed part again, so a consumer may see a record twice.
 * A failure is `retryable` (a `RedisStreamError` with ERR_REDIS_WRITE_FAILED) unless Redis refused
 * the command for a reason retrying cannot fix (WRONGTYPE: the key is not a stream, NOPERM, …):
 * the core then dead-letters the batch at once instead of retrying it.
 *
 * Use `sink.flush` as the writable's `flush` (items: strings or Buffers), or the sink itself as
 * the CLI's line sink. `close()` closes the connection it opened.
 */
export class RedisStreamSink implements LineSink {
  readonly description: string;
  readonly #client: RedisClientLike;
  readonly #ownsClient: boolean;
  readonly #stream: string;
  readonly #field: string;
  readonly #trim: readonly (string | number)[];
  #closed = false;

  constructor(options: RedisStreamSinkOptions) {
    if (options === null || typeof options !== 'object')
      throw invalidOption('type', OWNER, 'options', 'an object with stream', options);
    const connection = connectionOptions(OWNER, options);
    if (typeof options.stream !== 'string' || options.stream === '')
      throw invalidOption('type', OWNER, 'stream', 'a non-empty string', options.stream);
    const field = options.field ?? 'data';
    if (typeof field !== 'string' || field === '')
      throw invalidOption('type', OWNER, 'field', 'a non-empty string', options.field);
    const maxLen = options.maxLen === undefined ? undefined : integerOption(OWNER, 'maxLen', options.maxLen, 0, 1);
    if (options.description !== undefined && typeof options.description !== 'string')
      throw invalidOption('type', OWNER, 'description', 'a string', options.description);
    this.#stream = options.stream;
    this.#field = field;
    this.#trim = maxLen === undefined ? [] : ['MAXLEN', '~', maxLen];
    this.#ownsClient = connection.client === undefined;
    this.#client = connection.client ?? createClient(connection.url as string, connection.redisOptions);
    if (this.#ownsClient) this.#client.on('error', ignore); // failures reach the writes they hit
    this.description = options.description ?? describeStream(connection.url, options.stream);
  }

  /** The writable's `flush`: appends the batch; a partial failure names exactly the records to retry. */
  readonly flush = <R extends RedisRecord>(batch: R[], _ctx?: FlushContext): Promise<void | FlushResult<R>> =>
    this.#add(batch);

  /** `LineSink.write` (the CLI): each line is one entry. */
  write(lines: Buffer[], _ctx: SinkWriteContext): Promise<void | LineSinkResult> {
    return this.#add(lines) as Promise<void | LineSinkResult>;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsClient) await closeClient(this.#client, CLIENT_CLOSE_MS);
  }

  async #add<R extends RedisRecord>(records: R[]): Promise<void | (FlushResult<R> & { errors: Error[] })> {
    if (this.#closed)
      throw new RedisStreamError(RedisStreamErrorCodes.CLOSED, `${this.description}: write after close()`);
    if (records.length === 0) return undefined;
    const pipeline = this.#client.pipeline();
    for (const record of records) pipeline.call('XADD', this.#stream, ...this.#trim, '*', this.#field, record);
    let results: Array<[Error | null, unknown]> | null;
    try {
      results = await pipeline.exec();
    } catch (err) {
      throw this.#failure([err]);
    }
    if (results === null || results.length !== records.length) {
      throw new RedisStreamError(
        RedisStreamErrorCodes.WRITE_FAILED,
        `${this.description}: XADD pipeline returned ${results?.length ?? 0} replies for ${records.length} records`,
        { retryable: true },
      );
    }
    const failedItems: R[] = [];
    const errors: unknown[] = [];
    for (let i = 0; i < results.length; i++) {
      const err = (results[i] as [Error | null, unknown])[0];
      if (err === null) continue;
      failedItems.push(records[i] as R);
      errors.push(err);
    }
    if (failedItems.length === 0) return undefined;
    const failure = this.#failure(errors);
    if (failedItems.length === records.length) throw failure;
    return { success: records.length - failedItems.length, failed: failedItems.length, errors: [failure], failedItems };
  }

  /** One coded error for the failures of a batch: retryable unless every one of them is permanent. */
  #failure(errors: unknown[]): RedisStreamError {
    const transient = errors.find((e) => isTransientRedisError(e));
    const cause = transient ?? errors[0];
    return new RedisStreamError(
      RedisStreamErrorCodes.WRITE_FAILED,
      `${this.description}: XADD failed for ${errors.length} record(s): ${messageOf(cause)}`,
      { retryable: transient !== undefined, cause },
    );
  }
}

function ignore(): void {
  // see the caller
}

/** A sink appending to a Redis stream (see {@link RedisStreamSink}). Needs `ioredis` (loaded now, when `url` is given). */
export function redisStreamSink(options: RedisStreamSinkOptions): RedisStreamSink {
  return new RedisStreamSink(options);
}
