import { MAX_TIMER_MS } from '../core/options';
import { BackpressureError, ErrorCodes } from '../core/errors';
import { TERMINATE_GRACE_MS } from '../sinks/exec-sink';
import { signalExitCode } from './exit-codes';
import type { CliOptions } from './parse-args';
import type { RunInput } from './run-input';
import { partialRecordMessage, STUCK_READER_GRACE_MS, type RunOutput } from './run-output';
import { Phase, type RunState } from './run-state';
import { trapShutdownSignals } from './shutdown';
import { whenWritten, type CliIo } from './stdio';
import { formatSummary, type RunSummary } from './stats';

/**
 * After a signal, how long past `--drain-timeout` the CLI waits for the shutdown to finish before
 * exiting regardless (as if the signal came twice). Longer than the bounded waits of a shutdown
 * that works: finishing a line (STUCK_READER_GRACE_MS) and terminating an exec child
 * (2 × TERMINATE_GRACE_MS), so that it only ever cuts short one that hangs.
 */
const FORCE_EXIT_GRACE_MS = STUCK_READER_GRACE_MS + 2 * TERMINATE_GRACE_MS + 5_000;

/** A forced exit waits at most this long for its report to leave through stderr. */
const FORCED_REPORT_FLUSH_MS = 1_000;

/**
 * How a run stops early: the shutdown signals (drain for up to --drain-timeout, then give up; a
 * second signal exits at once), and giving up on delivery when the deadline passes or the stream
 * fails, so that everything still on its way is dead-lettered rather than lost.
 */
export class RunShutdown {
  readonly #state: RunState;
  readonly #options: CliOptions;
  readonly #io: CliIo;
  readonly #input: RunInput;
  readonly #output: RunOutput;
  readonly #summary: () => RunSummary;
  readonly #exit: (code: number) => never;

  constructor(
    state: RunState,
    options: CliOptions,
    io: CliIo,
    parts: { input: RunInput; output: RunOutput; summary: () => RunSummary },
  ) {
    this.#state = state;
    this.#options = options;
    this.#io = io;
    this.#input = parts.input;
    this.#output = parts.output;
    this.#summary = parts.summary;
    this.#exit = io.exit ?? ((code: number) => process.exit(code));
  }

  /** Installs the signal handlers; returns the function that removes them again. */
  trapSignals(): () => void {
    return trapShutdownSignals({
      graceful: (received) => this.#graceful(received),
      immediate: (received) => this.#forceExit(received),
    });
  }

  /** The stream failed (or was destroyed with an error): give up on what it still holds. */
  onOutputError(error: Error): void {
    this.#state.fail(error);
    // DEAD_LETTER_FAILED: the stream counted these as dead-lettered, but they never reached the file.
    // (onDeadLetter does not throw, so this is a safety net.)
    if (error instanceof BackpressureError && error.code === ErrorCodes.DEAD_LETTER_FAILED) {
      this.#state.notDeadLettered += error.items?.length ?? 0;
    }
    this.#input.stop();
    this.#abandon(error);
  }

  #graceful(received: NodeJS.Signals): void {
    const state = this.#state;
    const drainTimeoutMs = this.#options.drainTimeoutMs;
    state.signal ??= received;
    if (state.phase === Phase.DONE) {
      this.#exit(signalExitCode(received)); // the summary is out: nothing left to wait for
      return;
    }
    state.say(
      `backpressure: ${received}: stopped reading; draining for up to ${drainTimeoutMs} ms (send again to exit now)\n`,
    );
    this.#input.stop();
    state.drainDeadline = setTimeout(() => this.#onDrainDeadline(), drainTimeoutMs);
    // Insurance: if dead-lettering itself hangs, behave as if the signal came twice.
    // --drain-timeout is at most MAX_TIMER_MS; the insurance never waits past what a timer can (it would fire after 1 ms).
    const insuranceMs = Math.min(drainTimeoutMs + FORCE_EXIT_GRACE_MS, MAX_TIMER_MS);
    setTimeout(() => this.#forceExit(received), insuranceMs).unref();
  }

  #onDrainDeadline(): void {
    const drainTimeoutMs = this.#options.drainTimeoutMs;
    if (this.#state.phase === Phase.CLOSING) {
      // Everything is accounted for; an exec child is still finishing after its EOF. The deadline
      // covers it too: end it.
      void this.#output.terminateChild(`did not finish within --drain-timeout ${drainTimeoutMs} ms`);
      return;
    }
    this.#abandon(
      new BackpressureError(ErrorCodes.DRAIN_TIMEOUT, `not delivered within --drain-timeout ${drainTimeoutMs} ms`),
    );
  }

  /** The drain deadline passed (or the stream failed): dead-letter whatever is still on its way. */
  #abandon(reason: Error): void {
    const phase = this.#state.phase;
    if (phase === Phase.ABANDONING || phase === Phase.CLOSING || phase === Phase.DONE) return;
    this.#state.phase = Phase.ABANDONING;
    const stream = this.#output.stream;
    this.#input.divert(stream, (records, error) => this.#output.onDeadLetter(records, error), reason);
    // The stream hands everything it holds to onDeadLetter, and aborts the writes in progress: a
    // pipe sink finishes the line it is in and writes nothing more of them.
    if (!stream.destroyed) stream.destroy();
  }

  /**
   * A second signal, SIGQUIT, or a drain that hangs: report what is still unaccounted for, and go.
   * Even now the reader is not left with part of a line: the record being written is finished
   * first (bounded by STUCK_READER_GRACE_MS). A further signal while that waits exits at once.
   */
  #forceExit(received: NodeJS.Signals): void {
    const state = this.#state;
    state.signal ??= received;
    if (state.forced !== undefined || state.phase === Phase.DONE) {
      this.#exit(signalExitCode(received));
      return;
    }
    state.forced = this.#output.stopAtRecordBoundary().then((whole) => this.#reportForcedExit(received, whole));
  }

  async #reportForcedExit(received: NodeJS.Signals, whole: boolean): Promise<number> {
    this.#output.killChild(received);
    const summary = this.#summary();
    const say = (text: string): void => this.#state.say(text);
    say(
      `backpressure: ${received}: exiting now without draining; ${summary.lost} records neither delivered nor dead-lettered\n`,
    );
    if (!whole) say(`backpressure: ${partialRecordMessage(this.#output.sink)}\n`);
    if (this.#options.stats) say(formatSummary(summary));
    const code = signalExitCode(received);
    // The report must not be lost in a full stderr pipe (bounded: a stuck reader is not waited for).
    await whenWritten([this.#io.stderr], FORCED_REPORT_FLUSH_MS);
    this.#exit(code);
    return code;
  }
}
