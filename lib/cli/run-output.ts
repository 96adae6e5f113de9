import type { FlushFunction } from '../core/options';
import type { NdjsonRecord } from '../ndjson/ndjson-splitter';
import { createSinkFromSpec, type SinkSpec } from '../sinks/create-sink';
import { DeadLetterFile, DeadLetterWriteError } from '../sinks/dead-letter-file';
import { ExecSink } from '../sinks/exec-sink';
import type { LineSink } from '../sinks/line-sink';
import { sinkFlush, type SinkFlushFunction } from '../sinks/sink-flush';
import { buildOutput, type CliOutput } from './build-output';
import { describeError, errorCode } from './error-text';
import type { CliOptions } from './parse-args';
import type { RunInput } from './run-input';
import type { RunState } from './run-state';
import type { CliIo } from './stdio';

/**
 * The core's drainTimeoutMs: no deadline (the core arms no timer for it). At EOF
 * the CLI waits for the sink for as long as it makes progress (a slow consumer
 * under `block` must lose nothing; a dead sink still fails through flush
 * timeouts and retries). `--drain-timeout` bounds signal shutdowns only.
 */
const NO_DRAIN_DEADLINE_MS = Infinity;

/**
 * How much of what was last written to a pipe sink (stdout, exec:) is kept to be reported if the
 * reader dies: more than a Linux socket pair's buffers (~208 KiB each way) plus a batch, measured
 * in __tests__/integration/fault-consumer-killed.test.ts.
 */
const UNCONFIRMED_TAIL_BYTES = 1024 * 1024;

/**
 * At exit, how long a reader gets to take the rest of a line it has the start of (stdout, an exec
 * child). Past it, the CLI exits anyway — the reader is stuck, and waiting for it is exactly what a
 * run that gave up must not do — and says so. Generous on purpose: a socket (the pipes node's
 * spawn() makes) reports room to write only once half its buffer is free, so a slow reader that
 * is reading can take seconds to make room for a few bytes.
 */
export const STUCK_READER_GRACE_MS = 5_000;

/** Sinks whose reader can die after the OS took the bytes: a pipe to stdout or to a child process. */
function readerCanVanish(spec: SinkSpec): boolean {
  return spec.kind === 'stdout' || spec.kind === 'exec';
}

/**
 * The output side of a run: the stream records are written into, the sink it flushes to, and the
 * --dead-letter file. It reports what the sink gives up on, what a vanished reader may not have
 * read, and finishes the sink without ever leaving a reader with part of a record.
 */
export class RunOutput {
  readonly stream: CliOutput;
  readonly #state: RunState;
  readonly #input: RunInput;
  #sink: LineSink | undefined;
  #flushing: SinkFlushFunction | undefined;

  constructor(state: RunState, input: RunInput, options: CliOptions) {
    this.#state = state;
    this.#input = input;
    // The sink does not exist yet (nothing is created before every value is checked); the stream
    // calls flush only once records flow, after it does.
    this.stream = buildOutput(
      options,
      (batch, ctx) => (this.#flushing as FlushFunction<NdjsonRecord>)(batch, ctx),
      (records, error) => this.onDeadLetter(records, error),
      NO_DRAIN_DEADLINE_MS,
    );
  }

  /** The sink; only after `open` succeeded. */
  get sink(): LineSink {
    return this.#sink as LineSink;
  }

  /**
   * Opens --dead-letter and creates the sink. False (and reported) when the dead-letter file
   * cannot be opened; a sink that cannot be created throws, with everything opened closed again.
   */
  open(spec: SinkSpec, options: CliOptions, io: CliIo): boolean {
    if (options.deadLetter !== undefined) {
      try {
        this.#state.deadLetter = new DeadLetterFile(options.deadLetter);
      } catch (err) {
        this.#state.say(`backpressure: cannot open --dead-letter file: ${(err as Error).message}\n`);
        this.stream.destroy();
        return false;
      }
    }
    try {
      this.#sink = createSinkFromSpec(spec, { stdout: io.stdout });
    } catch (err) {
      this.#state.deadLetter?.close();
      this.stream.destroy();
      throw err;
    }
    this.#flushing = sinkFlush(this.#sink, {
      onSinkGone: (error, unconfirmed) => setImmediate(() => this.#onSinkGone(error, unconfirmed)),
      unconfirmedTailBytes: readerCanVanish(spec) ? UNCONFIRMED_TAIL_BYTES : 0,
    });
    return true;
  }

