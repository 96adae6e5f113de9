import { Strategy, backpressure, type StrategyWritable } from '../compose/backpressure';
import type { BackpressureWritable } from '../core/backpressure-writable';
import type { NdjsonRecord } from '../ndjson/ndjson-splitter';
import type { BackpressureWritableOptions, DeadLetterHandler, FlushFunction, SettledHandler } from '../core/options';
import { fieldPriority } from '../ndjson/field-priority';
import { recordByteLength } from '../ndjson/record-size';
import { isOptionError } from '../util/validate';
import { durableOptionsOf } from './buffer-dir';
import { effectiveBatchSize, UsageError, type CliOptions } from './parse-args';

/** The stream the CLI writes records into: a plain `BackpressureWritable` (block) or a strategy composition. */
export type CliOutput = BackpressureWritable<NdjsonRecord> | StrategyWritable<NdjsonRecord>;

/** Which flag sets which library option, to name the flag when the library refuses a value. */
const FLAG_OF_OPTION: Readonly<Record<string, string>> = {
  maxBufferSize: '--max-buffer',
  maxBufferBytes: '--max-buffer-bytes',
  batchSize: '--batch-size',
  concurrency: '--concurrency',
  adaptive: '--adaptive',
  minFlushIntervalMs: '--flush-interval',
  maxFlushIntervalMs: '--flush-interval',
  'retry.retries': '--retries',
  flushTimeoutMs: '--flush-timeout',
  sampleRate: '--sample-rate',
  'durable.dir': '--buffer-dir',
  'durable.maxBytes': '--max-disk-bytes',
  'durable.sync': '--sync',
};

/** Helpers whose errors name an argument rather than a library option. */
const FLAG_OF_OWNER: Readonly<Record<string, string>> = {
  'fieldPriority()': '--priority-field',
};

/**
 * Builds the CLI's stream from its options — before anything is opened, created or read, so that
 * a value the library refuses is a usage error (exit 2) with nothing to clean up. The library's
 * own validation is the last word: any coded option error it throws becomes a one-line
 * `UsageError` naming the flag.
 *
 * @param drainTimeoutMs the core's drain deadline at end of input (the CLI's own `--drain-timeout`
 *   applies to signals only).
 * @param onSettled for an input that acknowledges what was delivered (a Redis stream).
 */
export function buildOutput(
  options: CliOptions,
  flush: FlushFunction<NdjsonRecord>,
  onDeadLetter: DeadLetterHandler<NdjsonRecord>,
  drainTimeoutMs: number,
  onSettled?: SettledHandler<NdjsonRecord>,
): CliOutput {
  const batchSize = effectiveBatchSize(options);
  const common: BackpressureWritableOptions<NdjsonRecord> = {
    flush,
    onDeadLetter,
    drainTimeoutMs,
    ...(onSettled !== undefined && { onSettled }),
    ...(options.maxBuffer !== undefined && { maxBufferSize: options.maxBuffer }),
    ...(options.maxBufferBytes !== undefined && { maxBufferBytes: options.maxBufferBytes, sizeOf: recordByteLength }),
    ...(batchSize !== undefined && { batchSize }),
    ...(options.concurrency !== undefined && { concurrency: options.concurrency }),
    ...(options.adaptive === true && { adaptive: true }),
    ...(options.flushIntervalMs !== undefined && {
      minFlushIntervalMs: options.flushIntervalMs,
      maxFlushIntervalMs: options.flushIntervalMs,
    }),
    ...(options.retries !== undefined && { retry: { retries: options.retries } }),
    ...(options.flushTimeoutMs !== undefined && { flushTimeoutMs: options.flushTimeoutMs }),
  };
  const durable = durableOptionsOf(options);
  if (durable !== undefined) common.durable = durable;
  try {
    // Each strategy gets exactly its own options (parseArgs refused a flag given for another one).
    switch (options.strategy) {
      case Strategy.BLOCK:
      case Strategy.DROP_OLDEST:
      case Strategy.DROP_NEWEST:
        return backpressure<NdjsonRecord>({ ...common, strategy: options.strategy });
      case Strategy.SAMPLE:
        return backpressure<NdjsonRecord>({ ...common, strategy: options.strategy, sampleRate: options.sampleRate });
      case Strategy.PRIORITY:
        // parseArgs refuses --strategy priority without the field; a caller that skipped it gets the same error.
        if (options.priorityField === undefined)
          throw new UsageError('--strategy priority needs --priority-field PATH');
        return backpressure<NdjsonRecord>({
          ...common,
          strategy: options.strategy,
          priority: fieldPriority(options.priorityField),
        });
      default:
        // Not a strategy (a caller that skipped parseArgs): the library's coded error names it.
        return backpressure<NdjsonRecord>({ ...common, strategy: options.strategy });
    }
  } catch (err) {
    if (isOptionError(err)) throw new UsageError(usageMessage(err));
    throw err;
  }
}

/** `--flag: option "name" must be …`: the library's message without its owner, behind the flag that set the option. */
function usageMessage(err: Error): string {
  const line = err.message.split('\n', 1)[0] ?? '';
  const owner = /^([\w.()]+): /.exec(line)?.[1];
  const text = owner === undefined ? line : line.slice(owner.length + 2);
  const option = /option "([^"]+)"/.exec(text)?.[1];
  const flag =
    (owner === undefined ? undefined : FLAG_OF_OWNER[owner]) ??
    (option === undefined ? undefined : FLAG_OF_OPTION[option]);
  return flag === undefined ? `invalid option value: ${text}` : `${flag}: ${text}`;
}
