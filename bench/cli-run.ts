/**
 * What the CLI benchmarks share: the wall time of one CLI run over an input file (stdout to /dev/null)
 * and the median; the input itself and the temporary directory come from ./ndjson-input.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';

export { positiveInt, withTempDir, writeInput } from './ndjson-input';

export const ROOT = join(__dirname, '..', '..');
/** BENCH_CLI: another build's dist/cli/main.js, to compare a change against the same baseline. */
export const CLI = process.env['BENCH_CLI'] ?? join(ROOT, 'dist', 'cli', 'main.js');

/** Wall time of one `node script args < input > /dev/null`, in ms. */
export function timeRun(script: string, args: readonly string[], input: string): Promise<number> {
  const stdin = openSync(input, 'r');
  const stdout = openSync('/dev/null', 'w');
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [script, ...args], { stdio: [stdin, stdout, 'inherit'] });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      closeSync(stdin);
      closeSync(stdout);
      if (code !== 0) reject(new Error(`${script} exited with ${code}`));
      else resolve(Number(process.hrtime.bigint() - started) / 1e6);
    });
  });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
