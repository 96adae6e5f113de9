import type { Settlement } from '../core/options';
import type { NdjsonError } from '../ndjson/ndjson-errors';
import type { NdjsonRecord, NdjsonSplitterMetrics } from '../ndjson/ndjson-splitter';
import { isRedisStreamError, RedisStreamErrorCodes } from '../redis/redis-errors';
import { RedisStreamSource } from '../redis/redis-stream-source';
import type { RedisPoisonEvent, RedisTransientErrorEvent } from '../redis/source-events';
import { loadRedisConstructor } from '../redis/redis-client';
import type { RedisStreamEntry, RedisStreamSourceOptions } from '../redis/source-options';
import { finished } from '../util/stream-classes';
import type { CliOutput } from './build-output';
import { describeError } from './error-text';
import type { InputSide } from './input-side';
import type { CliOptions } from './parse-args';
import { RateLimitedLog } from './rate-limited-log';
import { StreamRecordValidator, type InvalidEntry, type StreamRecord } from './redis-records';
import { Phase, type RunState } from './run-state';
import type { RedisSourceSpec } from './source-spec';
import type { RedisRunCounts } from './stats';

/**
 * The input side of a run that reads a Redis stream (`--source redis://…`): entries through the
 * consumer group, checked like stdin lines, into the stream. Acknowledgement follows settlement:
 * a record is acknowledged once flushed, or once the --dead-letter file took it (without that file
 * an undeliverable record stays pending, to be delivered again); invalid and empty entries once
 * reported (and, for invalid ones, written to --dead-letter when given); a strategy's drops as
 * they happen. Whatever the run does not settle stays pending in the stream: at least once.
 */
export class RedisRunInput implements InputSide {
  readonly keepsUndelivered: string;
  readonly #state: RunState;
  readonly #sourceOptions: RedisStreamSourceOptions<Buffer>;
  readonly #validator: StreamRecordValidator;
  readonly #redisLog: RateLimitedLog;
  #source: RedisStreamSource<Buffer> | undefined;
  #leftPending = 0;
  #unacknowledged = 0;
  #leftovers: Promise<void> = Promise.resolve();

