import { constants } from 'node:os';

/**
 * The CLI's exit codes. Scripts branch on these, so they are part of the
 * public interface and documented in docs/cli.md ("Shutdown and exit codes").
 */
export const ExitCode = {
  /** Every valid record was delivered, or dropped by the chosen strategy (drops are reported, not failures). */
  OK: 0,
  /**
   * A runtime or sink failure, an invalid line under `--invalid fail`, records that were dead-lettered, lost
   * or found damaged in `--buffer-dir`, or a `--buffer-dir` in use by another run or that cannot be opened
   * (then nothing was read or created: the same code as a `--dead-letter` file that cannot be opened).
   */
  FAILURE: 1,
  /** Bad flags or flag values: nothing was read. */
  USAGE: 2,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Shell convention for "terminated by signal N": 128 + N (SIGINT → 130, SIGTERM → 143). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? constants.signals.SIGTERM);
}
