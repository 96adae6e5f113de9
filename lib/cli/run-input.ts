import {
  createNdjsonSplitter,
  type InvalidLine,
  type NdjsonRecord,
  type NdjsonSplitter,
  type TruncatedLine,
} from '../ndjson/ndjson-splitter';
import type { NdjsonError } from '../ndjson/ndjson-errors';
import type { NdjsonSplitterMetrics } from '../ndjson/ndjson-splitter';
import { finished } from '../util/stream-classes';
import type { InputSide } from './input-side';
import type { CliOptions } from './parse-args';
import { Phase, type RunState } from './run-state';

/**
 * The input side of a run: stdin into the NDJSON splitter, and the splitter into the stream.
 * It reports invalid and cut-off lines, stops reading when told to, and, when the run gives up
 * on delivery, dead-letters the records the splitter still holds.
 */
export class RunInput implements InputSide {
  readonly splitter: NdjsonSplitter;
  /** Lines read from stdin are acknowledged by nobody: the pipe took them. */
  readonly onSettled = undefined;
  /** What stdin's writer sent is gone from it once read. */
  readonly keepsUndelivered = undefined;
  readonly #state: RunState;
  readonly #input: NodeJS.ReadableStream;
  readonly #leftovers: NdjsonRecord[] = [];

  constructor(state: RunState, input: NodeJS.ReadableStream, options: CliOptions) {
    this.#state = state;
    this.#input = input;
    this.splitter = createNdjsonSplitter({
      maxLineBytes: options.maxLineBytes,
      keepValue: options.strategy === 'priority',
      onInvalid: options.invalid,
      // Records in input order, consumed in order: they can share the input's chunks (no copy per
      // line, and batches written as slices of them). The dropping strategies keep sparse subsets,
      // which would keep whole chunks alive for a few records: those copy.
      sharedBytes: options.strategy === 'block',
    });
  }

  getMetrics(): NdjsonSplitterMetrics {
    return this.splitter.getMetrics();
  }

  get failure(): NdjsonError | undefined {
    return this.splitter.failure;
  }

  finish(): Promise<void> {
    return Promise.resolve();
  }

  redisCounts(): undefined {
    return undefined;
  }

  /** Listens to both ends and starts the flow: stdin → splitter → `output`. */
  start(output: NodeJS.WritableStream): void {
    const onInputError = (error: Error): void => {
      this.#state.fail(error);
      this.stop();
    };
    this.splitter.on('invalid', (invalid: InvalidLine) => this.#onInvalid(invalid));
    this.splitter.on('truncated', (truncated: TruncatedLine) => this.#onTruncated(truncated));
    this.splitter.on('error', onInputError);
    this.#input.on('error', onInputError);
    // Input EOF: the splitter ends, and pipe() ends the stream, which drains.
    this.#input.on('end', () => {
      if (this.#state.phase === Phase.READING) this.#state.phase = Phase.DRAINING;
    });
    this.#input.pipe(this.splitter).pipe(output);
  }

  /** Stops reading stdin; what the splitter already holds still flows out and is delivered. */
  stop(): void {
    if (this.#state.phase !== Phase.READING) return;
    this.#state.phase = Phase.DRAINING;
    this.#input.unpipe(this.splitter);
    this.#input.pause();
    // A stop, not EOF: a line read only in part is reported as truncated-at-stop, not as invalid.
    this.splitter.stop();
  }

  /**
   * The run gave up on delivery: stop feeding `output`. Records the splitter still holds were read
   * but never reached the stream: dead-letter them here, in one batch once the splitter has ended
   * (bounded: its buffers hold a few dozen KiB at most).
   */
  divert(
    output: NodeJS.WritableStream,
    onDeadLetter: (records: NdjsonRecord[], error: Error) => void,
    reason: Error,
  ): void {
    this.splitter.unpipe(output);
    this.splitter.on('data', (record: NdjsonRecord) => this.#leftovers.push(record));
    this.splitter.once('end', () => {
      this.#state.deadLetteredHere += this.#leftovers.length;
      if (this.#leftovers.length > 0) onDeadLetter(this.#leftovers, reason);
    });
    this.splitter.resume(); // pipe() paused it while the stream was blocked; a new 'data' listener alone would not resume it
  }

  /** After divert(): lets the splitter's leftovers flow into the dead-letter path before counting. */
  async leftoversSettled(): Promise<void> {
    if (this.#state.phase !== Phase.ABANDONING || this.splitter.readableEnded) return;
    await new Promise<void>((resolve) => finished(this.splitter, { writable: false }, () => resolve()));
  }

  /** An invalid or cut-off line: losing its copy fails the run, but costs no record, so reading goes on. */
  #writeToDeadLetter(entry: InvalidLine | TruncatedLine): void {
    try {
      this.#state.deadLetter?.writeInvalid(entry);
    } catch (err) {
      this.#state.fail(err as Error);
    }
  }

  #onInvalid(invalid: InvalidLine): void {
    this.#state.invalidLog.log(
      invalid.reason,
      () => `line ${invalid.line}: ${invalid.reason}: ${JSON.stringify(invalid.excerpt)}`,
    );
    this.#writeToDeadLetter(invalid);
    // --invalid fail: the splitter has already ended its output after the last valid record.
    if (this.splitter.failure !== undefined) this.stop();
  }

  #onTruncated(truncated: TruncatedLine): void {
    const deadLetter = this.#state.deadLetter;
    this.#state.say(
      `backpressure: line ${truncated.line}: ${truncated.reason}: reading stopped after ${truncated.bytes.length} bytes of it: ${JSON.stringify(truncated.excerpt)}` +
        (deadLetter === undefined ? '\n' : ` (kept in ${deadLetter.path})\n`),
    );
    this.#writeToDeadLetter(truncated);
  }
}
