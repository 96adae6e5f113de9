import type { FlushContext, FlushFunction } from '../core/options';
import { DurableErrorCodes, isDurableError, type DurableError } from '../durable/durable-errors';
import type { NdjsonRecord } from '../ndjson/ndjson-splitter';
import { createSinkFromSpec, type SinkSpec } from '../sinks/create-sink';
import { DeadLetterFile, DeadLetterWriteError } from '../sinks/dead-letter-file';
import { ExecSink } from '../sinks/exec-sink';
import type { LineSink } from '../sinks/line-sink';
import { sinkFailureAction, SinkFailureAction } from '../sinks/sink-errors';
import { sinkFlush, type SinkFlushFunction } from '../sinks/sink-flush';
import { buildOutput, type CliOutput } from './build-output';
import { describeError, errorCode } from './error-text';
import type { CliOptions } from './parse-args';
import type { InputSide } from './input-side';
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
  /** --buffer-dir: records go through the on-disk log, and what is not delivered stays there for the next run. */
  readonly durable: boolean;
  /**
   * Durable mode: the run stops delivering and leaves the rest on disk (set by the shutdown wiring).
   * Called once the sink is gone, instead of dead-lettering what is left batch by batch.
   */
  onStopDelivering: ((reason: Error) => void) | undefined;
  readonly #state: RunState;
  readonly #input: InputSide;
  #sink: LineSink | undefined;
  #flushing: SinkFlushFunction | undefined;
  #closed = false;
  readonly #closing: Promise<void>;

  constructor(state: RunState, input: InputSide, options: CliOptions) {
    this.#state = state;
    this.#input = input;
    this.durable = options.bufferDir !== undefined;
    // The sink does not exist yet (nothing is created before every value is checked); the stream
    // calls flush only once records flow, after it does.
    this.stream = buildOutput(
      options,
      this.durable
        ? this.#flushKeepingOnDisk
        : (batch, ctx) => (this.#flushing as FlushFunction<NdjsonRecord>)(batch, ctx),
      (records, error) => this.onDeadLetter(records, error),
      NO_DRAIN_DEADLINE_MS,
      input.onSettled,
    );
    this.#closing = new Promise((resolve) => this.stream.once('close', resolve)).then(() => {
      this.#closed = true;
    });
  }

  /**
   * Durable mode: a sink that is gone for good (EPIPE, the child exited, an I/O error) fails no batch:
   * the attempt stays pending until the run, told through onSinkGone, destroys the stream — which
   * aborts it and leaves its records, and every record after them, on disk for the next run.
   */
  readonly #flushKeepingOnDisk = (batch: NdjsonRecord[], ctx: FlushContext): ReturnType<FlushFunction<NdjsonRecord>> =>
    (this.#flushing as SinkFlushFunction)(batch, ctx).catch((error: unknown) => {
      if (sinkFailureAction(error) !== SinkFailureAction.STOP || this.#state.sinkStopping) throw error;
      return new Promise<never>((_, reject) => {
        const signal = ctx.signal;
        if (signal.aborted) reject(signal.reason);
        else signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    });

  /**
   * Durable mode: resolves once the log is open (null), or with the reason it could not be (a
   * directory locked by another process, permissions). Nothing is read or created before.
   */
  whenReady(): Promise<Error | null> {
    if (!this.durable) return Promise.resolve(null);
    return new Promise((resolve) => {
      const onError = (error: Error): void => {
        this.stream.off('ready', onReady);
        resolve(error);
      };
      const onReady = (): void => {
        this.stream.off('error', onError);
        resolve(null);
      };
      this.stream.once('ready', onReady);
      this.stream.once('error', onError);
    });
  }

  /** Resolves once the stream closed (in durable mode: its log is closed, its lock released). */
  whenClosed(): Promise<void> {
    if (!this.stream.destroyed && !this.#closed) this.stream.destroy();
    return this.#closing;
  }

  /** The stream has closed: in durable mode, what it still counts as held is on disk, for the next run. */
  get closed(): boolean {
    return this.#closed;
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
    if (isDamagedRecord(error)) {
      this.#onDamaged(records as unknown as Buffer[], error);
      return;
    }
    const deadLetter = this.#state.deadLetter;
    if (deadLetter !== undefined) {
      let written = records.length;
      try {
        deadLetter.writeUndeliverable(records, error);
      } catch (err) {
        written = err instanceof DeadLetterWriteError ? err.written : 0;
        this.#state.notDeadLettered += records.length - written;
        this.#onDeadLetterFileFailed(err as Error);
      }
      for (let i = 0; i < written; i++) this.#state.inDeadLetterFile.add(records[i] as NdjsonRecord);
    }
    this.#state.undeliverableLog.log(
      errorCode(error),
      () => `${records.length} records undeliverable${fromLine(records)}: ${describeError(error)}`,
    );
  }

  /**
   * Durable mode: records that came back from --buffer-dir damaged (the library counted them in
   * eventsCorrupt), as raw bytes: reported, and kept in --dead-letter when given. What the file
   * refuses is counted as lost instead (and stops the run, as for any record).
   */
  #onDamaged(raw: Buffer[], error: DurableError): void {
    const count = error.count ?? raw.length;
    const deadLetter = this.#state.deadLetter;
    if (deadLetter !== undefined) {
      try {
        for (const bytes of raw) deadLetter.writeCorrupt(bytes, error);
      } catch (err) {
        this.#state.corruptNotKept += count;
        this.#onDeadLetterFileFailed(err as Error);
      }
    }
    this.#state.corruptLog.log(
      error.code,
      () =>
        `--buffer-dir: ${count} damaged record(s) skipped: ${error.message}` +
        (deadLetter === undefined ? '' : ` (raw bytes in ${deadLetter.path})`),
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
    // (the sink rejects at once, and its error is not retryable) — or, with --buffer-dir, left on
    // disk for the next run (the failed attempts wait for this; see #flushKeepingOnDisk).
    const first = this.#state.sinkGone === undefined;
    this.#state.sinkGone ??= error;
    this.#reportUnconfirmed(unconfirmed, error, "the sink's reader went away");
    this.#input.stop();
    if (this.durable && first) this.onStopDelivering?.(error);
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
      `backpressure: ${what}; the last ${unconfirmed.length} records written${fromLine(unconfirmed)} may not have been read` +
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

/** A record --buffer-dir handed back as raw bytes: damaged on disk, or refused by the codec. */
function isDamagedRecord(error: Error): error is DurableError {
  return (
    isDurableError(error, DurableErrorCodes.CORRUPT_RECORD) || isDurableError(error, DurableErrorCodes.DECODE_FAILED)
  );
}

/** " (from line N)", or nothing for records read back from --buffer-dir (line 0: which input line is not kept). */
function fromLine(records: readonly NdjsonRecord[]): string {
  const line = records[0]?.line ?? 0;
  return line > 0 ? ` (from line ${line})` : '';
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
