/**
 * Example: an NDJSON file → line splitter → `sample` stage → BackpressureWritable
 * → HTTP sink, in one `stream.pipeline` with an AbortSignal for cancellation.
 *
 *   npm run example:file-to-http [-- <file.ndjson> [url]]
 *
 * Without a URL it starts a local receiver (slow on purpose) on 127.0.0.1 and
 * posts there. Ctrl-C aborts the pipeline; the report still accounts for every
 * line: sent, sampled out (by reason), dead-lettered, or not yet read.
 */
import { once } from 'node:events';
import * as fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BackpressureWritable, type BackpressureMetrics } from '../../lib';
import { NdjsonSplitter, type NdjsonRecord, type NdjsonSplitterMetrics } from '../../lib/ndjson/ndjson-splitter';
import { sinkFlush } from '../../lib/sinks/sink-flush';
import { createHttpSink } from '../../lib/sinks/http-sink';
import { sample, type DropEvent, type SampleMetrics } from '../../lib/stages';

export interface FileToHttpOptions {
  /** The NDJSON file to send. Required. */
  file: string;
  /** Where each batch is POSTed as one application/x-ndjson body. Required. */
  url: string;
  /** Under pressure (stream `elevated` or worse), keep 1 line in this many. @default 10 */
  sampleRate?: number;
  /** Lines the sample stage may hold while the stream is blocked. @default 1000 */
  capacity?: number;
  /** Lines per POST. @default 100 */
  batchSize?: number;
  /** @default 1000 */
  maxBufferSize?: number;
  /** Cancels the whole pipeline (rejects it with an AbortError); the report is still complete. */
  signal?: AbortSignal;
  /** Undeliverable lines are appended here as NDJSON. @default none (counted only) */
  deadLetterFile?: string;
  /** Called for every line the sample stage drops (with the reason). @default none */
  onDrop?: (event: DropEvent<NdjsonRecord>) => void;
}

/**
 * Where every line went. `parsed === consumed + notConsumed`,
 * `consumed === kept + dropped` (+ `held`, 0 once the pipeline settled),
 * `kept === flushed + deadLettered` (+ buffered + in flight, 0 once settled).
 */
export interface FileToHttpReport {
  /** The pipeline's error (an AbortError when `signal` fired), or undefined when it completed. */
  error: Error | undefined;
  splitter: NdjsonSplitterMetrics;
  /** Valid lines the splitter produced. */
  parsed: number;
  /** Lines the sample stage took in. */
  consumed: number;
  /** Lines parsed but not yet taken by the stage when the pipeline stopped: never entered the stream, still in the file. */
  notConsumed: number;
  /** Lines the stage passed to the writable. */
  kept: number;
  /** Lines the stage dropped, all reasons. */
  dropped: number;
  stage: SampleMetrics;
  /** The writable's metrics: `eventsFlushed` lines were acknowledged (2xx) by the server. */
  writable: BackpressureMetrics;
}

/**
 * Runs the pipeline to its end (or its cancellation) and reports. It does not
 * reject for a pipeline failure: the failure is `report.error`, next to the
 * numbers that show nothing went missing.
 */
export async function run(options: FileToHttpOptions): Promise<FileToHttpReport> {
  const sink = createHttpSink(options.url);
  const deadLetterFile = options.deadLetterFile;
  const writable = new BackpressureWritable<NdjsonRecord>({
    flush: sinkFlush(sink),
    batchSize: options.batchSize ?? 100,
    maxBufferSize: options.maxBufferSize ?? 1000,
    retry: { retries: 3, minDelayMs: 50, maxDelayMs: 2000 },
    onDeadLetter: async (records) => {
      if (deadLetterFile === undefined) return;
      await fs.promises.appendFile(deadLetterFile, Buffer.concat(records.flatMap((r) => [r.bytes, NEWLINE])));
    },
  });
  // The stage reads the writable's pressure: it samples only while the sink is behind.
  const stage = sample<NdjsonRecord>({
    pressure: writable,
    rate: options.sampleRate ?? 10,
    capacity: options.capacity ?? 1000,
  });
  if (options.onDrop !== undefined) stage.on('drop', options.onDrop);
  const splitter = new NdjsonSplitter();

  let error: Error | undefined;
  try {
    await pipeline(
      fs.createReadStream(options.file),
      splitter,
      stage,
      writable,
      options.signal === undefined ? {} : { signal: options.signal },
    );
  } catch (err) {
    error = err as Error;
  }
  // On failure pipeline() can settle before the writable has closed: its _destroy is still handing what it
  // held to onDeadLetter (an async file append). Wait for that, or the numbers below would be mid-flight.
  // A plain 'close' listener, not events.once(): that would reject on the writable's 'error' (the same
  // AbortError pipeline() already reported).
  if (!writable.closed) await new Promise((resolve) => writable.once('close', resolve));
  await sink.close();

  const splitterMetrics = splitter.getMetrics();
  const stageMetrics = stage.getMetrics();
  return {
    error,
    splitter: splitterMetrics,
    parsed: splitterMetrics.valid,
    consumed: stageMetrics.written,
    notConsumed: splitterMetrics.valid - stageMetrics.written,
    kept: stageMetrics.passed,
    dropped: stageMetrics.dropped,
    stage: stageMetrics,
    writable: writable.getMetrics(),
  };
}

const NEWLINE = Buffer.from('\n');

/** A stand-in for a remote collector: answers each POST after `delayMs`, counting lines. */
export async function startReceiver(
  delayMs: number,
): Promise<{ url: string; lines: () => number; close: () => Promise<void> }> {
  let lines = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      setTimeout(() => {
        lines += Buffer.concat(chunks)
          .toString('utf8')
          .split('\n')
          .filter((l) => l !== '').length;
        res.end('ok');
      }, delayMs);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/ingest`,
    lines: () => lines,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function formatReport(report: FileToHttpReport): string {
  const w = report.writable;
  return [
    `outcome           ${report.error === undefined ? 'completed' : `stopped: ${report.error.name}: ${report.error.message}`}`,
    `lines parsed      ${report.parsed} (invalid ${report.splitter.invalid}, empty ${report.splitter.emptySkipped})`,
    `  consumed        ${report.consumed} (not consumed when stopped: ${report.notConsumed})`,
    `  kept            ${report.kept}`,
    `  dropped         ${report.dropped} ${JSON.stringify(report.stage.droppedByReason)}`,
    `kept lines        sent ${w.eventsFlushed} (${w.flushes} POSTs), dead-lettered ${w.eventsDeadLettered}, retried ${w.eventsRetried}`,
  ].join('\n');
}

if (require.main === module) {
  const [fileArg, urlArg] = process.argv.slice(2);
  const file = fileArg ?? path.join('examples', 'events.ndjson');
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  (async () => {
    const receiver = urlArg === undefined ? await startReceiver(20) : undefined;
    const url = urlArg ?? (receiver as { url: string }).url;
    console.log(`${file} -> ${url}${receiver === undefined ? '' : ' (local receiver, 20 ms per POST)'}`);
    const report = await run({
      file,
      url,
      batchSize: 20,
      maxBufferSize: 100,
      sampleRate: 5,
      signal: controller.signal,
    });
    console.log(formatReport(report));
    if (receiver !== undefined) {
      console.log(`receiver got      ${receiver.lines()} lines`);
      await receiver.close();
    }
    if (report.error !== undefined) process.exitCode = 1;
  })().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
