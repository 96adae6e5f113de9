/**
 * The baselines of bench/http.bench.ts: what one writes by hand to ship NDJSON from stdin to an
 * HTTP endpoint with a few requests in flight — node:readline, batches of BATCH lines joined into
 * one body, a keep-alive agent, at most IN_FLIGHT requests at once (reading waits for a free one).
 * `validate` runs JSON.parse on every line and skips the invalid ones (what the CLI's validation
 * does); `raw` sends lines as they come.
 *
 *   node http-client-baseline.js URL BATCH IN_FLIGHT validate|raw < input.ndjson
 */
import http from 'node:http';
import { createInterface } from 'node:readline';

async function main(): Promise<void> {
  const [url = '', batchArg = '500', inFlightArg = '4', mode = 'validate'] = process.argv.slice(2);
  const batchSize = Number(batchArg);
  const maxInFlight = Number(inFlightArg);
  const validate = mode === 'validate';
  const agent = new http.Agent({ keepAlive: true, maxSockets: maxInFlight });
  let inFlight = 0;
  let failed = 0;
  let invalid = 0;
  let wake: (() => void) | null = null;
  const slotFreed = (): Promise<void> => new Promise((resolve) => (wake = resolve));
  const post = (body: string): void => {
    inFlight++;
    const headers = { 'content-type': 'application/x-ndjson', 'content-length': Buffer.byteLength(body) };
    const done = (ok: boolean): void => {
      if (!ok) failed++;
      inFlight--;
      wake?.();
    };
    const req = http.request(url, { method: 'POST', agent, headers }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode === 200));
    });
    req.on('error', () => done(false));
    req.end(body);
  };
  let batch: string[] = [];
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (validate) {
      try {
        JSON.parse(line);
      } catch {
        invalid++;
        continue;
      }
    }
    batch.push(line);
    if (batch.length === batchSize) {
      while (inFlight >= maxInFlight) await slotFreed();
      post(`${batch.join('\n')}\n`);
      batch = [];
    }
  }
  if (batch.length > 0) post(`${batch.join('\n')}\n`);
  while (inFlight > 0) await slotFreed();
  agent.destroy();
  if (invalid > 0) process.stderr.write(`${invalid} invalid lines\n`);
  if (failed > 0) throw new Error(`${failed} requests failed`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exitCode = 1;
});
