/**
 * examples/file-to-http: a real NDJSON file through splitter → sample →
 * BackpressureWritable → HTTP sink into a real node:http server on 127.0.0.1.
 * Every line is accounted for, on completion and on cancellation.
 */
import * as fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { NdjsonRecord } from '../../lib/ndjson/ndjson-splitter';
import type { DropEvent } from '../../lib/stages';
import { run, type FileToHttpReport } from '../../examples/file-to-http/main';

const LINES = 3000;

let dir: string;
let file: string;
let server: http.Server;
let url: string;
/** Ids in the bodies the server acknowledged with 200. */
let acknowledged: number[];
let requests: number;
/** The server's behaviour for the n-th request (1-based): answer it, or do something else and never answer. */
let onRequest: (n: number) => 'answer' | 'hang';

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'example-file-to-http-'));
  file = path.join(dir, 'events.ndjson');
  const lines: string[] = [];
  for (let id = 1; id <= LINES; id++) lines.push(JSON.stringify({ id, msg: 'x'.repeat(id % 50) }));
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

beforeEach(async () => {
  acknowledged = [];
  requests = 0;
  onRequest = () => 'answer';
  server = http.createServer((req, res) => {
    const n = ++requests;
    if (onRequest(n) === 'hang') {
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // Counted only as it is acknowledged: what the client may consider flushed.
      for (const line of Buffer.concat(chunks).toString('utf8').split('\n')) {
        if (line !== '') acknowledged.push((JSON.parse(line) as { id: number }).id);
      }
      res.end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function idsOf(records: NdjsonRecord[]): number[] {
  return records.map((r) => (JSON.parse(r.bytes.toString('utf8')) as { id: number }).id);
}

function readDeadLetters(deadLetterFile: string): number[] {
  if (!fs.existsSync(deadLetterFile)) return [];
  return idsOf(
    fs
      .readFileSync(deadLetterFile, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => ({ line: 0, bytes: Buffer.from(l) })),
  );
}

/** The relations the report promises, once the pipeline has settled. */
function expectBalanced(report: FileToHttpReport): void {
  const w = report.writable;
  expect(report.parsed).toBe(report.consumed + report.notConsumed);
  expect(report.consumed).toBe(report.kept + report.dropped);
  expect(report.stage.held).toBe(0);
  expect(w.eventsAccepted).toBe(report.kept);
  expect(w.bufferSize + w.inFlight).toBe(0);
  expect(w.eventsAccepted).toBe(w.eventsFlushed + w.eventsDeadLettered);
  // What the server acknowledged is exactly what the stream counts as flushed.
  expect(acknowledged).toHaveLength(w.eventsFlushed);
}

test('to the end: kept + dropped (sampled-out) == lines, and the server received exactly what was flushed', async () => {
  const dropped: number[] = [];
  const report = await run({
    file,
    url,
    sampleRate: 4,
    batchSize: 50,
    maxBufferSize: 200,
    onDrop: (event: DropEvent<NdjsonRecord>) => dropped.push(...idsOf([event.item])),
  });

  expect(report.error).toBeUndefined();
  expect(report.parsed).toBe(LINES);
  expect(report.notConsumed).toBe(0);
  expectBalanced(report);
  expect(report.kept + report.dropped).toBe(LINES);
  // The file is read far faster than HTTP answers, so the stream was under pressure and the stage sampled.
  expect(report.stage.droppedByReason['sampled-out']).toBeGreaterThan(0);
  expect(report.writable.eventsFlushed).toBe(report.kept);
  expect(report.writable.eventsDeadLettered).toBe(0);
  // Line by line: each id was sent once or dropped once, never both, none missing; sent in file order.
  expect([...acknowledged, ...dropped].sort((a, b) => a - b)).toEqual(Array.from({ length: LINES }, (_, i) => i + 1));
  expect(acknowledged).toEqual([...acknowledged].sort((a, b) => a - b));
  expect(dropped).toHaveLength(report.dropped);
});

test('aborting mid-way rejects the pipeline with an AbortError and every consumed line is still accounted for', async () => {
  const controller = new AbortController();
  // The third POST aborts the pipeline and is never answered: its batch is in flight when everything is torn down.
  onRequest = (n) => {
    if (n < 3) return 'answer';
    if (n === 3) controller.abort();
    return 'hang';
  };
  const deadLetterFile = path.join(dir, 'dead-letters.ndjson');
  fs.rmSync(deadLetterFile, { force: true });
  const dropped: number[] = [];
  const report = await run({
    file,
    url,
    sampleRate: 4,
    batchSize: 50,
    maxBufferSize: 200,
    signal: controller.signal,
    deadLetterFile,
    onDrop: (event) => dropped.push(...idsOf([event.item])),
  });

  expect(report.error).toMatchObject({ name: 'AbortError' });
  expectBalanced(report);
  // Two batches acknowledged, nothing after the abort.
  expect(acknowledged).toHaveLength(100);
  expect(report.writable.eventsFlushed).toBe(100);
  // The in-flight batch and whatever was buffered went to the dead-letter file; what the stage held was dropped as 'destroyed'.
  const dead = readDeadLetters(deadLetterFile);
  expect(dead.length).toBe(report.writable.eventsDeadLettered);
  expect(dead.length).toBeGreaterThanOrEqual(50);
  expect(dropped).toHaveLength(report.dropped);
  // Every consumed line is in exactly one place: acknowledged, dead-lettered or dropped. The stage
  // consumes in file order, so the consumed lines are ids 1..consumed.
  expect([...acknowledged, ...dead, ...dropped].sort((a, b) => a - b)).toEqual(
    Array.from({ length: report.consumed }, (_, i) => i + 1),
  );
  expect(report.consumed).toBeLessThanOrEqual(LINES);
});

test('an abort before the start: AbortError, nothing sent, nothing lost', async () => {
  const controller = new AbortController();
  controller.abort();
  const report = await run({ file, url, signal: controller.signal });
  expect(report.error).toMatchObject({ name: 'AbortError' });
  expectBalanced(report);
  expect(requests).toBe(0);
});

test('a missing file is reported as the error, with empty accounting', async () => {
  const report = await run({ file: path.join(dir, 'nope.ndjson'), url });
  expect(report.error).toMatchObject({ code: 'ENOENT' });
  expect(report.parsed).toBe(0);
  expectBalanced(report);
});
