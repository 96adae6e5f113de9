/**
 * A context baseline for bench/cli.bench.ts: split2 + JSON.parse + JSON.stringify, waiting for
 * 'drain'. split2 is not a dependency of this package: the bench runs this only when it resolves.
 */
import { createRequire } from 'node:module';
import { once } from 'node:events';

async function main(): Promise<void> {
  const split2 = createRequire(__filename)('split2') as () => NodeJS.ReadWriteStream;
  let invalid = 0;
  for await (const line of process.stdin.pipe(split2()) as AsyncIterable<string>) {
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
