import { spawn, type ChildProcess } from 'node:child_process';
import { FdSink, writableFd } from './fd-sink';
import type { LineSink, SinkWriteContext } from './line-sink';
import { redactCredentialsInText } from './redact';
import { SinkError, SinkErrorCodes } from './sink-errors';
import { StreamSink, type SinkStream } from './stream-sink';

export interface ExecSinkOptions {
  /** Working directory of the child. @default process.cwd() */
  cwd?: string;
  /** Environment of the child. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/**
 * When the child's stdin fails (EPIPE) before its exit status is known, how
 * long to wait for that status before failing with ERR_SINK_CLOSED instead.
 * The exit normally follows within milliseconds; the bound only matters for a
 * child that closed its stdin and kept running, which must not hang writes.
 */
const EXIT_GRACE_MS = 1000;

/** `terminate()`: how long the child has to exit after SIGTERM before SIGKILL (and after SIGKILL before giving up on it). */
export const TERMINATE_GRACE_MS = 2000;

interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One long-lived child (`spawn(command, { shell: true })`, stdio
 * `['pipe', 'inherit', 'inherit']`) reading the batches on its stdin, with
 * stdin's backpressure respected (a slow child slows the pipeline down).
 * Delivery means "written into the child's stdin pipe". The pipe is written
 * through an `FdSink`, so the child only ever reads whole lines.
 *
 * The child runs in its own process group (`detached`): a Ctrl-C in the
 * terminal reaches the CLI, which drains into the child and then closes its
 * stdin, instead of killing the child with records still in the pipe; and
 * `kill()`/`terminate()` reach everything the shell started.
 *
 * The child exiting before `close()` — with any status, 0 included — is a sink
 * failure: pending and later writes reject with ERR_SINK_CHILD_EXITED
 * (`exitCode`/`exitSignal` set, not retryable). `close()` ends stdin and waits
 * for the exit; it rejects with ERR_SINK_CHILD_EXITED on a non-zero exit or
 * signal, and with the sink's failure if it had failed before.
 */
export class ExecSink implements LineSink {
  readonly description: string;
  readonly #child: ChildProcess;
  readonly #stdin: StreamSink | FdSink;
  readonly #exited: Promise<ExitStatus | SinkError>;
  #exit: ExitStatus | undefined = undefined;
  #stdinEnded = false;
  #graceTimer: NodeJS.Timeout | undefined = undefined;
  #closePromise: Promise<void> | undefined = undefined;
  /** terminate() was called: the child stopped reading and was ended. */
  #terminated = false;

  constructor(command: string, options: ExecSinkOptions = {}) {
    if (command.trim() === '') throw new SinkError(SinkErrorCodes.INVALID_SPEC, 'exec sink needs a command');
    this.description = `exec:${redactCredentialsInText(command)}`;
    const child = spawn(command, {
      shell: true,
      detached: true,
      stdio: ['pipe', 'inherit', 'inherit'],
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env === undefined ? {} : { env: options.env }),
    });
    this.#child = child;
    const stdin = child.stdin as SinkStream;
    const fd = child.pid === undefined ? undefined : writableFd(stdin, { handle: true });
    const sinkOptions = { description: this.description, endOnClose: true, mapFailure: this.#stdinFailure };
    this.#stdin = fd === undefined ? new StreamSink(stdin, sinkOptions) : new FdSink(fd, stdin, sinkOptions);
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        if (this.#graceTimer !== undefined) clearTimeout(this.#graceTimer);
        // Before close() ended stdin, any exit means the sink is gone.
        if (!this.#stdinEnded) this.#stdin.fail(this.#exitedError(this.#exit, 'exited before close()'));
        resolve(this.#exit);
      });
      child.once('error', (err: Error) => {
        // 'error' without 'exit' means the shell never ran (bad cwd, EAGAIN, …).
        const failure = new SinkError(
          SinkErrorCodes.SPAWN_FAILED,
          `${this.description}: cannot start (${(err as { code?: string }).code ?? err.message})`,
          {
            retryable: false,
            cause: err,
          },
        );
        this.#stdin.fail(failure);
        resolve(failure);
      });
    });
  }

