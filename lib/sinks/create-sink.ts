import { fileURLToPath } from 'node:url';
import { createExecSink, type ExecSinkOptions } from './exec-sink';
import { createFileSink } from './file-sink';
import { createHttpSink, type HttpSinkOptions } from './http-sink';
import type { LineSink } from './line-sink';
import { redactCredentialsInText } from './redact';
import { SinkError, SinkErrorCodes } from './sink-errors';
import { createStdoutSink } from './stdout-sink';
import { RedisStreamSink } from '../redis/redis-stream-sink';
import { isRedisStreamError, RedisStreamErrorCodes } from '../redis/redis-errors';
import { integerParam, isRedisUrl, parseRedisStreamUrl, type RedisStreamUrl } from '../redis/redis-url';
import type { SinkStream } from './stream-sink';

export interface CreateSinkOptions {
  /** The stream behind `stdout` (the CLI passes its own for tests). @default process.stdout */
  stdout?: SinkStream;
  /** Options of an `http(s)://` sink. @default {} */
  http?: HttpSinkOptions;
  /** Options of an `exec:` sink. @default {} */
  exec?: ExecSinkOptions;
}

const SPEC_FORMS = "'stdout', 'file:PATH', 'http://URL', 'https://URL', 'exec:COMMAND' or 'redis://HOST:PORT/STREAM'";

/** The parameters a `redis://` sink takes besides `db`. */
const REDIS_SINK_PARAMS = ['maxLen', 'field'] as const;

/** A `--sink` spec, parsed: what `createSink` would build, before anything is opened or spawned. */
export type SinkSpec =
  | { readonly kind: 'stdout' }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'http'; readonly url: URL }
  | { readonly kind: 'exec'; readonly command: string }
  | {
      readonly kind: 'redis';
      readonly url: RedisStreamUrl;
      readonly maxLen: number | undefined;
      readonly field: string | undefined;
    };

/**
 * Parses a `--sink` spec without side effects (nothing opened, created or spawned), so that a
 * caller can refuse a bad spec before it reads or creates anything:
 * - `stdout` (or `-`, or empty): standard output
 * - `file:PATH` (or `file:///abs/path`): append to PATH
 * - `http://…`, `https://…`: POST each batch as NDJSON
 * - `exec:COMMAND`: pipe into one long-lived `sh -c COMMAND`
 * - `redis://[user:pass@]HOST:PORT/STREAM[?maxLen=N&field=F&db=N]` (or `rediss://`): XADD each record
 * The scheme is case-insensitive. Anything else throws ERR_SINK_INVALID_SPEC; the message never
 * echoes credentials or query-string values.
 */
export function parseSinkSpec(spec: string): SinkSpec {
  const trimmed = spec.trim();
  const lower = trimmed.toLowerCase();
  if (trimmed === '' || lower === 'stdout' || trimmed === '-') return { kind: 'stdout' };
  if (lower.startsWith('file:')) {
    const path = lower.startsWith('file://') ? fileUrlPath(trimmed) : trimmed.slice('file:'.length);
    if (path === '') throw invalidSpec(`'file:' needs a path, e.g. file:/var/log/out.ndjson`);
    return { kind: 'file', path };
  }
  if (lower.startsWith('http://') || lower.startsWith('https://')) {
    try {
      return { kind: 'http', url: new URL(trimmed) };
    } catch {
      throw invalidSpec(`not a valid URL: ${redactCredentialsInText(trimmed)}`);
    }
  }
  if (isRedisUrl(trimmed)) return redisSpec(trimmed);
  if (lower.startsWith('exec:')) {
    const command = trimmed.slice('exec:'.length);
    if (command.trim() === '') throw invalidSpec(`'exec:' needs a command, e.g. exec:gzip > out.gz`);
    return { kind: 'exec', command };
  }
  throw invalidSpec(`unknown sink '${redactCredentialsInText(trimmed)}': expected ${SPEC_FORMS}`);
}

/** Builds the sink a parsed spec names: opens the file, spawns the command, … */
export function createSinkFromSpec(spec: SinkSpec, options: CreateSinkOptions = {}): LineSink {
  switch (spec.kind) {
    case 'stdout':
      return createStdoutSink(options.stdout === undefined ? {} : { stream: options.stdout });
    case 'file':
      return createFileSink(spec.path);
    case 'http':
      return createHttpSink(spec.url, options.http ?? {});
    case 'exec':
      return createExecSink(spec.command, options.exec ?? {});
    case 'redis':
      return new RedisStreamSink({
        url: spec.url.connectionUrl,
        stream: spec.url.stream,
        description: spec.url.description,
        ...(spec.maxLen !== undefined && { maxLen: spec.maxLen }),
        ...(spec.field !== undefined && { field: spec.field }),
      });
  }
}

function redisSpec(text: string): SinkSpec {
  try {
    const url = parseRedisStreamUrl(text, REDIS_SINK_PARAMS);
    const field = url.params.get('field');
    if (field === '') throw invalidSpec('redis:// parameter field must not be empty');
    return { kind: 'redis', url, maxLen: integerParam(url, 'maxLen', 1), field };
  } catch (err) {
    if (isRedisStreamError(err, RedisStreamErrorCodes.INVALID_URL)) throw invalidSpec(err.message);
    throw err;
  }
}

/**
 * Builds a sink from a `--sink` spec (see `parseSinkSpec` for the forms). A bad spec throws
 * ERR_SINK_INVALID_SPEC synchronously, before anything is opened or spawned.
 */
export function createSink(spec: string, options: CreateSinkOptions = {}): LineSink {
  return createSinkFromSpec(parseSinkSpec(spec), options);
}

function fileUrlPath(spec: string): string {
  try {
    return fileURLToPath(spec);
  } catch {
    throw invalidSpec(`not a valid file URL: ${redactCredentialsInText(spec)}`);
  }
}

function invalidSpec(message: string): SinkError {
  return new SinkError(SinkErrorCodes.INVALID_SPEC, message);
}
