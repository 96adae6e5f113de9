import { writeSync } from 'node:fs';
import { RingBuffer } from '../util/ring-buffer';
import type { LineSink, SinkWriteContext } from './line-sink';
import { joinLines } from './line-sink';
import { SinkError, SinkErrorCodes } from './sink-errors';
import { abortedError, defaultStreamFailure, type SinkStream } from './stream-sink';
import { finished } from '../util/stream-classes';

export interface FdSinkOptions {
  /** Shown in logs and error messages; must already be redacted. @default 'fd' */
  description?: string;
  /**
   * `close()` ends `stream` and waits until it has finished (a child's stdin, whose EOF tells the
   * child to finish). `false` for stdout, which must stay open.
   * @default false
   */
  endOnClose?: boolean;
  /** As in `StreamSinkOptions.mapFailure`. @default EPIPE/closed → ERR_SINK_CLOSED, anything else → ERR_SINK_WRITE_FAILED */
  mapFailure?: (error: Error | undefined, description: string) => SinkError | undefined;
}

interface FdWrite {
  readonly lines: readonly Buffer[];
  readonly data: Buffer;
  readonly signal: AbortSignal;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly onAbort: () => void;
  /** Bytes of `data` the OS has taken. */
  offset: number;
  /** Records of `lines` the OS has taken whole. */
  recordsDone: number;
  /** Where record `recordsDone` starts and ends (newline included) in `data`. */
  recordStart: number;
  recordEnd: number;
  /** The promise was settled (aborted): write no record of it that has not been started. */
  settled: boolean;
}

/**
 * A `LineSink` over a pipe or socket whose file descriptor it can write to directly (stdout, a
 * child's stdin), built so that the reader only ever receives whole lines — even when the process
 * exits while the reader is slow.
 *
 * Why not `stream.write()` alone: a pipe write in Node is asynchronous once the pipe is full; the
 * stream hands the kernel whatever fits, wherever that is, and keeps the rest. A process that then
 * exits leaves the reader with a record cut off, in the middle of a multi-byte character if it so
 * happens. Here each batch is one `writeSync` on the (non-blocking) descriptor, so the sink always
 * knows exactly which bytes the kernel took. When the pipe is full, only the rest of the record the
 * cut is in (or, at a record boundary, the next record) is given to the stream, to be written when
 * the reader makes room; the next `writeSync` waits for it. So at any moment at most one record is
 * incomplete, and `stopAtRecordBoundary()` can finish it and stop: the reader gets whole lines.
 *
 * An abort (`ctx.signal`: the core's flush timeout, a shutdown) rejects the write at once with
 * ERR_SINK_ABORTED; the record already started is finished, no other record of that batch is
 * written, and the next batch waits for that. What the kernel took before the abort stays written
 * (at-least-once: a retry may deliver those records again).
 *
 * Errors as in `StreamSink`: EPIPE (the reader went away) → ERR_SINK_CLOSED, other I/O errors →
 * ERR_SINK_WRITE_FAILED; both reject the pending and all later writes. A permanent `'error'`
 * listener keeps an EPIPE on the stream from becoming an uncaught exception.
 */
export class FdSink implements LineSink {
  readonly description: string;
  readonly #fd: number;
  readonly #stream: SinkStream;
  readonly #endOnClose: boolean;
  readonly #mapFailure: (error: Error | undefined, description: string) => SinkError | undefined;
  readonly #queue = new RingBuffer<FdWrite>();
  #current: FdWrite | undefined = undefined;
  /** Bytes handed to the stream (the rest of one record), not yet reported written. 0: none. */
  #carried = 0;
  #failure: SinkError | undefined = undefined;
  #closing = false;
  /** stopAtRecordBoundary() was called: start no record. */
  #stopped = false;
  #closePromise: Promise<void> | undefined = undefined;
  #idle: (() => void) | undefined = undefined;

