import Database from 'better-sqlite3';
import { setTimeout as delay } from 'node:timers/promises';
import type { FlushContext, FlushFunction } from '../../lib';
import type { DemoEvent } from './events';

export interface EventStoreOptions {
  /**
   * Extra wait before each batch, in ms: makes the sink deliberately slower than
   * the generator, so that the buffer fills and BLOCK is visible.
   * @default 5
   */
  sinkDelayMs?: number;
  /**
   * The first this-many flush attempts fail half-way through their transaction
   * (after inserting half of the batch), to show that the rollback plus the
   * stream's retry never duplicates a row.
   * @default 0
   */
  failFirstAttempts?: number;
}

/**
 * An on-disk SQLite table of events, written one transaction per batch.
 *
 * A batch is all-or-nothing: `db.transaction()` commits every row of it or,
 * when anything throws, rolls all of them back. So when the stream retries a
 * failed batch, no row of it is already there, and the table never holds an
 * event twice. (The event id is deliberately *not* a unique key: a duplicate
 * would show up in the test instead of being hidden by a constraint.)
 */
export class EventStore {
  readonly path: string;
  readonly #db: Database.Database;
  readonly #insertBatch: (batch: DemoEvent[]) => void;
  readonly #sinkDelayMs: number;
  #failuresLeft: number;

  constructor(path: string, options: EventStoreOptions = {}) {
    this.path = path;
    this.#sinkDelayMs = options.sinkDelayMs ?? 5;
    this.#failuresLeft = options.failFirstAttempts ?? 0;
    const db = new Database(path);
    // WAL: readers (the test, a curious user with the sqlite3 shell) never block the writer.
    db.pragma('journal_mode = WAL');
    db.exec(
      'CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, id INTEGER NOT NULL, ts INTEGER NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL);' +
        'CREATE INDEX IF NOT EXISTS events_id ON events (id);',
    );
    const existing = (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
    if (existing > 0) {
      db.close();
      // Counting rows against eventsFlushed only means something on an empty table.
      throw new Error(`${path} already holds ${existing} event(s); pass a new database path`);
    }
    const insert = db.prepare('INSERT INTO events (id, ts, kind, payload) VALUES (?, ?, ?, ?)');
    this.#insertBatch = db.transaction((batch: DemoEvent[]) => {
      const half = batch.length >> 1;
      for (let i = 0; i < batch.length; i++) {
        const e = batch[i] as DemoEvent;
        if (i === half && this.#failuresLeft > 0) {
          this.#failuresLeft--;
          throw new Error('injected failure half-way through the transaction (rolled back)');
        }
        insert.run(e.id, e.ts, e.kind, e.payload);
      }
    });
    this.#db = db;
  }

  /** The stream's `flush`: wait (the slow part), then insert the whole batch in one transaction. */
  readonly flush: FlushFunction<DemoEvent> = async (batch: DemoEvent[], ctx: FlushContext): Promise<void> => {
    // The signal ends the wait when the stream gives up on this attempt (flush timeout, destroy).
    if (this.#sinkDelayMs > 0) await delay(this.#sinkDelayMs, undefined, { signal: ctx.signal });
    this.#insertBatch(batch);
  };

  rowCount(): number {
    return (this.#db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
  }

  close(): void {
    this.#db.close();
  }
}
