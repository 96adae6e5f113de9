/**
 * The baseline for bench/cli.bench.ts: what one writes by hand to copy NDJSON
 * from stdin to stdout "safely" — node:readline, JSON.parse to validate,
 * JSON.stringify to re-emit, and waiting for 'drain' whenever stdout says so.
 * No bounded buffer, no stats, no strategy: the CLI must beat this by doing more.
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline';

async function main(): Promise<void> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let invalid = 0;
  for await (const line of lines) {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      invalid++;
      continue;
    }
    if (!process.stdout.write(JSON.stringify(value) + '\n')) await once(process.stdout, 'drain');
  }
  if (invalid > 0) process.stderr.write(`${invalid} invalid lines\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exitCode = 1;
});
