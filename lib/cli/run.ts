import type { BackpressureMetrics } from '../backpressure-writable';
import { backpressure } from '../backpressure';
import { BackpressureError, ErrorCodes } from '../errors';
import { MAX_TIMER_MS } from '../options';
import { createNdjsonSplitter, type InvalidLine, type NdjsonRecord } from '../ndjson/ndjson-splitter';
import { DeadLetterFile } from '../pipeline/dead-letter-file';
import { fieldPriority } from '../pipeline/field-priority';
import { RateLimitedLog } from '../pipeline/rate-limited-log';
import { recordByteLength } from '../pipeline/record-size';
import { sinkFlush } from '../pipeline/sink-flush';
import { createSink } from '../sinks/create-sink';
import { isSinkError, SinkErrorCodes } from '../sinks/sink-errors';
import { finished } from '../stream-classes';
import { ExitCode, signalExitCode } from './exit-codes';
import { outcomeOf } from './outcome';
import type { CliOptions } from './parse-args';
import { UsageError } from './parse-args';
import { ProgressLine } from './progress';
import { trapShutdownSignals } from './shutdown';
import { formatSummary, summarize, type RunSummary } from './stats';

/** The process's streams and exit, injectable so that `run` can be driven in-process too. */
export interface CliIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Ends the process at once (second signal). @default process.exit */
  exit?: (code: number) => never;
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
 * in __tests__/fault-consumer-killed.test.ts.
 */
const UNCONFIRMED_TAIL_BYTES = 1024 * 1024;

/** Sinks whose reader can die after the OS took the bytes: a pipe to stdout or to a child process. */
function readerCanVanish(spec: string): boolean {
  const lower = spec.toLowerCase();
  return !(lower.startsWith('http://') || lower.startsWith('https://') || lower.startsWith('file:'));
}

/** After a signal, how long past `--drain-timeout` the CLI waits for dead-lettering before exiting regardless. */
const FORCE_EXIT_GRACE_MS = 5_000;

/**
 * Runs the CLI's one job: NDJSON from `io.stdin`, through `backpressure()`, to
 * the sink. Pure wiring of library parts; returns the exit code.
 */
