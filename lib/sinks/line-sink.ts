/** What `LineSink.write` receives besides the lines: the core's `FlushContext`. */
export interface SinkWriteContext {
  /** Aborted when the core gives up on this attempt (flush timeout, destroy). */
  signal: AbortSignal;
  /** 1 for the first attempt at this batch, 2 for the first retry, … */
  attempt: number;
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
  /** Deliver lines (each WITHOUT trailing newline); the sink appends '\n' to each. */
  write(lines: Buffer[], ctx: SinkWriteContext): Promise<void | LineSinkResult>;
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

/** The batch as one Buffer, each line followed by '\n': one write (one syscall, one HTTP body) per batch. */
export function joinLines(lines: readonly Buffer[]): Buffer {
  let total = lines.length;
  for (let i = 0; i < lines.length; i++) total += (lines[i] as Buffer).length;
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (let i = 0; i < lines.length; i++) {
    offset += (lines[i] as Buffer).copy(out, offset);
    out[offset++] = NEWLINE;
  }
  return out;
}
