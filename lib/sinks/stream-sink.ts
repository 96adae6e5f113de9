import { finished } from '../util/stream-classes';
import { RingBuffer } from '../util/ring-buffer';
import { joinLines, type LineSink, type SinkWriteContext } from './line-sink';
import { SinkError, SinkErrorCodes } from './sink-errors';

/** The part of a Writable the sink uses (Node core and readable-stream streams both fit). */
export type SinkStream = NodeJS.WritableStream;

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
  mapFailure?: (error: Error | undefined, description: string) => SinkError | undefined;
}

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

interface PendingWrite {
  readonly data: Buffer;
  readonly signal: AbortSignal;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly onAbort: () => void;
  /** The promise was already settled (aborted): when the write completes, only the queue moves on. */
  settled: boolean;
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
 * A permanent `'error'` listener is attached at construction, so an EPIPE on
 * process.stdout can never become an uncaught exception.
 */
export class StreamSink implements LineSink {
  readonly description: string;
  readonly #stream: SinkStream;
  readonly #endOnClose: boolean;
  readonly #mapFailure: (error: Error | undefined, description: string) => SinkError | undefined;
  readonly #queue = new RingBuffer<PendingWrite>();
  #current: PendingWrite | undefined = undefined;
  #failure: SinkError | undefined = undefined;
  #closing = false;
  /** stopAtRecordBoundary() was called: hand the stream nothing more. */
  #stopped = false;
  #closePromise: Promise<void> | undefined = undefined;
  #idle: (() => void) | undefined = undefined;

  constructor(stream: SinkStream, options: StreamSinkOptions = {}) {
    this.description = options.description ?? 'stream';
    this.#stream = stream;
    this.#endOnClose = options.endOnClose ?? true;
    this.#mapFailure = options.mapFailure ?? defaultStreamFailure;
    stream.on('error', this.#onError);
    stream.on('close', this.#onClose);
    stream.on('drain', this.#onDrain);
  }

  /** The failure that ended this sink, if any. */
  get failure(): SinkError | undefined {
    return this.#failure;
  }

  write(lines: Buffer[], ctx: SinkWriteContext): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#closing || this.#stopped) {
      const after = this.#closing ? 'close()' : 'stopAtRecordBoundary()';
      return Promise.reject(
        new SinkError(SinkErrorCodes.CLOSED, `${this.description}: write after ${after}`, { retryable: false }),
      );
    }
    if (ctx.signal.aborted) return Promise.reject(abortedError(this.description, ctx.signal));
    if (lines.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const pending: PendingWrite = {
        data: joinLines(lines),
        signal: ctx.signal,
        resolve,
        reject,
        onAbort: () => this.#abort(pending),
        settled: false,
        written: false,
        needsDrain: false,
      };
      ctx.signal.addEventListener('abort', pending.onAbort, { once: true });
      this.#queue.push(pending);
      this.#pump();
    });
  }

