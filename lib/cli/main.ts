#!/usr/bin/env node
/**
 * Entry point of the `backpressure` bin: parse flags, run, exit. Everything
 * with behaviour lives in library modules; this file only routes.
 */
import { ExitCode } from './exit-codes';
import { parseCliArgs, UsageError } from './parse-args';
import { run, type CliIo } from './run';
import { HELP_TEXT, USAGE_LINE } from './usage';
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
    io.stderr.write(`backpressure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return ExitCode.FAILURE;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }).then((code) => {
    // Exit explicitly: a paused stdin or a sink's leftover handle must not keep a finished run alive.
    // stdout/stderr writes to pipes and files are synchronous on Linux, so nothing printed is lost.
    process.exit(code);
  });
}