export async function run(options: CliOptions, io: CliIo): Promise<number> {
  const startedAt = performance.now();
  const exit = io.exit ?? ((code: number) => process.exit(code));
  const input = io.stdin;

  // Parse the sink spec first: a bad spec is a usage error, before anything is read or created.
  let sink;
  try {
    sink = createSink(options.sink, { stdout: io.stdout });
  } catch (err) {
    if (isSinkError(err, SinkErrorCodes.INVALID_SPEC)) throw new UsageError(`--sink: ${(err as Error).message}`);
    throw err;
  }

  const progress = (options.progress ?? io.stderr.isTTY === true)
    ? new ProgressLine({ write: (text) => io.stderr.write(text), snapshot: () => snapshot() })
    : undefined;
  /** Every stderr message goes through here, so it never lands in the middle of the progress line. */
  const say = (text: string): void => {
    progress?.clear();
    io.stderr.write(text);
  };

  let deadLetter: DeadLetterFile | undefined;
  if (options.deadLetter !== undefined) {
    try {
      deadLetter = new DeadLetterFile(options.deadLetter);
    } catch (err) {
      say(`backpressure: cannot open --dead-letter file: ${(err as Error).message}\n`);
      await sink.close().catch(() => undefined);
      return ExitCode.FAILURE;
    }
  }
  const invalidLog = new RateLimitedLog({ write: say, noun: 'invalid lines' });
  const undeliverableLog = new RateLimitedLog({ write: say, noun: 'undeliverable batches' });

  let phase: Phase = Phase.READING;
  let signal: NodeJS.Signals | undefined;
  let sinkGone: Error | undefined;
  let runtimeError: Error | undefined;
  /** Read, valid, but never handed to the stream: the drain deadline passed first. */
  let deadLetteredHere = 0;
  /** Flushed into a pipe whose reader then died (see onSinkGone). */
  let possiblyUndelivered = 0;
  /** Counted as dead-lettered by the stream, but writing them to the dead-letter file failed. */
  let notDeadLettered = 0;
  let drainDeadline: NodeJS.Timeout | undefined;
  const leftovers: NdjsonRecord[] = [];

  const splitter = createNdjsonSplitter({
    maxLineBytes: options.maxLineBytes,
    keepValue: options.strategy === 'priority',
    onInvalid: options.invalid,
  });

  const onDeadLetter = (records: NdjsonRecord[], error: Error): void => {
    // A throw here (disk full) makes the stream fail with DEAD_LETTER_FAILED; handled in onOutputError.
    deadLetter?.writeUndeliverable(records, error);
    undeliverableLog.log(errorCode(error), () => `${records.length} records undeliverable (from line ${records[0]?.line}): ${describeError(error)}`);
  };

  const output = backpressure<NdjsonRecord>({
    strategy: options.strategy,
    flush: sinkFlush(sink, {
      onSinkGone: (error, unconfirmed) => setImmediate(onSinkGone, error, unconfirmed),
      unconfirmedTailBytes: readerCanVanish(options.sink) ? UNCONFIRMED_TAIL_BYTES : 0,
    }),
    onDeadLetter,
    drainTimeoutMs: NO_DRAIN_DEADLINE_MS,
    ...(options.maxBuffer !== undefined && { maxBufferSize: options.maxBuffer }),
    ...(options.maxBufferBytes !== undefined && { maxBufferBytes: options.maxBufferBytes, sizeOf: recordByteLength }),
    ...(options.batchSize !== undefined && { batchSize: options.batchSize }),
    ...(options.flushIntervalMs !== undefined && {
      minFlushIntervalMs: options.flushIntervalMs,
      maxFlushIntervalMs: options.flushIntervalMs,
    }),
    ...(options.retries !== undefined && { retry: { retries: options.retries } }),
    ...(options.flushTimeoutMs !== undefined && { flushTimeoutMs: options.flushTimeoutMs }),
    ...(options.sampleRate !== undefined && { sampleRate: options.sampleRate }),
    ...(options.priorityField !== undefined && { priority: fieldPriority(options.priorityField) }),
  });

  function snapshot() {
    const m = output.getMetrics();
    const s = splitter.getMetrics();
    return {
      lines: s.valid + s.invalid,
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
    if (!splitter.writableEnded) splitter.end();
  }

  function onInvalid(invalid: InvalidLine): void {
    invalidLog.log(invalid.reason, () => `line ${invalid.line}: ${invalid.reason}: ${JSON.stringify(invalid.excerpt)}`);
    try {
      deadLetter?.writeInvalid(invalid);
    } catch (err) {
      runtimeError ??= err as Error;
    }
    // --invalid fail: the splitter has already ended its output after the last valid record.
    if (splitter.failure !== undefined) stopInput();
  }

  function onSinkGone(error: Error, unconfirmed: NdjsonRecord[]): void {
    // Nothing more can be delivered: stop reading. What is held is dead-lettered batch by batch
    // (the sink rejects at once, and its error is not retryable).
    sinkGone ??= error;
    // The pipe took the last records but its reader died: it may not have read them. Report them
    // (at-least-once) instead of letting them count as delivered and vanish.
    if (unconfirmed.length > 0) {
      possiblyUndelivered += unconfirmed.length;
      try {
        deadLetter?.writeUndeliverable(unconfirmed, error, 'possibly-undelivered');
      } catch (err) {
        runtimeError ??= err as Error;
      }
      say(
        `backpressure: the sink's reader went away; the last ${unconfirmed.length} records written (from line ${unconfirmed[0]?.line}) may not have been read` +
          (deadLetter === undefined ? '\n' : `; written to ${deadLetter.path} as possibly-undelivered\n`),
      );
    }
    stopInput();
  }

  function onInputError(error: Error): void {
    runtimeError ??= error;
    stopInput();
  }

  function onOutputError(error: Error): void {
    runtimeError ??= error;
    // DEAD_LETTER_FAILED: the stream counted these as dead-lettered, but they never reached the file.
    if (error instanceof BackpressureError && error.code === ErrorCodes.DEAD_LETTER_FAILED) {
      notDeadLettered += error.items?.length ?? 0;
    }
    stopInput();
    abandon(error);
  }

  /** The drain deadline passed (or the stream failed): dead-letter whatever is still on its way. */
  function abandon(reason: Error): void {
    if (phase === Phase.ABANDONING || phase === Phase.DONE) return;
    phase = Phase.ABANDONING;
    splitter.unpipe(output);
    // Records the splitter still holds were read but never reached the stream: dead-letter them here,
    // in one batch once the splitter has ended (bounded: its buffers hold a few dozen KiB at most).
    splitter.on('data', (record: NdjsonRecord) => leftovers.push(record));
    splitter.once('end', () => {
      deadLetteredHere += leftovers.length;
      try {
        if (leftovers.length > 0) onDeadLetter(leftovers, reason);
      } catch {
        notDeadLettered += leftovers.length;
      }
    });
    splitter.resume(); // pipe() paused it while the stream was blocked; a new 'data' listener alone would not resume it
    if (!output.destroyed) output.destroy(); // the stream hands everything it holds to onDeadLetter
  }

  const untrapSignals = trapShutdownSignals({
    graceful(received) {
      signal ??= received;
      say(`backpressure: ${received}: stopped reading; draining for up to ${options.drainTimeoutMs} ms (send again to exit now)\n`);
      stopInput();
      drainDeadline = setTimeout(onDrainDeadline, options.drainTimeoutMs);
      // Insurance: if dead-lettering itself hangs, behave as if the signal came twice.
      // --drain-timeout is at most MAX_TIMER_MS; the insurance never waits past what a timer can (it would fire after 1 ms).
      setTimeout(forceExit, Math.min(options.drainTimeoutMs + FORCE_EXIT_GRACE_MS, MAX_TIMER_MS), received).unref();
    },
    immediate: forceExit,
  });

  function onDrainDeadline(): void {
    abandon(new BackpressureError(ErrorCodes.DRAIN_TIMEOUT, `not delivered within --drain-timeout ${options.drainTimeoutMs} ms`));
  }

  /** Second signal (or a drain that hangs): report what is still unaccounted for, and go. */
  function forceExit(received: NodeJS.Signals): void {
    const summary = currentSummary();
    say(`backpressure: ${received}: exiting now without draining; ${summary.lost} records neither delivered nor dead-lettered\n`);
    if (options.stats) say(formatSummary(summary));
    exit(signalExitCode(received));
  }

  function currentSummary(): RunSummary {
    const metrics: BackpressureMetrics = output.getMetrics();
    return summarize(splitter.getMetrics(), metrics, deadLetteredHere - notDeadLettered, performance.now() - startedAt, possiblyUndelivered);
  }

  splitter.on('invalid', onInvalid);
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
  if (drainDeadline !== undefined) clearTimeout(drainDeadline);
  untrapSignals();
  const abandoned = (phase as Phase) === Phase.ABANDONING;
  phase = Phase.DONE;
  if (abandoned) {
    // Everything left was dead-lettered; a write cut off mid-way may still sit in the sink
    // (stdout whose reader stopped reading), and waiting for it is exactly what the deadline ruled out.
    sink.close().catch(() => undefined);
  } else {
    try {
      await sink.close();
    } catch (err) {
      if (sinkGone === undefined) runtimeError ??= err as Error; // a gone sink is reported once, below
    }
  }
  deadLetter?.close();
  progress?.stop();
  invalidLog.close();
  undeliverableLog.close();

  const failure = splitter.failure;
  const { messages, exitCode } = outcomeOf({
    summary: currentSummary(),
    signal,
    invalidStop: failure === undefined ? undefined : { line: failure.line, reason: failure.reason },
    sinkGone: sinkGone === undefined ? undefined : { sink: sink.description, message: describeError(sinkGone) },
    runtimeError: runtimeError === undefined ? undefined : describeError(runtimeError),
    deadLetterPath: deadLetter?.path,
  });
  for (const message of messages) say(`backpressure: ${message}\n`);
  if (options.stats) say(formatSummary(currentSummary()));
  return exitCode;
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
