import type { BackpressureMetrics } from '../core/backpressure-writable';
import { BackpressureError, ErrorCodes } from '../core/errors';
import {
  createNdjsonSplitter,
  type InvalidLine,
  type NdjsonRecord,
  type TruncatedLine,
} from '../ndjson/ndjson-splitter';
import { MAX_TIMER_MS, type FlushFunction } from '../core/options';
import { DeadLetterFile, DeadLetterWriteError } from '../sinks/dead-letter-file';
import { RateLimitedLog } from './rate-limited-log';
import { sinkFlush, type SinkFlushFunction } from '../sinks/sink-flush';
import { createSinkFromSpec, parseSinkSpec, type SinkSpec } from '../sinks/create-sink';
import { ExecSink, TERMINATE_GRACE_MS } from '../sinks/exec-sink';
import type { LineSink } from '../sinks/line-sink';
import { isSinkError, SinkErrorCodes } from '../sinks/sink-errors';
import { finished } from '../util/stream-classes';
import { buildOutput } from './build-output';
import { ExitCode, signalExitCode } from './exit-codes';
import { outcomeOf } from './outcome';
import type { CliOptions } from './parse-args';
import { UsageError } from './parse-args';
import { ProgressLine } from './progress';
import { trapShutdownSignals } from './shutdown';
import { whenWritten } from './stdio';
import { formatSummary, summarize, type RunSummary } from './stats';

/** The process's streams and exit, injectable so that `run` can be driven in-process too. */
export interface CliIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Ends the process at once (second signal). @default process.exit */
  exit?: (code: number) => never;
  /** The environment, for `COLUMNS` when stderr does not know its width. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/**
 * Where a run is. One field, advanced only forwards, so that late events
 * (a second error, a signal during the final summary) cannot re-run a phase.
 */
const Phase = {
  /** Reading input and delivering. */
  READING: 'reading',
  /** Input stopped (EOF, signal, invalid line under --invalid fail, sink gone); delivering what was read. */
  DRAINING: 'draining',
  /** Gave up on delivery (drain deadline): everything left is being dead-lettered. */
  ABANDONING: 'abandoning',
  /** Every record is accounted for; finishing and closing the sink (an exec child may still be working). */
  CLOSING: 'closing',
  /** Summary printed; nothing more happens. */
  DONE: 'done',
} as const;
type Phase = (typeof Phase)[keyof typeof Phase];

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
const STUCK_READER_GRACE_MS = 5_000;

/**
 * After a signal, how long past `--drain-timeout` the CLI waits for the shutdown to finish before
 * exiting regardless (as if the signal came twice). Longer than the bounded waits of a shutdown
 * that works: finishing a line (STUCK_READER_GRACE_MS) and terminating an exec child
 * (2 × TERMINATE_GRACE_MS), so that it only ever cuts short one that hangs.
 */
const FORCE_EXIT_GRACE_MS = STUCK_READER_GRACE_MS + 2 * TERMINATE_GRACE_MS + 5_000;

/** A forced exit waits at most this long for its report to leave through stderr. */
const FORCED_REPORT_FLUSH_MS = 1_000;

/** Sinks whose reader can die after the OS took the bytes: a pipe to stdout or to a child process. */
function readerCanVanish(spec: SinkSpec): boolean {
  return spec.kind === 'stdout' || spec.kind === 'exec';
}

/**
 * Runs the CLI's one job: NDJSON from `io.stdin`, through `backpressure()`, to
 * the sink. Pure wiring of library parts; returns the exit code.
 *
 * Order matters: everything that can be a usage error (the sink spec, every option value, the
 * library's own validation of them) is checked before anything is created, opened, spawned or read.
 */
