import type { SettledHandler } from '../core/options';
import type { NdjsonError } from '../ndjson/ndjson-errors';
import type { NdjsonRecord, NdjsonSplitterMetrics } from '../ndjson/ndjson-splitter';
import type { CliOutput } from './build-output';
import type { RedisRunCounts } from './stats';

/**
 * Where a run reads its records from: stdin through the NDJSON splitter (`RunInput`), or a Redis
 * stream through a consumer group (`RedisRunInput`). The rest of the run sees only this.
 */
export interface InputSide {
  /** The input's counts (valid, invalid, …), in the splitter's shape. */
  getMetrics(): NdjsonSplitterMetrics;
  /** `--invalid fail` stopped at this record. */
  readonly failure: NdjsonError | undefined;
  /** For the stream's `onSettled`: an input that acknowledges what was delivered (Redis). */
  readonly onSettled: SettledHandler<NdjsonRecord> | undefined;
  /**
   * For an input whose records are not lost when the run does not deliver them (they stay pending
   * in a Redis stream): its name, for the closing messages.
   */
  readonly keepsUndelivered: string | undefined;
  /** Starts the flow of records into `output`. */
  start(output: CliOutput): void;
  /** Stops reading; what was read still flows out and is delivered. */
  stop(): void;
  /** The run gave up on delivery: stop feeding `output`; what is still on its way is accounted for. */
  divert(output: CliOutput, onDeadLetter: (records: NdjsonRecord[], error: Error) => void, reason: Error): void;
  /** After divert(): resolves once what was on its way is accounted for. */
  leftoversSettled(): Promise<void>;
  /** Once the stream finished and the sink closed: the last acknowledgements, connections closed. */
  finish(): Promise<void>;
  /** The `redis` part of `--stats`, for a Redis input. */
  redisCounts(): RedisRunCounts | undefined;
}
