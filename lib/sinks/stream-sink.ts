import { noAbortListener, QueuedSink, type MapStreamFailure, type QueuedWrite, type SinkStream } from './queued-sink';
import { abortedError } from './sink-errors';

export { defaultStreamFailure, type SinkStream } from './queued-sink';

export interface StreamSinkOptions {
  /** Shown in logs and error messages; must already be redacted. @default 'stream' */
  description?: string;
  /** `close()` ends the stream and waits until it has finished/closed (files, child stdin). `false` for stdout, which must stay open. @default true */
  endOnClose?: boolean;
  /**
   * Turns a stream error (or, with `undefined`, the stream closing before `close()`) into the
   * sink's failure. Return `undefined` to defer: pending writes stay pending until the owner
   * calls `fail()` (the exec sink waits for the child's exit status this way).
   * @default EPIPE/destroyed/write-after-end → ERR_SINK_CLOSED, anything else → ERR_SINK_WRITE_FAILED
   */
  mapFailure?: MapStreamFailure;
}

interface PendingWrite extends QueuedWrite {
  readonly data: Buffer;
  written: boolean;
  needsDrain: boolean;
}

/**
 * A `LineSink` over any Writable. One `stream.write()` per batch; batches are
 * written one at a time, each resolving once the stream's callback reports it
 * written AND, if `write()` returned false, after `'drain'` — so the sink never
 * piles data into the stream's buffer beyond one batch.
 *
 * An abort (`ctx.signal`) cancels a batch still queued; a batch already handed
 * to the stream cannot be taken back, so its promise rejects with
 * ERR_SINK_ABORTED while the bytes may still arrive (at-least-once: the core's
 * retry may deliver it twice). Order is kept: the next batch waits for it.
 *
 * `stopAtRecordBoundary()` hands the stream nothing more and waits for the batch it is writing.
 * Batches go to the stream whole, so this sink cannot stop inside one: `false` means part of it
 * may never arrive. A reader that must only ever get whole lines needs `FdSink`.
 */
export class StreamSink extends QueuedSink<PendingWrite> {
  constructor(stream: SinkStream, options: StreamSinkOptions = {}) {
    super(stream, {
      description: options.description ?? 'stream',
      endOnClose: options.endOnClose ?? true,
      mapFailure: options.mapFailure,
    });
    stream.on('drain', this.#onDrain);
  }

  protected override createWrite(
    _lines: Buffer[],
    data: Buffer,
    resolve: () => void,
    reject: (err: Error) => void,
  ): PendingWrite {
    const pending: PendingWrite = {
      data,
      resolve,
      reject,
      onAbort: (reason) => this.#abort(pending, reason),
      offAbort: noAbortListener,
      settled: false,
      written: false,
      needsDrain: false,
    };
    return pending;
  }

  protected override pump(): void {
    while (this.current === undefined && this.failure === undefined) {
      const next = this.stopped ? undefined : this.queue.shift(); // stopped: queued batches stay unsettled
      if (next === undefined) {
        this.notifyIdle();
        return;
      }
      if (next.settled) continue; // aborted while queued: never written
      this.current = next;
      next.needsDrain = !this.stream.write(next.data, (err?: Error | null) => this.#onWritten(next, err));
    }
  }

  #onWritten(pending: PendingWrite, err: Error | null | undefined): void {
    if (err !== undefined && err !== null) {
      this.onStreamError(err);
      return;
    }
    pending.written = true;
    this.#maybeDone(pending);
  }

  #maybeDone(pending: PendingWrite): void {
    if (this.current !== pending || !pending.written || pending.needsDrain) return;
    this.current = undefined;
    this.settle(pending, undefined);
    this.pump();
  }

  #abort(pending: PendingWrite, reason: unknown): void {
    if (pending.settled) return;
    pending.settled = true;
    pending.offAbort();
    pending.reject(abortedError(this.description, reason));
    // QUEUED: #pump skips it. WRITING: it stays current until the stream is done with it, keeping order.
  }

  readonly #onDrain = (): void => {
    const current = this.current;
    if (current === undefined || !current.needsDrain) return;
    current.needsDrain = false;
    this.#maybeDone(current);
  };
}

/** A `LineSink` over any Writable (see `StreamSink`). */
export function createStreamSink(stream: SinkStream, options: StreamSinkOptions = {}): StreamSink {
  return new StreamSink(stream, options);
}