export async function run(options: CliOptions, io: CliIo): Promise<number> {
  const startedAt = performance.now();
  const exit = io.exit ?? ((code: number) => process.exit(code));
  const input = io.stdin;

  let sinkSpec: SinkSpec;
  try {
    sinkSpec = parseSinkSpec(options.sink);
  } catch (err) {
    if (isSinkError(err, SinkErrorCodes.INVALID_SPEC)) throw new UsageError(`--sink: ${(err as Error).message}`);
    throw err;
  }

  let phase: Phase = Phase.READING;
  let signal: NodeJS.Signals | undefined;
  let sinkGone: Error | undefined;
  let runtimeError: Error | undefined;
  /** Read, valid, but never handed to the stream: the drain deadline passed first. */
  let deadLetteredHere = 0;
  /** Flushed into a pipe whose reader then died (see onSinkGone). */
  let possiblyUndelivered = 0;
  /** Given up on (counted as dead-lettered by the stream), but --dead-letter could not take them: lost. */
  let notDeadLettered = 0;
  /** Set once the sink was told to stop at a record boundary: its CLOSED rejections are ours, not a vanished reader. */
  let sinkStopping = false;
  /** Set by forceExit: settles once it has printed its report (and called `exit`, which normally does not return). */
  let forced: Promise<number> | undefined;
  let drainDeadline: NodeJS.Timeout | undefined;
  let deadLetter: DeadLetterFile | undefined;
  let sink: LineSink | undefined;
  let flushToSink: SinkFlushFunction | undefined;
  const leftovers: NdjsonRecord[] = [];

  const progress =
    (options.progress ?? io.stderr.isTTY === true)
      ? new ProgressLine({
          write: (text) => io.stderr.write(text),
          snapshot: () => snapshot(),
          columns: () => terminalColumns(io),
        })
      : undefined;
  /** Every stderr message goes through here, so it never lands in the middle of the progress line. */
  const say = (text: string): void => {
    progress?.clear();
    io.stderr.write(text);
  };
  const invalidLog = new RateLimitedLog({ write: say, noun: 'invalid lines' });
  const undeliverableLog = new RateLimitedLog({ write: say, noun: 'undeliverable batches' });

  /** The stream's dead-letter handler: never throws (a throw would fail the stream); what the file refuses is counted as lost. */
  const onDeadLetter = (records: NdjsonRecord[], error: Error): void => {
    if (deadLetter !== undefined) {
      try {
        deadLetter.writeUndeliverable(records, error);
      } catch (err) {
        notDeadLettered += records.length - (err instanceof DeadLetterWriteError ? err.written : 0);
        onDeadLetterFileFailed(err as Error);
      }
    }
    undeliverableLog.log(
      errorCode(error),
      () => `${records.length} records undeliverable (from line ${records[0]?.line}): ${describeError(error)}`,
    );
  };

  const splitter = createNdjsonSplitter({
    maxLineBytes: options.maxLineBytes,
    keepValue: options.strategy === 'priority',
    onInvalid: options.invalid,
  });
  // The sink does not exist yet (nothing is created before every value is checked); the stream
  // calls flush only once records flow, after it does.
  const output = buildOutput(
    options,
    (batch, ctx) => (flushToSink as FlushFunction<NdjsonRecord>)(batch, ctx),
    onDeadLetter,
    NO_DRAIN_DEADLINE_MS,
  );

  if (options.deadLetter !== undefined) {
    try {
      deadLetter = new DeadLetterFile(options.deadLetter);
    } catch (err) {
      say(`backpressure: cannot open --dead-letter file: ${(err as Error).message}\n`);
      output.destroy();
      return ExitCode.FAILURE;
    }
  }
  try {
    sink = createSinkFromSpec(sinkSpec, { stdout: io.stdout });
  } catch (err) {
    deadLetter?.close();
    output.destroy();
    throw err;
  }
  const theSink: LineSink = sink;
  const flushing = sinkFlush(theSink, {
    onSinkGone: (error, unconfirmed) => setImmediate(onSinkGone, error, unconfirmed),
    unconfirmedTailBytes: readerCanVanish(sinkSpec) ? UNCONFIRMED_TAIL_BYTES : 0,
  });
  flushToSink = flushing;

  function snapshot() {
    const m = output.getMetrics();
    const s = splitter.getMetrics();
    return {
      lines: s.valid + s.invalid + s.truncated,
      state: m.state,
      bufferSize: m.bufferSize,
      bufferUtilization: m.bufferUtilization,
      dropped: m.eventsDropped,
      deadLettered: m.eventsDeadLettered,
    };
  }

  /** Stops reading stdin; what the splitter already holds still flows out and is delivered. */
  function stopInput(): void {
    if (phase !== Phase.READING) return;
    phase = Phase.DRAINING;
    input.unpipe(splitter);
    input.pause();
    // A stop, not EOF: a line read only in part is reported as truncated-at-stop, not as invalid.
    splitter.stop();
  }

  /**
   * --dead-letter cannot be written (a full disk, /dev/full). Stop reading: from here on every
   * record the sink gives up on would be lost. What is held is still delivered where the sink can.
   */
  function onDeadLetterFileFailed(error: Error): void {
    runtimeError ??= error;
    setImmediate(stopInput);
  }

  /** An invalid or cut-off line: losing its copy fails the run, but costs no record, so reading goes on. */
  function writeToDeadLetter(entry: InvalidLine | TruncatedLine): void {
    try {
      deadLetter?.writeInvalid(entry);
    } catch (err) {
      runtimeError ??= err as Error;
    }
  }

  function onInvalid(invalid: InvalidLine): void {
    invalidLog.log(invalid.reason, () => `line ${invalid.line}: ${invalid.reason}: ${JSON.stringify(invalid.excerpt)}`);
    writeToDeadLetter(invalid);
    // --invalid fail: the splitter has already ended its output after the last valid record.
    if (splitter.failure !== undefined) stopInput();
  }

  function onTruncated(truncated: TruncatedLine): void {
    say(
      `backpressure: line ${truncated.line}: ${truncated.reason}: reading stopped after ${truncated.bytes.length} bytes of it: ${JSON.stringify(truncated.excerpt)}` +
        (deadLetter === undefined ? '\n' : ` (kept in ${deadLetter.path})\n`),
    );
    writeToDeadLetter(truncated);
  }

  function onSinkGone(error: Error, unconfirmed: NdjsonRecord[]): void {
    // Our own stop (a forced exit) rejects writes with ERR_SINK_CLOSED too: that is not a reader going away.
    if (sinkStopping) return;
    // Nothing more can be delivered: stop reading. What is held is dead-lettered batch by batch
    // (the sink rejects at once, and its error is not retryable).
    sinkGone ??= error;
    reportUnconfirmed(unconfirmed, error, "the sink's reader went away");
    stopInput();
  }

  /**
   * The pipe took these records but its reader died, or was terminated: it may not have read them.
   * Report them (at-least-once) instead of letting them count as delivered and vanish.
   */
  function reportUnconfirmed(unconfirmed: NdjsonRecord[], error: Error, what: string): void {
    if (unconfirmed.length === 0) return;
    possiblyUndelivered += unconfirmed.length;
    try {
      deadLetter?.writeUndeliverable(unconfirmed, error, 'possibly-undelivered');
    } catch (err) {
      onDeadLetterFileFailed(err as Error);
    }
    say(
      `backpressure: ${what}; the last ${unconfirmed.length} records written (from line ${unconfirmed[0]?.line}) may not have been read` +
        (deadLetter === undefined ? '\n' : `; written to ${deadLetter.path} as possibly-undelivered\n`),
    );
  }

  /** Ends an exec child that stopped reading; what it may not have read is reported, not silently counted as delivered. */
  async function terminateChild(sinkOfChild: ExecSink, why: string): Promise<void> {
    if (sinkOfChild.exited) return;
    const error = new Error(`${sinkOfChild.description}: ${why}; terminated`);
    reportUnconfirmed(flushing.takeUnconfirmed(), error, `${sinkOfChild.description}: ${why}; terminating it`);
    await sinkOfChild.terminate();
  }

  function onInputError(error: Error): void {
    runtimeError ??= error;
    stopInput();
  }

  function onOutputError(error: Error): void {
    runtimeError ??= error;
    // DEAD_LETTER_FAILED: the stream counted these as dead-lettered, but they never reached the file.
    // (onDeadLetter does not throw, so this is a safety net.)
    if (error instanceof BackpressureError && error.code === ErrorCodes.DEAD_LETTER_FAILED) {
      notDeadLettered += error.items?.length ?? 0;
    }
    stopInput();
    abandon(error);
  }

  /** The drain deadline passed (or the stream failed): dead-letter whatever is still on its way. */
  function abandon(reason: Error): void {
    if (phase === Phase.ABANDONING || phase === Phase.CLOSING || phase === Phase.DONE) return;
    phase = Phase.ABANDONING;
    splitter.unpipe(output);
    // Records the splitter still holds were read but never reached the stream: dead-letter them here,
    // in one batch once the splitter has ended (bounded: its buffers hold a few dozen KiB at most).
    splitter.on('data', (record: NdjsonRecord) => leftovers.push(record));
    splitter.once('end', () => {
      deadLetteredHere += leftovers.length;
      if (leftovers.length > 0) onDeadLetter(leftovers, reason);
    });
    splitter.resume(); // pipe() paused it while the stream was blocked; a new 'data' listener alone would not resume it
    // The stream hands everything it holds to onDeadLetter, and aborts the writes in progress: a
    // pipe sink finishes the line it is in and writes nothing more of them.
    if (!output.destroyed) output.destroy();
  }

  const untrapSignals = trapShutdownSignals({
    graceful(received) {
      signal ??= received;
      if (phase === Phase.DONE) {
        exit(signalExitCode(received)); // the summary is out: nothing left to wait for
        return;
      }
      say(
        `backpressure: ${received}: stopped reading; draining for up to ${options.drainTimeoutMs} ms (send again to exit now)\n`,
      );
      stopInput();
      drainDeadline = setTimeout(onDrainDeadline, options.drainTimeoutMs);
      // Insurance: if dead-lettering itself hangs, behave as if the signal came twice.
      // --drain-timeout is at most MAX_TIMER_MS; the insurance never waits past what a timer can (it would fire after 1 ms).
      setTimeout(forceExit, Math.min(options.drainTimeoutMs + FORCE_EXIT_GRACE_MS, MAX_TIMER_MS), received).unref();
    },
    immediate: forceExit,
  });

  function onDrainDeadline(): void {
    if (phase === Phase.CLOSING) {
      // Everything is accounted for; an exec child is still finishing after its EOF. The deadline
      // covers it too: end it.
      if (theSink instanceof ExecSink)
        void terminateChild(theSink, `did not finish within --drain-timeout ${options.drainTimeoutMs} ms`);
      return;
    }
    abandon(
      new BackpressureError(
        ErrorCodes.DRAIN_TIMEOUT,
        `not delivered within --drain-timeout ${options.drainTimeoutMs} ms`,
      ),
    );
  }

  /**
   * A second signal, SIGQUIT, or a drain that hangs: report what is still unaccounted for, and go.
   * Even now the reader is not left with part of a line: the record being written is finished
   * first (bounded by STUCK_READER_GRACE_MS). A further signal while that waits exits at once.
   */
  function forceExit(received: NodeJS.Signals): void {
    signal ??= received;
    if (forced !== undefined || phase === Phase.DONE) {
      exit(signalExitCode(received));
      return;
    }
    sinkStopping = true;
    forced = (theSink.stopAtRecordBoundary?.(STUCK_READER_GRACE_MS) ?? Promise.resolve(true)).then(async (whole) => {
      if (theSink instanceof ExecSink && !theSink.exited) {
        reportUnconfirmed(
          flushing.takeUnconfirmed(),
          new Error(`${theSink.description}: terminated by ${received}`),
          `${theSink.description}: terminated by ${received}`,
        );
        theSink.kill('SIGTERM');
      }
      const summary = currentSummary();
      say(
        `backpressure: ${received}: exiting now without draining; ${summary.lost} records neither delivered nor dead-lettered\n`,
      );
      if (!whole) say(`backpressure: ${partialRecordMessage(theSink)}\n`);
      if (options.stats) say(formatSummary(summary));
      const code = signalExitCode(received);
      // The report must not be lost in a full stderr pipe (bounded: a stuck reader is not waited for).
      await whenWritten([io.stderr], FORCED_REPORT_FLUSH_MS);
      exit(code);
      return code;
    });
  }

  function currentSummary(): RunSummary {
    const metrics: BackpressureMetrics = output.getMetrics();
    return summarize(
      splitter.getMetrics(),
      metrics,
      deadLetteredHere - notDeadLettered,
      performance.now() - startedAt,
      possiblyUndelivered,
    );
  }

  /**
   * Every batch is settled: flushed, or given up on. A write given up on may still be half-written
   * into a pipe whose reader stalled: finish that line (bounded) and stop, so that the reader never
   * gets part of a record; then close. A reader that takes nothing for STUCK_READER_GRACE_MS is not
   * waited for: an exec child is terminated, stdout is left as it is.
   */
  async function finishSink(): Promise<void> {
    sinkStopping = true;
    const whole = await (theSink.stopAtRecordBoundary?.(STUCK_READER_GRACE_MS) ?? Promise.resolve(true));
    if (!whole) {
      say(`backpressure: ${partialRecordMessage(theSink)}\n`);
      if (!(theSink instanceof ExecSink)) return; // closing stdout would wait for the stuck reader
      await terminateChild(theSink, `the child stopped reading`);
      if (!theSink.exited) {
        runtimeError ??= new Error(`${theSink.description}: the child did not exit after SIGKILL`);
        return;
      }
    }
    try {
      await theSink.close();
    } catch (err) {
      if (sinkGone === undefined) runtimeError ??= err as Error; // a gone sink is reported once, below
    }
  }

  splitter.on('invalid', onInvalid);
  splitter.on('truncated', onTruncated);
  splitter.on('error', onInputError);
  input.on('error', onInputError);
  // Input EOF: the splitter ends, and pipe() ends the stream, which drains.
  input.on('end', () => {
    if (phase === Phase.READING) phase = Phase.DRAINING;
  });
  progress?.start();
  input.pipe(splitter).pipe(output);

  // Settles when the stream finished (everything accounted) or was destroyed.
  await new Promise<void>((resolve) => {
    finished(output, (err) => {
      if (err && !isPrematureClose(err)) onOutputError(err);
      resolve();
    });
  });
  // After abandon(): let the splitter's leftovers flow into the dead-letter path before counting.
  // (The cast: TS cannot see that the callbacks above move `phase` on.)
  if ((phase as Phase) === Phase.ABANDONING && !splitter.readableEnded) {
    await new Promise<void>((resolve) => finished(splitter, { writable: false }, () => resolve()));
  }
  phase = Phase.CLOSING;
  // Signal handlers stay installed until the summary is out: a Ctrl-C while the sink closes still
  // gets a summary (and, for an exec child that does not finish, ends it at the drain deadline).
  await finishSink();
  if (drainDeadline !== undefined) clearTimeout(drainDeadline);
  deadLetter?.close();
  progress?.stop();
  invalidLog.close();
  undeliverableLog.close();

  const failure = splitter.failure;
  const summary = currentSummary();
  const { messages, exitCode } = outcomeOf({
    summary,
    signal,
    invalidStop: failure === undefined ? undefined : { line: failure.line, reason: failure.reason },
    sinkGone: sinkGone === undefined ? undefined : { sink: theSink.description, message: describeError(sinkGone) },
    runtimeError: runtimeError === undefined ? undefined : describeError(runtimeError),
    deadLetterPath: deadLetter?.path,
  });
  if (forced !== undefined) return await forced; // forceExit reports and exits on its own
  for (const message of messages) say(`backpressure: ${message}\n`);
  if (options.stats) say(formatSummary(summary));
  phase = Phase.DONE;
  untrapSignals();
  return exitCode;
}

