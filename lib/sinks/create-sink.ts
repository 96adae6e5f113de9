import { fileURLToPath } from 'node:url';
import { createExecSink, type ExecSinkOptions } from './exec-sink';
import { createFileSink } from './file-sink';
import { createHttpSink, type HttpSinkOptions } from './http-sink';
import type { LineSink } from './line-sink';
import { redactCredentialsInText } from './redact';
import { SinkError, SinkErrorCodes } from './sink-errors';
import { createStdoutSink } from './stdout-sink';
import type { SinkStream } from './stream-sink';

export interface CreateSinkOptions {
  /** The stream behind `stdout` (the CLI passes its own for tests). @default process.stdout */
  stdout?: SinkStream;
  /** Options of an `http(s)://` sink. @default {} */
  http?: HttpSinkOptions;
  /** Options of an `exec:` sink. @default {} */
  exec?: ExecSinkOptions;
}

const SPEC_FORMS = "'stdout', 'file:PATH', 'http://URL', 'https://URL' or 'exec:COMMAND'";

/**
 * Builds a sink from a `--sink` spec:
 * - `stdout` (or `-`, or empty): standard output
 * - `file:PATH` (or `file:///abs/path`): append to PATH
 * - `http://…`, `https://…`: POST each batch as NDJSON
 * - `exec:COMMAND`: pipe into one long-lived `sh -c COMMAND`
 * The scheme is case-insensitive. Anything else throws ERR_SINK_INVALID_SPEC
 * (synchronously: it is a usage error); the message never echoes credentials.
 */
export function createSink(spec: string, options: CreateSinkOptions = {}): LineSink {
  const trimmed = spec.trim();
  const lower = trimmed.toLowerCase();
  if (trimmed === '' || lower === 'stdout' || trimmed === '-') {
    return createStdoutSink(options.stdout === undefined ? {} : { stream: options.stdout });
  }
  if (lower.startsWith('file:')) {
    const path = lower.startsWith('file://') ? fileUrlPath(trimmed) : trimmed.slice('file:'.length);
    if (path === '') throw invalidSpec(`'file:' needs a path, e.g. file:/var/log/out.ndjson`);
    return createFileSink(path);
  }
  if (lower.startsWith('http://') || lower.startsWith('https://')) {
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch {
      throw invalidSpec(`not a valid URL: ${redactCredentialsInText(trimmed)}`);
    }
    return createHttpSink(url, options.http ?? {});
  }
  if (lower.startsWith('exec:')) {
    const command = trimmed.slice('exec:'.length);
    if (command.trim() === '') throw invalidSpec(`'exec:' needs a command, e.g. exec:gzip > out.gz`);
    return createExecSink(command, options.exec ?? {});
  }
  throw invalidSpec(`unknown sink '${redactCredentialsInText(trimmed)}': expected ${SPEC_FORMS}`);
}

function fileUrlPath(spec: string): string {
  try {
    return fileURLToPath(spec);
  } catch {
    throw invalidSpec(`not a valid file URL: ${spec}`);
  }
}

function invalidSpec(message: string): SinkError {
  return new SinkError(SinkErrorCodes.INVALID_SPEC, message);
}
