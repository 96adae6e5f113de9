/**
 * examples/sqlite-sink: a fast generator into a real SQLite file through BLOCK.
 * Nothing may be lost or duplicated, even when transactions fail and are retried.
 */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run, type SqliteExampleResult } from '../examples/sqlite-sink/main';

let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'example-sqlite-test-'));
});

afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

/** id → number of rows with that id, read back from the file by a separate connection. */
function idCounts(dbPath: string): Map<number, number> {
  const db = new Database(dbPath, { readonly: true });
  try {
    const rows = db.prepare('SELECT id, COUNT(*) AS n FROM events GROUP BY id').all() as { id: number; n: number }[];
    return new Map(rows.map((r) => [r.id, r.n]));
  } finally {
    db.close();
  }
}

function expectConservation(result: SqliteExampleResult): void {
  const m = result.metrics;
  expect(m.eventsAccepted).toBe(m.eventsFlushed + m.eventsDropped + m.eventsDeadLettered + m.bufferSize + m.inFlight);
}

function expectEveryIdOnce(dbPath: string, count: number): void {
  const counts = idCounts(dbPath);
  expect(counts.size).toBe(count);
  for (let id = 1; id <= count; id++) expect([id, counts.get(id)]).toEqual([id, 1]);
}

test('every generated event lands in the table exactly once, and the row count equals eventsFlushed', async () => {
  const dbPath = path.join(dir, 'events.db');
  const result = await run({ dbPath, events: 3000, batchSize: 50, maxBufferSize: 200, sinkDelayMs: 2 });

  expect(result.rows).toBe(result.metrics.eventsFlushed);
  expect(result.metrics.eventsFlushed).toBe(3000);
  expect(result.metrics.eventsAccepted).toBe(3000);
  expect(result.metrics.eventsDeadLettered).toBe(0);
  expect(result.metrics.eventsDropped).toBe(0);
  expectConservation(result);
  expectEveryIdOnce(dbPath, 3000);
  // The generator outran the sink (it never yields to the event loop, the sink waits on a
  // timer), so BLOCK had to pause it, and the buffer stayed within its bound.
  expect(result.timesBlocked).toBeGreaterThan(0);
  expect(result.maxBufferSizeSeen).toBeLessThanOrEqual(200);
});

test('a transaction that fails half-way is rolled back and retried without duplicating rows', async () => {
  const dbPath = path.join(dir, 'events.db');
  const result = await run({ dbPath, events: 1000, batchSize: 50, maxBufferSize: 200, sinkDelayMs: 0, failFirstAttempts: 3 });

  // Three failed attempts of 50 events each were retried.
  expect(result.metrics.eventsRetried).toBe(150);
  expect(result.metrics.failedFlushes).toBe(3);
  expect(result.rows).toBe(result.metrics.eventsFlushed);
  expect(result.rows).toBe(1000);
  expectConservation(result);
  expectEveryIdOnce(dbPath, 1000);
});

test('refuses to count into a table that already holds rows', async () => {
  const dbPath = path.join(dir, 'events.db');
  await run({ dbPath, events: 10, sinkDelayMs: 0, batchSize: 5, maxBufferSize: 10 });
  await expect(run({ dbPath, events: 10, sinkDelayMs: 0, batchSize: 5, maxBufferSize: 10 })).rejects.toThrow(/already holds 10 event/);
  // The first run's rows are untouched.
  expectEveryIdOnce(dbPath, 10);
});
