import { ExitCode, signalExitCode } from './exit-codes';
import type { RunSummary } from './stats';

/** How a run ended, besides its counts. */
export interface RunEnding {
  summary: RunSummary;
  /** The first shutdown signal, if one arrived. */
  signal?: NodeJS.Signals | undefined;
  /** `--invalid fail` stopped at this line. */
  invalidStop?: { line: number | undefined; reason: string | undefined } | undefined;
  /** The sink went away (EPIPE, child exited, I/O error); its description and why. */
  sinkGone?: { sink: string; message: string } | undefined;
  /** Any other runtime failure (stdin error, dead-letter file failure, ...). */
  runtimeError?: string | undefined;
  /** Where undeliverable records were written, if anywhere. */
  deadLetterPath?: string | undefined;
  /** --buffer-dir, when given. */
  bufferDir?: string | undefined;
  /**
   * The input keeps what the run does not deliver (a Redis stream: not acknowledged, the entries
   * stay pending and are delivered again): its name. Undefined for stdin.
   */
  keptIn?: string | undefined;
}

/**
 * The closing stderr lines and the exit code of a run — the one place that
 * decides them, so that the exit-code table in docs/cli.md has a single source.
 */
export function outcomeOf(ending: RunEnding): { messages: string[]; exitCode: number } {
  const { summary } = ending;
  const messages: string[] = [];
  if (ending.invalidStop !== undefined) {
    messages.push(
      `stopped at line ${ending.invalidStop.line ?? '?'}: ${ending.invalidStop.reason ?? 'invalid'} (--invalid fail)`,
    );
  }
  if (ending.sinkGone !== undefined) messages.push(`sink ${ending.sinkGone.sink} is gone: ${ending.sinkGone.message}`);
  if (ending.runtimeError !== undefined) messages.push(ending.runtimeError);
  if (summary.deadLettered > 0) {
    messages.push(
      ending.deadLetterPath !== undefined
        ? `${summary.deadLettered} records undeliverable, written to ${ending.deadLetterPath}`
        : ending.keptIn !== undefined
          ? `${summary.deadLettered} records undeliverable, left pending in ${ending.keptIn} to be delivered again (no --dead-letter given)`
          : `${summary.deadLettered} records undeliverable and discarded (no --dead-letter given)`,
    );
  }
  const redis = summary.redis;
  if (redis !== undefined && redis.leftPending > 0)
    messages.push(
      `${redis.leftPending} records read but not delivered, left pending in ${ending.keptIn ?? 'the stream'}`,
    );
  if (redis !== undefined && redis.poison > 0) {
    messages.push(
      ending.deadLetterPath !== undefined
        ? `${redis.poison} entries delivered more than maxDeliveries times, written to ${ending.deadLetterPath} as poison`
        : `${redis.poison} entries delivered more than maxDeliveries times, left pending in ${ending.keptIn ?? 'the stream'} (no --dead-letter given)`,
    );
  }
  if ((summary.corrupt ?? 0) > 0) {
    messages.push(
      ending.deadLetterPath !== undefined
        ? `${summary.corrupt} records in --buffer-dir were damaged, their raw bytes written to ${ending.deadLetterPath}`
        : `${summary.corrupt} records in --buffer-dir were damaged and skipped (no --dead-letter given)`,
    );
  }
  if (summary.lost !== 0) messages.push(`${summary.lost} records were neither delivered nor dead-lettered`);
  if ((summary.itemsOnDisk ?? 0) > 0 && ending.bufferDir !== undefined) {
    messages.push(
      `${summary.itemsOnDisk} records left in --buffer-dir ${ending.bufferDir}: the next run on it delivers them first`,
    );
  }

  let exitCode: number = ExitCode.OK;
  if (ending.signal !== undefined) {
    exitCode = signalExitCode(ending.signal);
  } else if (
    ending.invalidStop !== undefined ||
    ending.sinkGone !== undefined ||
    ending.runtimeError !== undefined ||
    summary.deadLettered > 0 ||
    (summary.corrupt ?? 0) > 0 ||
    summary.lost !== 0 ||
    (redis !== undefined && (redis.leftPending > 0 || redis.poison > 0 || redis.unacknowledged > 0))
  ) {
    // Drops under a drop strategy are not here on purpose: they are the strategy working.
    exitCode = ExitCode.FAILURE;
  }
  return { messages, exitCode };
}
