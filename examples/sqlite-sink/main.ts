/**
 * Example: a fast async generator piped into a real on-disk SQLite database
 * through a BackpressureWritable (BLOCK), one transaction per batch.
 *
 *   npm run example:sqlite [-- <db-path> [events]]
 *
 * The sink is deliberately slower than the generator, so the buffer fills, the
 * stream goes `blocked`, `pipeline()` stops pulling from the generator, and
 * memory stays bounded by `maxBufferSize` (+ one batch in flight). Nothing is
 * dropped: at the end the table holds exactly `eventsFlushed` rows.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { BackpressureState, BackpressureWritable, type BackpressureMetrics, type StateChange } from '../../lib';
import { EventStore } from './event-store';
import { generateEvents, type DemoEvent } from './events';

export interface SqliteExampleOptions {
  /** Database file, kept. @default events.db in a new temporary directory, removed before `run()` settles */
  dbPath?: string;
  /** Events to generate. @default 20000 */
  events?: number;
  /** @default 200 */
  batchSize?: number;
  /** @default 1000 */
  maxBufferSize?: number;
  /** Wait before each batch, in ms (the slow part of the sink). @default 5 */
  sinkDelayMs?: number;
  /** The first this-many flush attempts fail mid-transaction and are retried. @default 0 */
  failFirstAttempts?: number;
  /** Progress lines. @default none */
  log?: (line: string) => void;
}

export interface SqliteExampleResult {
  dbPath: string;
  /** The database was the default temporary one, and it has been removed. */
  removed: boolean;
  generated: number;
  /** Rows in the table at the end (must equal `metrics.eventsFlushed`). */
  rows: number;
  metrics: BackpressureMetrics;
  /** How many times the stream entered `blocked` (the generator was paused). */
  timesBlocked: number;
  /** Largest `bufferSize` seen at a state change or flush: never above `maxBufferSize`. */
  maxBufferSizeSeen: number;
  elapsedMs: number;
}

export async function run(options: SqliteExampleOptions = {}): Promise<SqliteExampleResult> {
  const tempDir =
    options.dbPath === undefined ? fs.mkdtempSync(path.join(os.tmpdir(), 'backpressure-sqlite-')) : undefined;
  const dbPath = options.dbPath ?? path.join(tempDir as string, 'events.db');
  try {
    return await runWith(dbPath, tempDir !== undefined, options);
  } finally {
    if (tempDir !== undefined) fs.rmSync(tempDir, { recursive: true, force: true });
  }
}

async function runWith(dbPath: string, removed: boolean, options: SqliteExampleOptions): Promise<SqliteExampleResult> {
  const count = options.events ?? 20000;
  const log = options.log ?? (() => {});
  const store = new EventStore(dbPath, {
    sinkDelayMs: options.sinkDelayMs ?? 5,
    failFirstAttempts: options.failFirstAttempts ?? 0,
  });

  const stream = new BackpressureWritable<DemoEvent>({
    flush: store.flush,
    batchSize: options.batchSize ?? 200,
    maxBufferSize: options.maxBufferSize ?? 1000,
    retry: { retries: 5, minDelayMs: 10, maxDelayMs: 1000 },
  });
  let timesBlocked = 0;
  let maxBufferSizeSeen = 0;
  const sampleBuffer = (): void => {
    const size = stream.getMetrics().bufferSize;
    if (size > maxBufferSizeSeen) maxBufferSizeSeen = size;
  };
  // Per state change and per batch, never per item: the generator's hot path stays untouched.
  const seen = new Set<string>();
  stream.on('state', (change: StateChange) => {
    sampleBuffer();
    if (change.to === BackpressureState.BLOCKED) timesBlocked++;
    // Each kind of transition once: a slow sink makes the stream flap between critical and blocked.
    const transition = `${change.from} -> ${change.to}`;
    if (seen.has(transition)) return;
    seen.add(transition);
    log(`state ${transition} (utilization ${(change.utilization * 100).toFixed(0)}%)`);
  });
  stream.on('flush', sampleBuffer);
  stream.on('retry', (e: { items: number; error: Error }) => log(`retrying ${e.items} event(s): ${e.error.message}`));

  const started = Date.now();
  try {
    await pipeline(generateEvents(count), stream);
    const metrics = stream.getMetrics();
    const rows = store.rowCount();
    return {
      dbPath,
      removed,
      generated: count,
      rows,
      metrics,
      timesBlocked,
      maxBufferSizeSeen,
      elapsedMs: Date.now() - started,
    };
  } finally {
    store.close();
  }
}

function report(result: SqliteExampleResult): string {
  const m = result.metrics;
  const rate = Math.round((m.eventsFlushed / Math.max(result.elapsedMs, 1)) * 1000);
  return [
    `database          ${result.dbPath}${result.removed ? ' (temporary, removed; pass a path to keep one)' : ''}`,
    `generated         ${result.generated}`,
    `rows in table     ${result.rows}`,
    `eventsAccepted    ${m.eventsAccepted}`,
    `eventsFlushed     ${m.eventsFlushed}  (${rate}/s over ${result.elapsedMs} ms, ${m.flushes} transactions)`,
    `eventsRetried     ${m.eventsRetried}`,
    `eventsDeadLettered ${m.eventsDeadLettered}`,
    `times blocked     ${result.timesBlocked} (the generator was paused, not dropped)`,
    `max buffer seen   ${result.maxBufferSizeSeen} / ${m.maxBufferSize}`,
    `conservation      ${m.eventsAccepted} = ${m.eventsFlushed} + ${m.eventsDropped} + ${m.eventsDeadLettered} + ${m.bufferSize} + ${m.inFlight}`,
  ].join('\n');
}

if (require.main === module) {
  const [dbPath, events] = process.argv.slice(2);
  run({
    ...(dbPath === undefined ? {} : { dbPath }),
    ...(events === undefined ? {} : { events: Number(events) }),
    log: (line) => console.log(line),
  }).then(
    (result) => {
      console.log(report(result));
      if (result.rows !== result.metrics.eventsFlushed) process.exitCode = 1;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
