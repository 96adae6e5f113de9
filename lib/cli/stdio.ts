/**
 * Pipe writes are asynchronous in Node once the pipe is full: `process.exit()` with bytes still
 * queued drops them. Resolves once every stream has handed what it holds to the OS, or after
 * `timeoutMs` (a reader that stopped reading is not waited for).
 */
export function whenWritten(streams: readonly NodeJS.WritableStream[], timeoutMs: number): Promise<void> {
  const pending = streams.filter((s) => {
    const w = s as NodeJS.WritableStream & { writableLength?: number; destroyed?: boolean };
    return (w.writableLength ?? 0) > 0 && w.destroyed !== true;
  });
  if (pending.length === 0) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    let left = pending.length;
    for (const stream of pending) {
      // An empty write's callback runs once everything queued before it is written.
      stream.write('', () => {
        if (--left === 0) {
          clearTimeout(timer);
          resolve();
        }
      });
    }
  });
}

/** The process's streams and exit, injectable so that `run` can be driven in-process too. */
export interface CliIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Ends the process at once (second signal). @default process.exit */
  exit?: (code: number) => never;
  /** The environment, for `COLUMNS` when stderr does not know its width. @default process.env */
  env?: NodeJS.ProcessEnv;
}
