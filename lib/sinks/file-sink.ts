import { createWriteStream } from 'node:fs';
import { StreamSink } from './stream-sink';

/**
 * Appends lines to a file (`flags: 'a'`: never truncates what is there), one
 * write per batch, respecting the file stream's backpressure. A batch resolves
 * once its bytes were handed to the OS (no fsync). `close()` flushes and closes
 * the file descriptor.
 *
 * Errors (cannot open: ENOENT, EACCES, EISDIR; ENOSPC while writing) reject the
 * pending and all later writes with ERR_SINK_WRITE_FAILED (not retryable: the
 * stream is destroyed).
 */
export function createFileSink(path: string): StreamSink {
  const stream = createWriteStream(path, { flags: 'a' });
  return new StreamSink(stream, { description: `file:${path}`, endOnClose: true });
}