  /** The child's pid (undefined if it could not be spawned). */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Sends a signal to the child's process group (the shell and what it started). */
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    const pid = this.#child.pid;
    if (pid === undefined || this.#exit !== undefined) return false;
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      return this.#child.kill(signal);
    }
  }

  /** Whether the child has exited (or never started). */
  get exited(): boolean {
    return this.#exit !== undefined || this.#child.pid === undefined;
  }

  write(lines: Buffer[], ctx: SinkWriteContext, joined?: Buffer): Promise<void> {
    return this.#stdin.write(lines, ctx, joined);
  }

  /** See `LineSink.stopAtRecordBoundary`: finishes the line the child has the start of, then writes nothing more. */
  stopAtRecordBoundary(timeoutMs: number): Promise<boolean> {
    return this.#stdin.stopAtRecordBoundary(timeoutMs);
  }

  get partialRecord(): { written: number; length: number } | undefined {
    return this.#stdin instanceof FdSink ? this.#stdin.partialRecord : undefined;
  }

  /**
   * Ends a child that stopped reading (or that a shutdown cannot wait for): closes its stdin —
   * what the sink still held for it is dropped; the caller has accounted for it — sends SIGTERM to
   * its process group, and SIGKILL if it has not exited `graceMs` later. Resolves once it exited,
   * or `graceMs` after SIGKILL (a process stuck in the kernel). `close()` then rejects with
   * ERR_SINK_CHILD_EXITED saying so.
   */
  async terminate(graceMs: number = TERMINATE_GRACE_MS): Promise<void> {
    if (this.exited) return;
    this.#terminated = true;
    (this.#child.stdin as { destroy?: () => void } | null)?.destroy?.();
    this.kill('SIGTERM');
    if (await this.#exitedWithin(graceMs)) return;
    this.kill('SIGKILL');
    await this.#exitedWithin(graceMs);
  }

  #exitedWithin(ms: number): Promise<boolean> {
    if (this.#exit !== undefined) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void this.#exited.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    let stdinError: unknown;
    // Set before ending stdin: from here on, an exit is the expected end, judged by its status.
    this.#stdinEnded = this.#stdin.failure === undefined;
    try {
      await this.#stdin.close();
    } catch (err) {
      stdinError = err;
    }
    const exit = await this.#exited;
    if (exit instanceof SinkError) throw exit;
    if (this.#terminated) throw this.#exitedError(exit, 'stopped reading and was terminated');
    if (stdinError !== undefined) throw stdinError;
    if (exit.code !== 0) throw this.#exitedError(exit, 'exited with failure');
  }

  #exitedError(exit: ExitStatus, what: string): SinkError {
    const status = exit.signal !== null ? `signal ${exit.signal}` : `code ${String(exit.code)}`;
    return new SinkError(SinkErrorCodes.CHILD_EXITED, `${this.description}: child ${what} (${status})`, {
      retryable: false,
      exitCode: exit.code,
      exitSignal: exit.signal,
    });
  }

  /** stdin failed (EPIPE) or closed: report the exit status if known, else wait for it (bounded). */
  readonly #stdinFailure = (error: Error | undefined): SinkError | undefined => {
    if (this.#exit !== undefined)
      return this.#exitedError(this.#exit, this.#stdinEnded ? 'exited' : 'exited before close()');
    if (this.#graceTimer === undefined) {
      this.#graceTimer = setTimeout(() => {
        const code = (error as { code?: unknown } | undefined)?.code;
        this.#stdin.fail(
          new SinkError(
            SinkErrorCodes.CLOSED,
            `${this.description}: child closed its stdin (${typeof code === 'string' ? code : 'closed'})`,
            {
              retryable: false,
              cause: error,
            },
          ),
        );
      }, EXIT_GRACE_MS);
      this.#graceTimer.unref();
    }
    return undefined;
  };
}

export function createExecSink(command: string, options: ExecSinkOptions = {}): ExecSink {
  return new ExecSink(command, options);
}