  /** The stream's dead-letter handler: never throws (a throw would fail the stream); what the file refuses is counted as lost. */
  onDeadLetter(records: NdjsonRecord[], error: Error): void {
    const deadLetter = this.#state.deadLetter;
    if (deadLetter !== undefined) {
      try {
        deadLetter.writeUndeliverable(records, error);
      } catch (err) {
        this.#state.notDeadLettered += records.length - (err instanceof DeadLetterWriteError ? err.written : 0);
        this.#onDeadLetterFileFailed(err as Error);
      }
    }
    this.#state.undeliverableLog.log(
      errorCode(error),
      () => `${records.length} records undeliverable (from line ${records[0]?.line}): ${describeError(error)}`,
    );
  }

  /**
   * --dead-letter cannot be written (a full disk, /dev/full). Stop reading: from here on every
   * record the sink gives up on would be lost. What is held is still delivered where the sink can.
   */
  #onDeadLetterFileFailed(error: Error): void {
    this.#state.fail(error);
    setImmediate(() => this.#input.stop());
  }

  #onSinkGone(error: Error, unconfirmed: NdjsonRecord[]): void {
    // Our own stop (a forced exit) rejects writes with ERR_SINK_CLOSED too: that is not a reader going away.
    if (this.#state.sinkStopping) return;
    // Nothing more can be delivered: stop reading. What is held is dead-lettered batch by batch
    // (the sink rejects at once, and its error is not retryable).
    this.#state.sinkGone ??= error;
    this.#reportUnconfirmed(unconfirmed, error, "the sink's reader went away");
    this.#input.stop();
  }

  /**
   * The pipe took these records but its reader died, or was terminated: it may not have read them.
   * Report them (at-least-once) instead of letting them count as delivered and vanish.
   */
  #reportUnconfirmed(unconfirmed: NdjsonRecord[], error: Error, what: string): void {
    if (unconfirmed.length === 0) return;
    this.#state.possiblyUndelivered += unconfirmed.length;
    const deadLetter = this.#state.deadLetter;
    try {
      deadLetter?.writeUndeliverable(unconfirmed, error, 'possibly-undelivered');
    } catch (err) {
      this.#onDeadLetterFileFailed(err as Error);
    }
    this.#state.say(
      `backpressure: ${what}; the last ${unconfirmed.length} records written (from line ${unconfirmed[0]?.line}) may not have been read` +
        (deadLetter === undefined ? '\n' : `; written to ${deadLetter.path} as possibly-undelivered\n`),
    );
  }

  /** Ends an exec child that stopped reading; what it may not have read is reported, not silently counted as delivered. */
  async terminateChild(why: string): Promise<void> {
    const child = this.#sink;
    if (!(child instanceof ExecSink) || child.exited) return;
    const error = new Error(`${child.description}: ${why}; terminated`);
    this.#reportUnconfirmed(this.#takeUnconfirmed(), error, `${child.description}: ${why}; terminating it`);
    await child.terminate();
  }

  /** A forced exit: an exec child still running is killed, and what it may not have read is reported. */
  killChild(received: NodeJS.Signals): void {
    const child = this.#sink;
    if (!(child instanceof ExecSink) || child.exited) return;
    const what = `${child.description}: terminated by ${received}`;
    this.#reportUnconfirmed(this.#takeUnconfirmed(), new Error(what), what);
    child.kill('SIGTERM');
  }

  /**
   * Lets the sink finish the record being written (bounded by STUCK_READER_GRACE_MS), then writes
   * nothing more: true if no record was left in part.
   */
  stopAtRecordBoundary(): Promise<boolean> {
    this.#state.sinkStopping = true;
    return this.sink.stopAtRecordBoundary?.(STUCK_READER_GRACE_MS) ?? Promise.resolve(true);
  }

  /**
   * Every batch is settled: flushed, or given up on. A write given up on may still be half-written
   * into a pipe whose reader stalled: finish that line (bounded) and stop, so that the reader never
   * gets part of a record; then close. A reader that takes nothing for STUCK_READER_GRACE_MS is not
   * waited for: an exec child is terminated, stdout is left as it is.
   */
  async finish(): Promise<void> {
    const sink = this.sink;
    const whole = await this.stopAtRecordBoundary();
    if (!whole) {
      this.#state.say(`backpressure: ${partialRecordMessage(sink)}\n`);
      if (!(sink instanceof ExecSink)) return; // closing stdout would wait for the stuck reader
      await this.terminateChild(`the child stopped reading`);
      if (!sink.exited) {
        this.#state.fail(new Error(`${sink.description}: the child did not exit after SIGKILL`));
        return;
      }
    }
    try {
      await sink.close();
    } catch (err) {
      if (this.#state.sinkGone === undefined) this.#state.fail(err as Error); // a gone sink is reported once, in the outcome
    }
  }

  #takeUnconfirmed(): NdjsonRecord[] {
    return (this.#flushing as SinkFlushFunction).takeUnconfirmed();
  }
}

/** Why the run stopped waiting for a stuck reader, and what it did not take. */
export function partialRecordMessage(sink: LineSink): string {
  const partial = sink.partialRecord;
  const what =
    partial === undefined
      ? 'a line it has not started to read'
      : `the rest of a line it has ${partial.written} of its ${partial.length} bytes of (that record is dead-lettered)`;
  return `${sink.description}: its reader did not take ${what} within ${STUCK_READER_GRACE_MS} ms; not waiting for it any longer`;
}
