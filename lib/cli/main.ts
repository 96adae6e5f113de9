#!/usr/bin/env node
/**
 * Entry point of the `backpressure` bin: parse flags, run, exit. Everything
 * with behaviour lives in library modules; this file only routes.
 */
import { createReadStream, fstatSync } from 'node:fs';
import { isRedisStreamError, RedisStreamErrorCodes } from '../redis/redis-errors';
import { ExitCode } from './exit-codes';
import { parseCliArgs, UsageError } from './parse-args';
import { run, type CliIo } from './run';
import { HELP_TEXT, USAGE_LINE } from './usage';
import { whenWritten } from './stdio';
import { packageVersion } from './version';

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    const parsed = parseCliArgs(argv);
    switch (parsed.command) {
      case 'help':
        io.stdout.write(HELP_TEXT);
        return ExitCode.OK;
      case 'version':
        io.stdout.write(`${packageVersion()}\n`);
        return ExitCode.OK;
      case 'run':
        return await run(parsed.options, io);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`backpressure: ${err.message}; ${USAGE_LINE}\n`);
      return ExitCode.USAGE;
    }
    if (isRedisStreamError(err, RedisStreamErrorCodes.CLIENT_MISSING)) {
      // Not a bug to debug: one line that says what to install.
      io.stderr.write(`backpressure: ${err.message}\n`);
      return ExitCode.FAILURE;
    }
    io.stderr.write(`backpressure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return ExitCode.FAILURE;
  }
}

/**
 * Standard input. A regular file (`< input.ndjson`) is read in 1 MiB chunks instead of Node's
 * 64 KiB: each chunk costs the read stream tens of microseconds whatever its size, which at 64 KiB
 * was a tenth of the run. Records share the chunks they came from (sharedBytes), so a bigger chunk
 * is kept alive a little longer; a pipe, a terminal or a socket delivers what it has anyway.
 */
function openStdin(): NodeJS.ReadableStream {
  try {
    if (fstatSync(0).isFile()) return createReadStream('', { fd: 0, autoClose: false, highWaterMark: 1 << 20 });
  } catch {
    // No descriptor 0 to look at: Node's own stdin says what there is.
  }
  return process.stdin;
}

/** How long, at exit, the CLI waits for what it printed to stdout/stderr to leave the process. */
const STDIO_FLUSH_MS = 1_000;

if (require.main === module) {
  // A terminal that went away (SIGHUP) makes stderr writes fail with EIO: nowhere left to report
  // to, but it must not turn a clean shutdown into a crash.
  process.stderr.on('error', () => undefined);
  let settled = false;
  // The run's promise never settling while the event loop empties would otherwise end the process
  // with status 0 and no summary: never report success for a run that did not finish.
  process.on('beforeExit', () => {
    if (settled) return;
    process.stderr.write('backpressure: internal error: the run stopped making progress before it finished\n');
    process.exit(ExitCode.FAILURE);
  });
  void main(process.argv.slice(2), { stdin: openStdin(), stdout: process.stdout, stderr: process.stderr }).then(
    async (code) => {
      settled = true;
      await whenWritten([process.stdout, process.stderr], STDIO_FLUSH_MS);
      // Exit explicitly: a paused stdin or a sink's leftover handle must not keep a finished run alive.
      process.exit(code);
    },
  );
}