function partialRecordMessage(sink: LineSink): string {
  const partial = sink.partialRecord;
  const what =
    partial === undefined
      ? 'a line it has not started to read'
      : `the rest of a line it has ${partial.written} of its ${partial.length} bytes of (that record is dead-lettered)`;
  return `${sink.description}: its reader did not take ${what} within ${STUCK_READER_GRACE_MS} ms; not waiting for it any longer`;
}

/** The terminal's width for the progress line: stderr's own, else `COLUMNS` (set by shells, and by tests). */
function terminalColumns(io: CliIo): number | undefined {
  if (typeof io.stderr.columns === 'number' && io.stderr.columns > 0) return io.stderr.columns;
  const fromEnv = Number((io.env ?? process.env)['COLUMNS']);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : undefined;
}

function isPrematureClose(err: Error): boolean {
  return (err as { code?: unknown }).code === 'ERR_STREAM_PREMATURE_CLOSE';
}

function errorCode(error: Error): string {
  const cause = error.cause;
  const code = (cause as { code?: unknown } | undefined)?.code ?? (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'error';
}

/** The message, plus the cause's when there is one ("flush failed after 3 attempt(s): ..." already includes it). */
function describeError(error: Error): string {
  const cause = error.cause;
  if (cause instanceof Error && !error.message.includes(cause.message)) return `${error.message}: ${cause.message}`;
  return error.message;
}
