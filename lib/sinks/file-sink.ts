import { createWriteStream, statSync, writeSync, type WriteStream } from 'node:fs';
import { noAbortListener, QueuedSink, type QueuedWrite } from './queued-sink';
import { abortedError } from './sink-errors';
import { StreamSink } from './stream-sink';

interface FileWrite extends QueuedWrite {
  readonly data: Buffer;
}

/**
 * A `LineSink` appending to a regular file with one `writeSync` per batch on the file's descriptor:
 * the batch is in the OS (the page cache, as with any write without fsync) when its promise
 * resolves, with no round trip through the thread pool between one batch and the next — the same
 * way the CLI writes to its stdout when that is redirected to a file, and as fast. A write to a
 * regular file does not wait for a reader; it can only wait for the disk, as briefly as the
 * asynchronous write would have kept the batch in memory.
 *
 * The file is opened by a WriteStream (append, never truncates), so a file that cannot be opened
 * fails the writes, not the sink's creation: ERR_SINK_WRITE_FAILED, not retryable, as do write
 * errors (ENOSPC). `close()` waits for the batches written, then closes the file.
 */
export class FileSink extends QueuedSink<FileWrite> {
  #fd: number | undefined = undefined;

  constructor(stream: WriteStream, description: string) {
    super(stream, { description, endOnClose: true, mapFailure: undefined });
    stream.once('open', (fd: number) => {
      this.#fd = fd;
      this.pump();
    });
  }

  protected override createWrite(
    _lines: Buffer[],
    data: Buffer,
    resolve: () => void,
    reject: (err: Error) => void,
  ): FileWrite {
    const w: FileWrite = {
      data,
      resolve,
      reject,
      onAbort: (reason) => {
        // Only a queued batch can be aborted: a batch is written whole the moment it is started.
        this.settle(w, abortedError(this.description, reason));
      },
      offAbort: noAbortListener,
      settled: false,
    };
    return w;
  }

  protected override pump(): void {
    const fd = this.#fd;
    // Not open yet: the batches wait in the queue ('open' pumps them).
    while (fd !== undefined && this.failure === undefined && !this.stopped) {
      const w = this.queue.shift();
      if (w === undefined) break;
      if (w.settled) continue; // aborted while queued: never written
      try {
        for (let offset = 0; offset < w.data.length;) offset += writeSync(fd, w.data, offset, w.data.length - offset);
      } catch (err) {
        this.onStreamError(err as Error);
        return;
      }
      this.settle(w, undefined);
    }
    this.notifyIdle();
  }
}

/**
 * Appends lines to a file (`flags: 'a'`: never truncates what is there), one write per batch. A
 * batch resolves once its bytes were handed to the OS (no fsync). `close()` flushes and closes the
 * file descriptor. A regular file (or a path not there yet) gets a `FileSink`: synchronous writes,
 * no round trip per batch. Anything else (a FIFO, a device) gets a `StreamSink`, whose writes never
 * wait on a reader in the event loop.
 *
 * Errors (cannot open: ENOENT, EACCES, EISDIR; ENOSPC while writing) reject the pending and all
 * later writes with ERR_SINK_WRITE_FAILED (not retryable).
 */
export function createFileSink(path: string): FileSink | StreamSink {
  const description = `file:${path}`;
  const stream = createWriteStream(path, { flags: 'a' });
  let regular = true;
  try {
    regular = statSync(path).isFile();
  } catch {
    // Not there yet (open creates a regular file), or not reachable (open fails, and says why).
  }
  return regular ? new FileSink(stream, description) : new StreamSink(stream, { description, endOnClose: true });
}
