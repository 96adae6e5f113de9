import { FdSink, writableFd } from './fd-sink';
import { StreamSink, type SinkStream } from './stream-sink';

export interface StdoutSinkOptions {
  /** The stream to write to (tests pass their own). @default process.stdout */
  stream?: SinkStream;
}

/**
 * The default sink: lines to standard output, respecting its backpressure
 * (a slow `| consumer` slows the whole pipeline down instead of growing memory).
 *
 * On a real descriptor (process.stdout) it is an `FdSink`: the reader only ever receives whole
 * lines, and `stopAtRecordBoundary()` lets a shutdown finish the record in progress instead of
 * leaving the reader half of it. Any other stream gets a `StreamSink`.
 *
 * When the reader goes away (`| head -n 1`), writes reject with ERR_SINK_CLOSED
 * (not retryable): the CLI stops reading, reports and exits without a stack
 * trace. The sink's permanent 'error' listener keeps that EPIPE from crashing
 * the process. `close()` waits for pending batches but never ends stdout.
 */
export function createStdoutSink(options: StdoutSinkOptions = {}): FdSink | StreamSink {
  const stream = options.stream ?? process.stdout;
  const fd = writableFd(stream);
  if (fd !== undefined) return new FdSink(fd, stream, { description: 'stdout', endOnClose: false });
  return new StreamSink(stream, { description: 'stdout', endOnClose: false });
}
