import { finished } from '../util/stream-classes';
import { RingBuffer } from '../util/ring-buffer';
import { joinLines, type LineSink, type SinkWriteContext } from './line-sink';
import { abortedError, SinkError, SinkErrorCodes } from './sink-errors';

/** The part of a Writable the sink uses (Node core and readable-stream streams both fit). */
export type SinkStream = NodeJS.WritableStream;

/** Turns a stream error (or, with `undefined`, the stream closing early) into a sink's failure; `undefined` defers it. */
export type MapStreamFailure = (error: Error | undefined, description: string) => SinkError | undefined;

/** Error codes that mean "the reader went away", as opposed to an I/O fault. */
const CLOSED_CODES = new Set([
  'EPIPE',
  'ECONNRESET',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

export function defaultStreamFailure(error: Error | undefined, description: string): SinkError {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (error === undefined || (typeof code === 'string' && CLOSED_CODES.has(code))) {
    const why = typeof code === 'string' ? code : 'stream closed';
    return new SinkError(SinkErrorCodes.CLOSED, `${description}: downstream closed (${why})`, {
      retryable: false,
      cause: error,
    });
  }
  const why = typeof code === 'string' ? code : error.message;
  return new SinkError(SinkErrorCodes.WRITE_FAILED, `${description}: write failed (${why})`, {
    retryable: false,
    cause: error,
  });
}

/** One batch in a `QueuedSink`: its promise and the abort listener to remove once it is settled. */
export interface QueuedWrite {
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  /** Called with the reason when the attempt is aborted. */
  readonly onAbort: (reason: unknown) => void;
  /** Removes `onAbort` (set by `write`). */
  offAbort: () => void;
  /** The promise was settled (aborted, or the sink failed): the batch's promise is not touched again. */
  settled: boolean;
}

/** What a `QueuedSink` is told at construction. */
export interface QueuedSinkOptions {
  description: string;
  /** `close()` ends the stream and waits until it has finished. */
  endOnClose: boolean;
  mapFailure: MapStreamFailure | undefined;
}

/**
 * What `StreamSink` and `FdSink` share: one batch written at a time, in order, from a queue over
 * one stream; a failure (the stream's error, or its closing before `close()`) that rejects the batch
 * being written, every queued one and every later write; `stopAtRecordBoundary()`, which starts
 * nothing more and waits (bounded) for the batch in progress; and `close()`, which waits for the
 * queue, then ends the stream if asked to. How a batch reaches the stream is the subclass's `pump`.
 *
 * A permanent `'error'` listener is attached at construction, so an EPIPE on process.stdout can
 * never become an uncaught exception.
 */
export abstract class QueuedSink<W extends QueuedWrite> implements LineSink {
  readonly description: string;
  protected readonly stream: SinkStream;
  protected readonly mapFailure: MapStreamFailure;
  protected readonly queue = new RingBuffer<W>();
  /** The batch being written, if any. */
  protected current: W | undefined = undefined;
  /** stopAtRecordBoundary() was called: start no batch (and, where the sink can tell, no record). */
  protected stopped = false;
  readonly #endOnClose: boolean;
  #failure: SinkError | undefined = undefined;
  #closing = false;
  #closePromise: Promise<void> | undefined = undefined;
  #idle: (() => void) | undefined = undefined;

  constructor(stream: SinkStream, options: QueuedSinkOptions) {
    this.description = options.description;
    this.stream = stream;
    this.#endOnClose = options.endOnClose;
    this.mapFailure = options.mapFailure ?? defaultStreamFailure;
    stream.on('error', this.onStreamError);
    stream.on('close', this.#onClose);
  }

  /** The failure that ended this sink, if any. */
  get failure(): SinkError | undefined {
    return this.#failure;
  }

  write(lines: Buffer[], ctx: SinkWriteContext, joined?: Buffer): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#closing || this.stopped) {
      const after = this.#closing ? 'close()' : 'stopAtRecordBoundary()';
      return Promise.reject(
        new SinkError(SinkErrorCodes.CLOSED, `${this.description}: write after ${after}`, { retryable: false }),
      );
    }
    const aborted = ctx.onAbort === undefined ? ctx.signal.aborted : ctx.aborted === true;
    if (aborted) return Promise.reject(abortedError(this.description, abortReason(ctx)));
    if (lines.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w = this.createWrite(lines, joined ?? joinLines(lines), resolve, reject);
      w.offAbort = listenForAbort(ctx, w.onAbort);
      this.queue.push(w);
      this.pump();
    });
  }

  /**
   * For a process about to go: starts nothing more and waits, at most `timeoutMs`, for what is in
   * progress (see the subclass for how much that is). Queued batches are left unsettled (the
   * caller, which is exiting or closing, accounts for them as not delivered: settling them now
   * would let a retry policy act on them); later writes reject with ERR_SINK_CLOSED. Resolves
   * `true` once nothing is in progress, `false` if `timeoutMs` passed first.
   */
  stopAtRecordBoundary(timeoutMs: number): Promise<boolean> {
    if (!this.stopped) {
      this.stopped = true;
      this.pump(); // at a boundary already: done now
    }
    if (this.current === undefined || this.#failure !== undefined) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(this.current === undefined), timeoutMs);
      this.#whenIdle(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Waits for the pending writes, then ends the stream (if `endOnClose`). Rejects with the sink's failure, if it had one. */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  /** Ends the sink with `error`: the pending writes reject with it, as do later writes. */
  fail(error: SinkError): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    const current = this.current;
    this.current = undefined;
    if (current !== undefined) this.settle(current, error);
    for (let w = this.queue.shift(); w !== undefined; w = this.queue.shift()) this.settle(w, error);
    this.notifyIdle();
  }

  /** The queue entry for one batch; its `onAbort` settles it (and lets the sink move on). */
  /** `data`: the lines joined, each followed by '\n'. */
  protected abstract createWrite(lines: Buffer[], data: Buffer, resolve: () => void, reject: (err: Error) => void): W;

  /** Moves the queue on: writes what it can, settles what is done; calls `notifyIdle()` when it stops. */
  protected abstract pump(): void;

  protected settle(w: W, error: Error | undefined): void {
    w.offAbort();
    if (w.settled) return;
    w.settled = true;
    if (error === undefined) w.resolve();
    else w.reject(error);
  }

  /** Wakes close() and stopAtRecordBoundary() once nothing is in progress (or the sink failed). */
  protected notifyIdle(): void {
    const idle = this.#idle;
    if (idle === undefined) return;
    if (this.#failure === undefined && (this.current !== undefined || (this.queue.size > 0 && !this.stopped))) return;
    this.#idle = undefined;
    idle();
  }

  protected readonly onStreamError = (err: Error): void => {
    if (this.#failure !== undefined) return;
    const failure = this.mapFailure(err, this.description);
    if (failure !== undefined) this.fail(failure);
  };

  #whenIdle(callback: () => void): void {
    const previous = this.#idle;
    this.#idle = () => {
      previous?.();
      callback();
    };
  }

  async #close(): Promise<void> {
    this.#closing = true;
    if (this.current !== undefined || this.queue.size > 0) {
      await new Promise<void>((resolve) => this.#whenIdle(resolve));
    }
    if (this.#failure !== undefined) throw this.#failure;
    if (!this.#endOnClose) return;
    const stream = this.stream;
    await new Promise<void>((resolve, reject) => {
      finished(stream as never, (err) => {
        // The 'error' listener has already turned a stream error into #failure.
        if (this.#failure !== undefined) reject(this.#failure);
        else if (err !== undefined && err !== null) reject(this.mapFailure(err, this.description) ?? err);
        else resolve();
      });
      stream.end();
    });
  }

  readonly #onClose = (): void => {
    if (this.#failure !== undefined) return;
    // Closing after our own end() is the normal way out; closing before it is the reader going away.
    if (this.#closing && this.current === undefined && this.queue.size === 0) return;
    const failure = this.mapFailure(undefined, this.description);
    if (failure !== undefined) this.fail(failure);
  };
}

/** The reason of an aborted context, through `signal` only when it has no cheaper way. */
function abortReason(ctx: SinkWriteContext): unknown {
  return ctx.onAbort === undefined ? ctx.signal.reason : (ctx as { abortReason?: unknown }).abortReason;
}

/** Listens for the attempt's abort, without creating its AbortSignal when the context allows. */
function listenForAbort(ctx: SinkWriteContext, listener: (reason: unknown) => void): () => void {
  if (ctx.onAbort !== undefined) return ctx.onAbort(listener);
  const signal = ctx.signal;
  const onAbort = (): void => listener(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

export function noAbortListener(): void {}
