/**
 * examples/sqlite-sink: a fast generator into a real SQLite file through BLOCK.
 * Nothing may be lost or duplicated, even when transactions fail and are retried.
 */
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run, type SqliteExampleResult } from '../../examples/sqlite-sink/main';

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
  const result = await run({
    dbPath,
    events: 1000,
    batchSize: 50,
    maxBufferSize: 200,
    sinkDelayMs: 0,
    failFirstAttempts: 3,
  });

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
  await expect(run({ dbPath, events: 10, sinkDelayMs: 0, batchSize: 5, maxBufferSize: 10 })).rejects.toThrow(
    /already holds 10 event/,
  );
  // The first run's rows are untouched.
  expectEveryIdOnce(dbPath, 10);
});

describe('without a dbPath, the temporary database', () => {
  // The real fs module, which the example's own import reads through: spying on it shows the directory it made.
  const realFs = jest.requireActual<typeof import('node:fs')>('node:fs');
  let mkdtemp: jest.SpiedFunction<typeof fs.mkdtempSync>;
  beforeEach(() => {
    mkdtemp = jest.spyOn(realFs, 'mkdtempSync');
  });
  afterEach(() => {
    mkdtemp.mockRestore();
  });

  function madeDirs(): string[] {
    return mkdtemp.mock.results
      .map((r) => r.value as string)
      .filter((d) => path.basename(d).startsWith('backpressure-sqlite-'));
  }

  test('is removed once the run has counted the rows', async () => {
    const result = await run({ events: 50, sinkDelayMs: 0, batchSize: 10, maxBufferSize: 20 });
    expect(result.rows).toBe(50);
    expect(result.removed).toBe(true);
    expect(madeDirs()).toEqual([path.dirname(result.dbPath)]);
    expect(fs.existsSync(path.dirname(result.dbPath))).toBe(false);
  });

  test('is removed when the run fails', async () => {
    // Every attempt fails: after the retries the stream fails (no dead-letter handler) and run() rejects.
    await expect(
      run({ events: 20, sinkDelayMs: 0, batchSize: 10, maxBufferSize: 20, failFirstAttempts: 1000 }),
    ).rejects.toThrow();
    const dirs = madeDirs();
    expect(dirs).toHaveLength(1);
    expect(fs.existsSync(dirs[0] as string)).toBe(false);
  });
});
