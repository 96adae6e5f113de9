import { writeSync } from 'node:fs';
import { noAbortListener, QueuedSink, type MapStreamFailure, type QueuedWrite, type SinkStream } from './queued-sink';
import { abortedError } from './sink-errors';

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
  mapFailure?: MapStreamFailure;
}

interface FdWrite extends QueuedWrite {
  readonly lines: readonly Buffer[];
  readonly data: Buffer;
  /** Bytes of `data` the OS has taken. */
  offset: number;
  /** Records of `lines` the OS has taken whole. */
  recordsDone: number;
  /** Where record `recordsDone` starts and ends (newline included) in `data`. */
  recordStart: number;
  recordEnd: number;
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
export class FdSink extends QueuedSink<FdWrite> {
  readonly #fd: number;
  /** Bytes handed to the stream (the rest of one record), not yet reported written. 0: none. */
  #carried = 0;

  constructor(fd: number, stream: SinkStream, options: FdSinkOptions = {}) {
    super(stream, {
      description: options.description ?? 'fd',
      endOnClose: options.endOnClose ?? false,
      mapFailure: options.mapFailure,
    });
    this.#fd = fd;
  }

  /**
   * The record the reader has only the start of (the pipe is full in the middle of it), as bytes
   * written / bytes in the record; `undefined` when every record handed to the kernel is whole.
   */
  get partialRecord(): { written: number; length: number } | undefined {
    const w = this.current;
    if (w === undefined || w.offset === w.recordStart || this.failure !== undefined) return undefined;
    return { written: w.offset - w.recordStart, length: w.recordEnd - w.recordStart };
  }

  protected override createWrite(
    lines: Buffer[],
    data: Buffer,
    resolve: () => void,
    reject: (err: Error) => void,
  ): FdWrite {
    const w: FdWrite = {
      lines,
      data,
      resolve,
      reject,
      onAbort: (reason) => this.#abort(w, reason),
      offAbort: noAbortListener,
      offset: 0,
      recordsDone: 0,
      recordStart: 0,
      recordEnd: (lines[0] as Buffer).length + 1,
      settled: false,
    };
    return w;
  }

  protected override pump(): void {
    while (this.#carried === 0 && this.failure === undefined) {
      let w = this.current;
      if (w === undefined) {
        if (this.stopped) break; // queued writes stay unsettled (see stopAtRecordBoundary)
        w = this.queue.shift();
        if (w === undefined) break;
        if (w.settled) continue; // aborted while queued: never started
        this.current = w;
      }
      if (w.offset === w.data.length) {
        this.current = undefined;
        this.settle(w, undefined);
        continue;
      }
      // Aborted or stopped: finish the record in progress, start no other.
      const stopping = w.settled || this.stopped;
      if (stopping && w.offset === w.recordStart) {
        this.current = undefined;
        w.offAbort();
        continue;
      }
      const end = stopping ? w.recordEnd : w.data.length;
      let n: number;
      try {
        n = writeSync(this.#fd, w.data, w.offset, end - w.offset);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code !== 'EAGAIN' && code !== 'EWOULDBLOCK') {
          this.onStreamError(err as Error);
          return;
        }
        n = 0;
      }
      this.#advance(w, n);
      if (w.offset === end) continue;
      // The pipe is full. The stream carries the rest of the record the cut is in (or the whole
      // next one): it writes as the reader makes room, and reports when it is through.
      this.#carried = w.recordEnd - w.offset;
      this.stream.write(w.data.subarray(w.offset, w.recordEnd), this.#onCarried);
      return;
    }
    this.notifyIdle();
  }

  readonly #onCarried = (err?: Error | null): void => {
    const carried = this.#carried;
    this.#carried = 0;
    if (err !== undefined && err !== null) {
      this.onStreamError(err);
      return;
    }
    const w = this.current;
    if (w !== undefined) this.#advance(w, carried);
    this.pump();
  };

  #advance(w: FdWrite, n: number): void {
    w.offset += n;
    while (w.offset >= w.recordEnd && w.recordsDone < w.lines.length) {
      w.recordsDone++;
      w.recordStart = w.recordEnd;
      if (w.recordsDone < w.lines.length) w.recordEnd += (w.lines[w.recordsDone] as Buffer).length + 1;
    }
  }

  #abort(w: FdWrite, reason: unknown): void {
    if (w.settled) return;
    this.settle(w, abortedError(this.description, reason));
    // Queued: pump skips it. Current: the record in progress is finished, then it is dropped.
    if (this.current === w && this.#carried === 0) this.pump();
  }
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