  constructor(state: RunState, spec: RedisSourceSpec, options: CliOptions) {
    // Fails now, before anything is opened, when ioredis is not installed.
    loadRedisConstructor();
    this.#state = state;
    this.keepsUndelivered = spec.url.description;
    this.#sourceOptions = {
      url: spec.url.connectionUrl,
      stream: spec.url.stream,
      group: spec.group,
      valueEncoding: 'buffer',
      ...(spec.consumer !== undefined && { consumer: spec.consumer }),
      ...(spec.count !== undefined && { count: spec.count }),
      ...(spec.blockMs !== undefined && { blockMs: spec.blockMs }),
      ...(spec.claimIdleMs !== undefined && { claimIdleMs: spec.claimIdleMs }),
      ...(spec.maxDeliveries !== undefined && { maxDeliveries: spec.maxDeliveries }),
      ...(spec.field !== undefined && { field: spec.field }),
      ...(options.exitWhenIdleMs !== undefined && { endWhenIdleMs: options.exitWhenIdleMs }),
      // Poison goes to --dead-letter when there is one; without it, it stays pending (see 'poison').
      ...(options.deadLetter !== undefined && {
        onDeadLetter: (entries: RedisStreamEntry<Buffer>[], error: Error) => this.#poisonToFile(entries, error),
      }),
    };
    this.#validator = new StreamRecordValidator({
      maxLineBytes: options.maxLineBytes,
      keepValue: options.strategy === 'priority',
      onInvalid: options.invalid,
    });
    this.#redisLog = new RateLimitedLog({ write: (text) => state.say(text), noun: 'Redis reports' });
  }

  getMetrics(): NdjsonSplitterMetrics {
    return this.#validator.getMetrics();
  }

  get failure(): NdjsonError | undefined {
    return this.#validator.failure;
  }

  /** The stream's onSettled: flushed records are acknowledged; dead-lettered ones only if the file took them. */
  readonly onSettled = (records: NdjsonRecord[], how: Settlement): void => {
    const source = this.#source as RedisStreamSource<Buffer>;
    const acknowledge: string[] = [];
    const release: string[] = [];
    for (const record of records) {
      const id = (record as StreamRecord).id;
      if (how === 'flushed' || this.#state.inDeadLetterFile.has(record)) acknowledge.push(id);
      else release.push(id);
    }
    source.acknowledge(acknowledge);
    source.release(release);
  };

  start(output: CliOutput): void {
    const source = new RedisStreamSource<Buffer>(this.#sourceOptions);
    this.#source = source;
    const validator = this.#validator;
    source.on('error', (error: Error) => {
      this.#state.fail(error);
      this.stop();
      if (!validator.writableEnded) validator.end(); // pipe() does not end it for a source that failed
    });
    source.on('transient-error', (event: RedisTransientErrorEvent) =>
      this.#redisLog.log(
        event.operation,
        () => `${this.keepsUndelivered}: ${event.operation} failed, retrying: ${describeError(event.error)}`,
      ),
    );
    // Left pending, the same poison comes back at every takeover scan: rate-limited like the other reports.
    source.on('poison', (event: RedisPoisonEvent<Buffer>) => {
      if (!event.deadLettering)
        this.#redisLog.log(
          'poison',
          () =>
            `${this.keepsUndelivered}: ${event.entries.length} entries delivered more than maxDeliveries times, left pending (no --dead-letter given): ${event.error.ids?.join(', ') ?? ''}`,
        );
    });
    source.on('end', () => {
      if (this.#state.phase === Phase.READING) this.#state.phase = Phase.DRAINING;
    });
    validator.on('invalid', (invalid: InvalidEntry) => this.#onInvalid(invalid));
    validator.on('empty', (id: string) => source.acknowledge([id]));
    validator.on('passed-over', (id: string) => source.release([id]));
    // A shedding strategy's drops are decisions, acknowledged as such (see RedisStreamSource.onDrop).
    output.on('drop', source.onDrop);
    source.pipe(validator).pipe(output);
  }

  /** Stops reading: the read in progress is cut short; what was read still flows out, is delivered and acknowledged. */
  stop(): void {
    if (this.#state.phase === Phase.READING) this.#state.phase = Phase.DRAINING;
    this.#source?.stop();
  }

  /**
   * The run gave up on delivery: what is still between the source and the stream is not delivered;
   * it is released (left pending, to be delivered again) and counted as `leftPending`.
   */
  divert(output: CliOutput): void {
    const validator = this.#validator;
    validator.unpipe(output);
    this.#source?.stop();
    validator.on('data', (record: StreamRecord) => {
      this.#leftPending++;
      this.#source?.release([record.id]);
    });
    validator.resume();
    if (!validator.readableEnded)
      this.#leftovers = new Promise<void>((resolve) => finished(validator, { writable: false }, () => resolve()));
  }

  leftoversSettled(): Promise<void> {
    return this.#leftovers;
  }

  /** Sends the last acknowledgements and closes the connections; what Redis did not confirm stays pending. */
  async finish(): Promise<void> {
    this.#redisLog.close();
    const source = this.#source;
    if (source === undefined) return;
    try {
      await source.close();
    } catch (err) {
      if (isRedisStreamError(err, RedisStreamErrorCodes.ACK_FAILED)) this.#unacknowledged = err.ids?.length ?? 0;
      this.#state.fail(err as Error);
    }
  }

  redisCounts(): RedisRunCounts {
    const m = this.#source?.getMetrics();
    return {
      acknowledged: m?.acknowledged ?? 0,
      readPending: m?.readPending ?? 0,
      claimed: m?.claimed ?? 0,
      poison: m?.poison ?? 0,
      leftPending: this.#leftPending,
      unacknowledged: this.#unacknowledged,
    };
  }

  /**
   * Reported like an invalid stdin line (and written to --dead-letter when given); then acknowledged,
   * as stdin's invalid lines are consumed — unless its copy could not be kept, or `--invalid fail`
   * stops at it: then it stays pending.
   */
  #onInvalid(invalid: InvalidEntry): void {
    const source = this.#source as RedisStreamSource<Buffer>;
    this.#state.invalidLog.log(
      invalid.reason,
      () => `entry ${invalid.id}: ${invalid.reason}: ${JSON.stringify(invalid.excerpt)}`,
    );
    let kept = true;
    try {
      this.#state.deadLetter?.writeInvalid(invalid);
    } catch (err) {
      kept = false;
      this.#state.fail(err as Error);
    }
    if (this.#validator.failure !== undefined) {
      source.release([invalid.id]);
      this.stop();
      return;
    }
    if (kept) source.acknowledge([invalid.id]);
    else source.release([invalid.id]);
  }

  /** The source's onDeadLetter: a throw (the file cannot be written) fails the source, and the entries stay pending. */
  #poisonToFile(entries: RedisStreamEntry<Buffer>[], error: Error): void {
    (this.#state.deadLetter as NonNullable<RunState['deadLetter']>).writePoison(entries, error);
  }
}