  constructor(fd: number, stream: SinkStream, options: FdSinkOptions = {}) {
    this.description = options.description ?? 'fd';
    this.#fd = fd;
    this.#stream = stream;
    this.#endOnClose = options.endOnClose ?? false;
    this.#mapFailure = options.mapFailure ?? defaultStreamFailure;
    stream.on('error', this.#onError);
    stream.on('close', this.#onClose);
  }

  /** The failure that ended this sink, if any. */
  get failure(): SinkError | undefined {
    return this.#failure;
  }

  /**
   * The record the reader has only the start of (the pipe is full in the middle of it), as bytes
   * written / bytes in the record; `undefined` when every record handed to the kernel is whole.
   */
  get partialRecord(): { written: number; length: number } | undefined {
    const w = this.#current;
    if (w === undefined || w.offset === w.recordStart || this.#failure !== undefined) return undefined;
    return { written: w.offset - w.recordStart, length: w.recordEnd - w.recordStart };
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
      const first = (lines[0] as Buffer).length + 1;
      const w: FdWrite = {
        lines,
        data: joinLines(lines),
        signal: ctx.signal,
        resolve,
        reject,
        onAbort: () => this.#abort(w),
        offset: 0,
        recordsDone: 0,
        recordStart: 0,
        recordEnd: first,
        settled: false,
      };
      ctx.signal.addEventListener('abort', w.onAbort, { once: true });
      this.#queue.push(w);
      this.#pump();
    });
  }

  /**
   * For a process about to go: finishes the record the reader has only part of, then writes
   * nothing more. Writes not complete by then are left unsettled (the caller, which is exiting or
   * closing, accounts for them as not delivered: settling them now would let a retry policy act on
   * them); later writes reject with ERR_SINK_CLOSED. Resolves `true` once no record is incomplete,
   * or `false` if `timeoutMs` passed first (the reader took nothing for that long: it may be left
   * with the start of one record, `partialRecord` says how much).
   */
  stopAtRecordBoundary(timeoutMs: number): Promise<boolean> {
    if (!this.#stopped) {
      this.#stopped = true;
      this.#pump(); // at a record boundary already: done now
    }
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

  /** Waits for the pending writes, then ends the stream (if `endOnClose`). Rejects with the sink's failure, if it had one. */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  /** Ends the sink with `error`: the pending writes reject with it, as do later writes. */
  fail(error: SinkError): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    const current = this.#current;
    this.#current = undefined;
    if (current !== undefined) this.#settle(current, error);
    for (let w = this.#queue.shift(); w !== undefined; w = this.#queue.shift()) this.#settle(w, error);
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
        if (this.#failure !== undefined) reject(this.#failure);
        else if (err !== undefined && err !== null) reject(this.#mapFailure(err, this.description) ?? err);
        else resolve();
      });
      stream.end();
    });
  }

  #pump(): void {
    while (this.#carried === 0 && this.#failure === undefined) {
      let w = this.#current;
      if (w === undefined) {
        if (this.#stopped) break; // queued writes stay unsettled (see stopAtRecordBoundary)
        w = this.#queue.shift();
        if (w === undefined) break;
        if (w.settled) continue; // aborted while queued: never started
        this.#current = w;
      }
      if (w.offset === w.data.length) {
        this.#current = undefined;
        this.#settle(w, undefined);
        continue;
      }
      // Aborted or stopped: finish the record in progress, start no other.
      const stopping = w.settled || this.#stopped;
      if (stopping && w.offset === w.recordStart) {
        this.#current = undefined;
        w.signal.removeEventListener('abort', w.onAbort);
        continue;
      }
      const end = stopping ? w.recordEnd : w.data.length;
      let n: number;
      try {
        n = writeSync(this.#fd, w.data, w.offset, end - w.offset);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') {
          this.#onError(err as Error);
          return;
        }
        n = 0;
      }
      this.#advance(w, n);
      if (w.offset === end) continue;
      // The pipe is full. The stream carries the rest of the record the cut is in (or the whole
      // next one): it writes as the reader makes room, and reports when it is through.
      this.#carried = w.recordEnd - w.offset;
      this.#stream.write(w.data.subarray(w.offset, w.recordEnd), this.#onCarried);
      return;
    }
    this.#notifyIdle();
  }

  readonly #onCarried = (err?: Error | null): void => {
    const carried = this.#carried;
    this.#carried = 0;
    if (err !== undefined && err !== null) {
      this.#onError(err);
      return;
    }
    const w = this.#current;
    if (w !== undefined) this.#advance(w, carried);
    this.#pump();
  };

  #advance(w: FdWrite, n: number): void {
    w.offset += n;
    while (w.offset >= w.recordEnd && w.recordsDone < w.lines.length) {
      w.recordsDone++;
      w.recordStart = w.recordEnd;
      if (w.recordsDone < w.lines.length) w.recordEnd += (w.lines[w.recordsDone] as Buffer).length + 1;
    }
  }

  #settle(w: FdWrite, error: Error | undefined): void {
    w.signal.removeEventListener('abort', w.onAbort);
    if (w.settled) return;
    w.settled = true;
    if (error === undefined) w.resolve();
    else w.reject(error);
  }

  #abort(w: FdWrite): void {
    if (w.settled) return;
    this.#settle(w, abortedError(this.description, w.signal));
    // Queued: #pump skips it. Current: the record in progress is finished, then it is dropped.
    if (this.#current === w && this.#carried === 0) this.#pump();
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
    if (this.#closing && this.#current === undefined && this.#queue.size === 0) return;
    const failure = this.#mapFailure(undefined, this.description);
    if (failure !== undefined) this.fail(failure);
  };
}

/**
 * The descriptor behind a stream, when it has one a sink may write to directly: the `fd` of
 * process.stdout (1), or with `handle: true` the pipe handle's descriptor (a child's stdin, whose
 * socket exposes it only there). `undefined` otherwise: the caller falls back to `StreamSink`.
 */
export function writableFd(stream: SinkStream, options: { handle?: boolean } = {}): number | undefined {
  const s = stream as { fd?: unknown; _handle?: { fd?: unknown } | null };
  const fd = typeof s.fd === 'number' ? s.fd : options.handle === true ? s._handle?.fd : undefined;
  return typeof fd === 'number' && Number.isInteger(fd) && fd >= 0 ? fd : undefined;
}
