/** What `LineSink.write` receives besides the lines: the core's `FlushContext`. */
export interface SinkWriteContext {
  /** Aborted when the core gives up on this attempt (flush timeout, destroy). */
  signal: AbortSignal;
  /** 1 for the first attempt at this batch, 2 for the first retry, … */
  attempt: number;
  /**
   * As `FlushContext.onAbort`: calls `listener` when the attempt is aborted, without creating
   * `signal` (an AbortController per batch costs more than the rest of a fast sink's write).
   * Returns the function that removes it. Absent on contexts made by other code: use `signal`.
   */
  onAbort?(listener: (reason: unknown) => void): () => void;
  /** With `onAbort`: the attempt was already aborted (then `onAbort` would never call). */
  readonly aborted?: boolean;
}

/** A partial failure, shaped like the core's `FlushResult<Buffer>`. */
export interface LineSinkResult {
  success: number;
  failed: number;
  errors: Error[];
  /** Exactly the lines to retry (the same Buffer objects that were passed in). */
  failedItems?: Buffer[];
}

/**
 * Where the CLI delivers lines. Implementations: stdout / any Writable
 * (`stream-sink.ts`, `stdout-sink.ts`), `file-sink.ts`, `http-sink.ts`,
 * `exec-sink.ts`; `createSink(spec)` picks one from a `--sink` string.
 *
 * A rejection is a `SinkError` whose `retryable` tells the core whether to
 * retry (`false` → dead-letter at once) and whose `retryAfterMs` (HTTP
 * `Retry-After`) is the least delay before the retry.
 */
export interface LineSink {
  /**
   * Deliver lines (each WITHOUT trailing newline); the sink appends '\n' to each. `joined`, when
   * given, is the same lines already joined, each followed by '\n' (`sinkFlush` makes it from
   * records that share memory, often without a copy): a sink that writes one body may use it
   * instead of joining them itself. Neither is ever written to.
   */
  write(lines: Buffer[], ctx: SinkWriteContext, joined?: Buffer): Promise<void | LineSinkResult>;
  /** Flushes what was written and releases the destination. Further writes reject with ERR_SINK_CLOSED. */
  close(): Promise<void>;
  /** Human-readable target for logs, with credentials redacted. */
  readonly description: string;
  /**
   * For sinks a reader consumes as a byte stream (stdout, an exec child's stdin), when the process
   * is about to go: finish what is half-written — so that the reader never gets part of a line —
   * and write nothing more. Writes not complete by then stay unsettled (the caller accounts for
   * them as not delivered); later writes reject with ERR_SINK_CLOSED. Resolves `true` once nothing
   * is half-written, `false` if `timeoutMs` passed first (a reader that stopped reading). The CLI
   * calls it once the core has settled every batch, before `close()`, and on a forced exit.
   */
  stopAtRecordBoundary?(timeoutMs: number): Promise<boolean>;
  /** After `stopAtRecordBoundary` resolved `false`: how much of the record in progress the reader was given. */
  readonly partialRecord?: { written: number; length: number } | undefined;
}

const NEWLINE = 0x0a;

/**
 * The batch as one Buffer, each line followed by '\n': one write (one syscall, one HTTP body) per
 * batch. Lines that lie next to each other in memory with a newline between them — the records of
 * one input chunk, from a splitter with `sharedBytes` — are copied as one run; and a batch that is
 * all one run with its final newline is not copied at all: the Buffer returned is a view of that
 * memory (only ever read from).
 */
export function joinLines(lines: readonly Buffer[]): Buffer {
  const n = lines.length;
  let total = n;
  for (let i = 0; i < n; i++) total += (lines[i] as Buffer).length;
  let out: Buffer | undefined;
  let offset = 0;
  let i = 0;
  while (i < n) {
    const first = lines[i] as Buffer;
    const start = first.byteOffset;
    let end = start + first.length;
    let memory: Buffer | undefined;
    let j = i + 1;
    while (j < n) {
      const next = lines[j] as Buffer;
      if (next.buffer !== first.buffer || next.byteOffset !== end + 1) break;
      memory ??= Buffer.from(first.buffer);
      if (memory[end] !== NEWLINE) break;
      end += 1 + next.length;
      j++;
    }
    if (i === 0 && j === n) {
      memory ??= Buffer.from(first.buffer);
      if (end < memory.length && memory[end] === NEWLINE) return memory.subarray(start, end + 1);
    }
    out ??= Buffer.allocUnsafe(total);
    offset += memory === undefined ? first.copy(out, offset) : memory.copy(out, offset, start, end);
    out[offset++] = NEWLINE;
    i = j;
  }
  return out ?? Buffer.alloc(0);
}
