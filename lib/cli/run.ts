import { parseSinkSpec, type SinkSpec } from '../sinks/create-sink';
import { isSinkError, SinkErrorCodes } from '../sinks/sink-errors';
import { finished } from '../util/stream-classes';
import type { CliOutput } from './build-output';
import { ExitCode } from './exit-codes';
import type { CliOptions } from './parse-args';
import { UsageError } from './parse-args';
import { RunInput } from './run-input';
import { RunOutput } from './run-output';
import { RunShutdown } from './run-shutdown';
import { Phase, RunState } from './run-state';
import { createProgress, currentSummary, outcomeOfRun } from './run-summary';
import type { CliIo } from './stdio';

export type { CliIo } from './stdio';

/**
 * Runs the CLI's one job: NDJSON from `io.stdin`, through `backpressure()`, to
 * the sink. Pure wiring of library parts; returns the exit code.
 *
 * Order matters: everything that can be a usage error (the sink spec, every option value, the
 * library's own validation of them) is checked before anything is created, opened, spawned or read.
 */
export async function run(options: CliOptions, io: CliIo): Promise<number> {
  const startedAt = performance.now();
  const sinkSpec = parseSinkOption(options.sink);
  const state = new RunState(io);
  const input = new RunInput(state, io.stdin, options);
  const output = new RunOutput(state, input, options);
  state.progress = createProgress(options, io, input, output);
  if (!output.open(sinkSpec, options, io)) return ExitCode.FAILURE;
  const summary = () => currentSummary(state, input, output, startedAt);
  const shutdown = new RunShutdown(state, options, io, { input, output, summary });
  const untrapSignals = shutdown.trapSignals();

  state.progress?.start();
  input.start(output.stream);
  // Settles when the stream finished (everything accounted) or was destroyed.
  await streamSettled(output.stream, (error) => shutdown.onOutputError(error));
  await input.leftoversSettled();
  state.phase = Phase.CLOSING;
  // Signal handlers stay installed until the summary is out: a Ctrl-C while the sink closes still
  // gets a summary (and, for an exec child that does not finish, ends it at the drain deadline).
  await output.finish();
  if (state.drainDeadline !== undefined) clearTimeout(state.drainDeadline);
  state.deadLetter?.close();
  state.progress?.stop();
  state.invalidLog.close();
  state.undeliverableLog.close();

  const outcome = outcomeOfRun(state, options, { input, output }, summary());
  if (state.forced !== undefined) return await state.forced; // forceExit reports and exits on its own
  outcome.report();
  state.phase = Phase.DONE;
  untrapSignals();
  return outcome.exitCode;
}

/** The --sink value, parsed before anything is created: a bad one is a usage error. */
function parseSinkOption(sink: string): SinkSpec {
  try {
    return parseSinkSpec(sink);
  } catch (err) {
    if (isSinkError(err, SinkErrorCodes.INVALID_SPEC)) throw new UsageError(`--sink: ${(err as Error).message}`);
    throw err;
  }
}

/** Resolves once `stream` finished or was destroyed; an error other than a premature close goes to `onError` first. */
function streamSettled(stream: CliOutput, onError: (error: Error) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    finished(stream, (err) => {
      if (err && !isPrematureClose(err)) onError(err);
      resolve();
    });
  });
}

function isPrematureClose(err: Error): boolean {
  return (err as { code?: unknown }).code === 'ERR_STREAM_PREMATURE_CLOSE';
}
