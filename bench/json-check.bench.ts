/**
 * npm run bench:json-check — the NDJSON validator alone, in MB/s, over the lines of the `bench:cli`
 * input (bench/ndjson-input.ts: BENCH_LINES, default 200,000 here, held in memory), in interleaved
 * rounds (BENCH_RUNS, default 7), against `JSON.parse(buf.toString())` on the same lines and a bare
 * byte loop (the floor: what reading each byte once costs in JS).
 *
 * - `checkJson` line by line (what the CLI did before `checkLines`), and `checkLines`: all the lines of
 *   a chunk in one call, splitting and checking in one pass (what the splitter does now).
 * - BENCH_JSON_CHECK: another build's `json-check.js` (e.g. `/tmp/old/dist/ndjson/json-check.js`),
 *   whose `checkJson` runs beside this build's, to compare a change in the same run.
 */
import { createRequire } from 'node:module';
import { checkJson } from '../lib/ndjson/json-check';
import { CheckedLines, checkLines, LineCheck } from '../lib/ndjson/json-lines';
import { formatSpread, machine, measureInterleaved, roundRatios, type Candidate } from './harness';
import { positiveInt, record } from './ndjson-input';

const LINES = positiveInt(process.env['BENCH_LINES'], 200_000);
const RUNS = positiveInt(process.env['BENCH_RUNS'], 7);
const OTHER = process.env['BENCH_JSON_CHECK'];

const CHUNK = 1 << 20;
const checked = new CheckedLines();

type Check = (bytes: Uint8Array, start?: number, end?: number) => number;

const text = Array.from({ length: LINES }, (_, i) => `${record(i)}\n`).join('');
const data = Buffer.from(text, 'utf8');
const starts: number[] = [];
const ends: number[] = [];
for (let pos = 0; pos < data.length;) {
  const newline = data.indexOf(0x0a, pos);
  starts.push(pos);
  ends.push(newline);
  pos = newline + 1;
}

/** Every line through `check`; fails loudly if any is rejected (a broken candidate must not look fast). */
function lineByLine(check: Check): () => Promise<number> {
  return () => {
    let valid = 0;
    for (let i = 0; i < LINES; i++) if (check(data, starts[i], ends[i]) !== 0) valid++;
    if (valid !== LINES) throw new Error(`${LINES - valid} lines rejected`);
    return Promise.resolve(data.length);
  };
}

const candidates: Candidate[] = [
  { name: 'checkJson per line', run: lineByLine(checkJson) },
  {
    name: 'checkLines per chunk',
    run: () => {
      let valid = 0;
      for (let from = 0; from < data.length;) {
        // 1 MiB chunks up to their last newline, as the CLI reads a file
        const to = data.lastIndexOf(0x0a, Math.min(from + CHUNK, data.length) - 1) + 1;
        checkLines(data, from, to, checked);
        for (let i = 0; i < checked.count; i++) if (checked.kinds[i] === LineCheck.VALID) valid++;
        from = to;
      }
      if (valid !== LINES) throw new Error(`checkLines: ${valid} of ${LINES} valid`);
      return Promise.resolve(data.length);
    },
  },
  {
    name: 'JSON.parse(toString) per line',
    run: lineByLine((b, s, e) => {
      JSON.parse(data.toString('utf8', s, e));
      return 1;
    }),
  },
  {
    name: 'bare byte loop',
    run: () => {
      let sum = 0;
      for (let i = 0; i < data.length; i++) sum = (sum + (data[i] as number)) | 0;
      if (sum === 0.5) console.log(sum); // keeps the loop from being optimised away
      return Promise.resolve(data.length);
    },
  },
];
if (OTHER !== undefined) {
  const other = (createRequire(__filename)(OTHER) as { checkJson: Check }).checkJson;
  candidates.push({ name: `checkJson of ${OTHER}`, run: lineByLine(other) });
}

async function main(): Promise<void> {
  console.log(
    `# checkJson: ${LINES.toLocaleString('en-US')} lines, ${(data.length / 1e6).toFixed(1)} MB in memory, ${RUNS} interleaved rounds`,
  );
  console.log(`# ${machine().replace(/, [^,]*classes$/, '')}`);
  const results = await measureInterleaved(candidates, RUNS, 2);
  for (const r of results) {
    const mbps = r.runs.map((bytesPerSecond) => bytesPerSecond / 1e6);
    console.log(
      `  ${r.name}: median ${(r.median / 1e6).toFixed(0)} MB/s (min ${Math.min(...mbps).toFixed(0)}, max ${Math.max(...mbps).toFixed(0)})`,
    );
  }
  const [first] = results;
  if (first === undefined) return;
  for (const r of results.slice(1)) {
    console.log(
      `  ratio ${first.name} / ${r.name} per round, min / median / max: ${formatSpread(roundRatios(first, r))}`,
    );
  }
  const second = results[1];
  for (const r of results.slice(2)) {
    if (second !== undefined)
      console.log(`  ratio ${second.name} / ${r.name}: ${formatSpread(roundRatios(second, r))}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
