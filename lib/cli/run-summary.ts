import { describeError } from './error-text';
import { outcomeOf } from './outcome';
import type { CliOptions } from './parse-args';
import { ProgressLine } from './progress';
import type { RunInput } from './run-input';
import type { RunOutput } from './run-output';
import type { RunState } from './run-state';
import type { CliIo } from './stdio';
import { formatSummary, summarize, type RunSummary } from './stats';

/** The live progress line, when asked for (`--progress`) or when stderr is a terminal. */
export function createProgress(
  options: CliOptions,
  io: CliIo,
  input: RunInput,
  output: RunOutput,
): ProgressLine | undefined {
  if (!(options.progress ?? io.stderr.isTTY === true)) return undefined;
  return new ProgressLine({
    write: (text) => io.stderr.write(text),
    snapshot: () => {
      const m = output.stream.getMetrics();
      const s = input.splitter.getMetrics();
      return {
        lines: s.valid + s.invalid + s.truncated,
        state: m.state,
        bufferSize: m.bufferSize,
        bufferUtilization: m.bufferUtilization,
        dropped: m.eventsDropped,
        deadLettered: m.eventsDeadLettered,
      };
    },
    columns: () => terminalColumns(io),
  });
}

/** The run's counts as they stand now: the splitter's, the stream's, and the ones only the CLI keeps. */
export function currentSummary(state: RunState, input: RunInput, output: RunOutput, startedAt: number): RunSummary {
  return summarize(
    input.splitter.getMetrics(),
    output.stream.getMetrics(),
    state.deadLetteredHere - state.notDeadLettered,
    performance.now() - startedAt,
    state.possiblyUndelivered,
  );
}

/**
 * How the run ended: its exit code, and `report()`, which prints its closing messages and, with
 * `--stats`, the summary (not called after a forced exit, which reports on its own).
 */
export function outcomeOfRun(
  state: RunState,
  options: CliOptions,
  parts: { input: RunInput; output: RunOutput },
  summary: RunSummary,
): { exitCode: number; report: () => void } {
  const failure = parts.input.splitter.failure;
  const { sinkGone, runtimeError } = state;
  const { messages, exitCode } = outcomeOf({
    summary,
    signal: state.signal,
    invalidStop: failure === undefined ? undefined : { line: failure.line, reason: failure.reason },
    sinkGone:
      sinkGone === undefined ? undefined : { sink: parts.output.sink.description, message: describeError(sinkGone) },
    runtimeError: runtimeError === undefined ? undefined : describeError(runtimeError),
    deadLetterPath: state.deadLetter?.path,
  });
  const report = (): void => {
    for (const message of messages) state.say(`backpressure: ${message}\n`);
    if (options.stats) state.say(formatSummary(summary));
  };
  return { exitCode, report };
}

/** The terminal's width for the progress line: stderr's own, else `COLUMNS` (set by shells, and by tests). */
function terminalColumns(io: CliIo): number | undefined {
  if (typeof io.stderr.columns === 'number' && io.stderr.columns > 0) return io.stderr.columns;
  const fromEnv = Number((io.env ?? process.env)['COLUMNS']);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : undefined;
}
