import type { DeadLetterFile } from '../sinks/dead-letter-file';
import type { ProgressLine } from './progress';
import { RateLimitedLog } from './rate-limited-log';
import type { CliIo } from './stdio';

/**
 * Where a run is. One field, advanced only forwards, so that late events
 * (a second error, a signal during the final summary) cannot re-run a phase.
 */
export const Phase = {
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
export type Phase = (typeof Phase)[keyof typeof Phase];

/**
 * What one run knows about itself, shared by its input side, its sink side, its shutdown wiring
 * and its summary: the phase, how it failed, the counts only the CLI keeps, and where it reports.
 */
export class RunState {
  phase: Phase = Phase.READING;
  signal: NodeJS.Signals | undefined;
  sinkGone: Error | undefined;
  runtimeError: Error | undefined;
  /** Read, valid, but never handed to the stream: the drain deadline passed first. */
  deadLetteredHere = 0;
  /** Flushed into a pipe whose reader then died (see RunOutput's onSinkGone). */
  possiblyUndelivered = 0;
  /** Given up on (counted as dead-lettered by the stream), but --dead-letter could not take them: lost. */
  notDeadLettered = 0;
  /** Set once the sink was told to stop at a record boundary: its CLOSED rejections are ours, not a vanished reader. */
  sinkStopping = false;
  /** Set by forceExit: settles once it has printed its report (and called `exit`, which normally does not return). */
  forced: Promise<number> | undefined;
  drainDeadline: NodeJS.Timeout | undefined;
  deadLetter: DeadLetterFile | undefined;
  /** The live progress line, when there is one (set once the parts it reads exist). */
  progress: ProgressLine | undefined;
  readonly invalidLog: RateLimitedLog;
  readonly undeliverableLog: RateLimitedLog;
  readonly #stderr: NodeJS.WritableStream;

  constructor(io: CliIo) {
    this.#stderr = io.stderr;
    const write = (text: string): void => this.say(text);
    this.invalidLog = new RateLimitedLog({ write, noun: 'invalid lines' });
    this.undeliverableLog = new RateLimitedLog({ write, noun: 'undeliverable batches' });
  }

  /** Every stderr message goes through here, so it never lands in the middle of the progress line. */
  say(text: string): void {
    this.progress?.clear();
    this.#stderr.write(text);
  }

  /** Keeps the first runtime failure: it is the one the run reports. */
  fail(error: Error): void {
    this.runtimeError ??= error;
  }
}
