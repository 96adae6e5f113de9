/**
 * What the schedule property tests (metrics-invariant, composition-invariants) share: fast-check
 * drives a harness through a random schedule of commands under fake timers, checking it after every
 * step, and a failing run can be replayed from its seed and path.
 */
import fc from 'fast-check';
import { settle } from './settle';

/** Replaying one failing run (FC_PATH): coverage tallies over "all runs" mean nothing then. */
export const REPLAYING = (process.env['FC_PATH'] ?? '') !== '';

/**
 * fast-check's parameters for `numRuns` runs, with FC_SEED (and FC_PATH) from the environment to
 * replay what a failing run printed: FC_SEED=<seed> FC_PATH=<path> npx jest <file> -t '<test name>'.
 */
export function fcParams(numRuns: number): fc.Parameters<unknown> {
  const params: fc.Parameters<unknown> = { numRuns };
  const seed = process.env['FC_SEED'];
  const path = process.env['FC_PATH'];
  if (seed !== undefined && seed !== '') params.seed = Number(seed);
  if (path !== undefined && path !== '') params.path = path;
  return params;
}

/** Every test of the file runs on fake timers; nextTick and microtasks stay real (the harnesses settle with them). */
export function useScheduleTimers(): void {
  beforeEach(() => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
  });
  afterEach(() => {
    jest.useRealTimers();
  });
}

/** A harness the runner drives: `check()` throws (through expect) on anything that must not be. */
export interface ScheduleHarness<Command> {
  check(): void;
  run(command: Command): Promise<void>;
}

/**
 * The schedule property: for a random config and up to `maxCommands` random commands, a fresh
 * harness (no timer left from the previous run) is checked once the streams settled, then after
 * every command, then `finish` ends it and checks the final account.
 */
export function scheduleProperty<Config, Command, H extends ScheduleHarness<Command>>(
  configArb: fc.Arbitrary<Config>,
  commandArb: fc.Arbitrary<Command>,
  maxCommands: number,
  create: (config: Config) => H,
  finish: (harness: H) => Promise<void>,
): fc.IAsyncPropertyWithHooks<[Config, Command[]]> {
  return fc.asyncProperty(
    configArb,
    fc.array(commandArb, { minLength: 1, maxLength: maxCommands, size: 'max' }),
    async (config, commands) => {
      jest.clearAllTimers();
      const harness = create(config);
      await settle(8);
      harness.check();
      for (const command of commands) {
        await harness.run(command);
        harness.check();
      }
      await finish(harness);
    },
  );
}

/** One flush attempt as a harness records it: settled by the test, or aborted by the stream. */
export interface RecordedCall {
  settled: boolean;
  signal: AbortSignal;
}

/** Attempts the stream is waiting on, oldest first (an aborted one has been given up on). */
export function pendingCalls<T extends RecordedCall>(calls: readonly T[]): T[] {
  return calls.filter((call) => !call.settled && !call.signal.aborted);
}

/**
 * The attempt a sink-side command acts on (`index` modulo how many are pending); if none is
 * pending yet, the next timer (flush interval, retry) fires first. `undefined`: still none.
 */
export async function pickPending<T extends RecordedCall>(calls: readonly T[], index: number): Promise<T | undefined> {
  if (pendingCalls(calls).length === 0 && jest.getTimerCount() > 0) {
    await jest.advanceTimersToNextTimerAsync();
    await settle(8);
  }
  const pending = pendingCalls(calls);
  return pending[index % Math.max(1, pending.length)];
}
