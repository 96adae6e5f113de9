import { StreamSink, type SinkStream } from './stream-sink';

export interface StdoutSinkOptions {
  /** The stream to write to (tests pass their own). @default process.stdout */
  stream?: SinkStream;
}

/**
 * The default sink: lines to standard output, respecting its backpressure
 * (a slow `| consumer` slows the whole pipeline down instead of growing memory).
 *
 * When the reader goes away (`| head -n 1`), writes reject with ERR_SINK_CLOSED
 * (not retryable): the CLI stops reading, reports and exits without a stack
 * trace. The sink's permanent 'error' listener keeps that EPIPE from crashing
 * the process. `close()` waits for pending batches but never ends stdout.
 */
export function createStdoutSink(options: StdoutSinkOptions = {}): StreamSink {
  return new StreamSink(options.stream ?? process.stdout, { description: 'stdout', endOnClose: false });
}