  /**
   * For a process about to go: hands the stream nothing more and waits, at most `timeoutMs`, for
   * the batch it is writing. Queued batches are left unsettled (the caller accounts for them as
   * not delivered); later writes reject with ERR_SINK_CLOSED. Batches go to the stream whole, so
   * this sink cannot stop inside one: `true` once it is through, `false` if it was not within
   * `timeoutMs` (part of it may then never arrive). A reader that must only ever get whole lines
   * needs `FdSink`.
   */
  stopAtRecordBoundary(timeoutMs: number): Promise<boolean> {
    this.#stopped = true;
    if (this.#current === undefined || this.#failure !== undefined) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(this.#current === undefined), timeoutMs);
      const previous = this.#idle;
      this.#idle = () => {
        clearTimeout(timer);
        previous?.();
        resolve(true);
      };
    });
  }

  /** Waits for queued batches, then ends the stream (if `endOnClose`). Rejects with the sink's failure, if it had one. */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  /** Ends the sink with `error`: the batch being written and all queued ones reject with it, as do later writes. */
  fail(error: SinkError): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    const current = this.#current;
    this.#current = undefined;
    if (current !== undefined) this.#settle(current, error);
    for (let p = this.#queue.shift(); p !== undefined; p = this.#queue.shift()) this.#settle(p, error);
    this.#notifyIdle();
  }

  async #close(): Promise<void> {
    this.#closing = true;
    if (this.#current !== undefined || this.#queue.size > 0) {
      await new Promise<void>((resolve) => {
        const previous = this.#idle;
        this.#idle = () => {
          previous?.();
          resolve();
        };
      });
    }
    if (this.#failure !== undefined) throw this.#failure;
    if (!this.#endOnClose) return;
    const stream = this.#stream;
    await new Promise<void>((resolve, reject) => {
      finished(stream as never, (err) => {
        // The 'error' listener has already turned a stream error into #failure.
        if (this.#failure !== undefined) reject(this.#failure);
        else if (err !== undefined && err !== null) reject(this.#mapFailure(err, this.description) ?? err);
        else resolve();
      });
      stream.end();
    });
  }

  #pump(): void {
    while (this.#current === undefined && this.#failure === undefined) {
      const next = this.#stopped ? undefined : this.#queue.shift(); // stopped: queued batches stay unsettled
      if (next === undefined) {
        this.#notifyIdle();
        return;
      }
      if (next.settled) continue; // aborted while queued: never written
      this.#current = next;
      next.needsDrain = !this.#stream.write(next.data, (err?: Error | null) => this.#onWritten(next, err));
    }
  }

  #onWritten(pending: PendingWrite, err: Error | null | undefined): void {
    if (err !== undefined && err !== null) {
      this.#onError(err);
      return;
    }
    pending.written = true;
    this.#maybeDone(pending);
  }

  #maybeDone(pending: PendingWrite): void {
    if (this.#current !== pending || !pending.written || pending.needsDrain) return;
    this.#current = undefined;
    this.#settle(pending, undefined);
    this.#pump();
  }

  #settle(pending: PendingWrite, error: Error | undefined): void {
    pending.signal.removeEventListener('abort', pending.onAbort);
    if (pending.settled) return;
    pending.settled = true;
    if (error === undefined) pending.resolve();
    else pending.reject(error);
  }

  #abort(pending: PendingWrite): void {
    if (pending.settled) return;
    pending.settled = true;
    pending.reject(abortedError(this.description, pending.signal));
    // QUEUED: #pump skips it. WRITING: it stays #current until the stream is done with it, keeping order.
  }

  #notifyIdle(): void {
    const idle = this.#idle;
    if (idle === undefined) return;
    if (this.#failure === undefined && (this.#current !== undefined || (this.#queue.size > 0 && !this.#stopped)))
      return;
    this.#idle = undefined;
    idle();
  }

  readonly #onError = (err: Error): void => {
    if (this.#failure !== undefined) return;
    const failure = this.#mapFailure(err, this.description);
    if (failure !== undefined) this.fail(failure);
  };

  readonly #onClose = (): void => {
    if (this.#failure !== undefined) return;
    // Closing after our own end() is the normal way out; closing before it is the reader going away.
    if (this.#closing && this.#current === undefined && this.#queue.size === 0) return;
    const failure = this.#mapFailure(undefined, this.description);
    if (failure !== undefined) this.fail(failure);
  };

  readonly #onDrain = (): void => {
    const current = this.#current;
    if (current === undefined || !current.needsDrain) return;
    current.needsDrain = false;
    this.#maybeDone(current);
  };
}

export function abortedError(description: string, signal: AbortSignal): SinkError {
  return new SinkError(SinkErrorCodes.ABORTED, `${description}: write aborted`, {
    retryable: true,
    cause: signal.reason,
  });
}

/** A `LineSink` over any Writable (see `StreamSink`). */
export function createStreamSink(stream: SinkStream, options: StreamSinkOptions = {}): StreamSink {
  return new StreamSink(stream, options);
}
