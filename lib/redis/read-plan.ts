import type { ResolvedSourceOptions } from './source-options';
import type { ReadResult, StreamReader } from './stream-reader';
import type { RawEntry } from './stream-replies';

/** Where entries handed out came from (and the metric that counts them). */
export type ReadOrigin = 'readNew' | 'readPending' | 'claimed';

/** What one step of reading found. */
export type ReadOutcome =
  | {
      kind: 'entries';
      origin: ReadOrigin;
      entries: RawEntry[];
      /** Pending entries whose stream entry was deleted; `clear`: ours to acknowledge (Redis did not drop them). */
      deleted: { ids: string[]; clear: boolean };
    }
  /** Moved on without waiting (a phase ended, a scan page had nothing): not idle. */
  | { kind: 'moved-on' }
  /** A read of new entries came back empty. */
  | { kind: 'empty' }
  /** Idle for `endWhenIdleMs`, and a last takeover scan found nothing: time to end. */
  | { kind: 'idle' };

const Phase = {
  /** Reading this consumer's own pending entries (at the start, after a reconnect or a lost group). */
  PENDING: 'pending',
  /** Taking over idle entries when a scan is due, otherwise reading new ones. */
  LIVE: 'live',
} as const;
type Phase = (typeof Phase)[keyof typeof Phase];

const NO_DELETIONS = { ids: [], clear: false };

/**
 * What the source reads next, and when it may block: its own pending list first (from id 0, again
 * after a reconnect), a takeover scan (XAUTOCLAIM) every half `claimIdleMs`, new entries otherwise —
 * without BLOCK while they keep coming, one batch read ahead — and the idle bookkeeping behind
 * `endWhenIdleMs`. It reads; the source decides what to hand out.
 */
export class ReadPlan {
  readonly #reader: StreamReader;
  readonly #o: ResolvedSourceOptions<string | Buffer>;
  readonly #claimIntervalMs: number;
  #phase: Phase = Phase.PENDING;
  #pendingCursor = '0';
  #claimCursor = '0-0';
  #nextClaimAt = 0;
  /** The idle deadline passed: one last complete takeover scan decides whether to end. */
  #finalScan = false;
  #idleSince: number | undefined;
  #groupReady = false;
  /** A read of new entries started while the previous batch was being handed out (see #readAhead), and when. */
  #ahead: Promise<ReadResult> | null = null;
  #aheadStartedAt = 0;
  /** The last read of new entries came back full: the next one need not block (see StreamReader.readNew). */
  #lastReadFull = false;
  #stopped = false;

  constructor(reader: StreamReader, options: ResolvedSourceOptions<string | Buffer>) {
    this.#reader = reader;
    this.#o = options;
    this.#claimIntervalMs = Math.max(Math.floor(options.claimIdleMs / 2), 1);
  }

  /** One command's worth of reading, at most `room` entries; `held`: how many the source holds now. */
  async next(room: number, held: number): Promise<ReadOutcome> {
    if (!this.#groupReady) {
      await this.#reader.ensureGroup(this.#o.groupStartId);
      this.#groupReady = true;
    }
    const ahead = this.#ahead;
    if (ahead !== null) {
      this.#ahead = null;
      return this.#onNewEntries(await ahead, this.#aheadStartedAt, held);
    }
    if (this.#phase === Phase.PENDING) {
      const read = await this.#reader.readPending(this.#pendingCursor, room);
      if (read.lastId === undefined) {
        this.#phase = Phase.LIVE;
        return { kind: 'moved-on' };
      }
      this.#pendingCursor = read.lastId;
      // Deleted entries of our own pending list: nothing to deliver, and nobody else will clear them.
      return { kind: 'entries', origin: 'readPending', entries: read.entries, deleted: deletions(read, true) };
    }
    if (Date.now() >= this.#nextClaimAt) {
      const claimed = await this.#reader.claim(this.#claimCursor, this.#o.claimIdleMs, room);
      this.#claimCursor = claimed.cursor;
      const scanDone = claimed.cursor === '0-0';
      if (scanDone) this.#nextClaimAt = Date.now() + this.#claimIntervalMs;
      if (claimed.entries.length + claimed.deleted.length > 0) {
        // Redis already removed deleted entries from the pending list.
        return { kind: 'entries', origin: 'claimed', entries: claimed.entries, deleted: deletions(claimed, false) };
      }
      if (scanDone && this.#finalScan) return { kind: 'idle' };
      return { kind: 'moved-on' };
    }
    const now = Date.now();
    // After a full batch more is likely waiting: ask without blocking; block only once the stream ran dry.
    const blockMs = this.#lastReadFull ? undefined : this.#blockMsAt(now);
    return this.#onNewEntries(await this.#reader.readNew(room, blockMs), now, held);
  }

  /** Something was handed out or dead-lettered: the source is not idle. */
  progress(): void {
    this.#idleSince = undefined;
    this.#finalScan = false;
  }

  /** After an empty read: once idle for `endWhenIdleMs`, the next step is a last, complete takeover scan. */
  afterEmpty(): void {
    const endAfter = this.#o.endWhenIdleMs;
    if (endAfter === undefined || this.#finalScan || this.#idleSince === undefined) return;
    if (Date.now() - this.#idleSince < endAfter) return;
    this.#finalScan = true;
    this.#nextClaimAt = 0;
    this.#claimCursor = '0-0';
  }

  /** The stream or group is gone (deleted, or Redis restarted without persistence): create it again. */
  groupLost(): void {
    this.#groupReady = false;
    this.#phase = Phase.PENDING;
    this.#pendingCursor = '0';
    this.#claimCursor = '0-0';
  }

  /** The reader connection came back: what it read just before may never have arrived, so re-read our pending list. */
  readerReconnected(): void {
    this.#reader.onReaderReconnected();
    this.#phase = Phase.PENDING;
    this.#pendingCursor = '0';
  }

  /** No more reads ahead; hands over the one in flight, if any (Redis delivered it to us: it is still handed out). */
  stop(): Promise<ReadResult> | null {
    this.#stopped = true;
    const ahead = this.#ahead;
    this.#ahead = null;
    return ahead;
  }

  /** How long a read of new entries started at `now` may wait: never past the next takeover scan or the idle deadline. */
  #blockMsAt(now: number): number {
    const o = this.#o;
    const blockMs = Math.min(o.blockMs, Math.max(this.#nextClaimAt - now, 1));
    if (o.endWhenIdleMs === undefined) return blockMs;
    // The idle deadline counts from this read when it is the first empty one.
    return Math.min(blockMs, Math.max((this.#idleSince ?? now) + o.endWhenIdleMs - now, 1));
  }

  #onNewEntries(read: ReadResult, startedAt: number, held: number): ReadOutcome {
    this.#lastReadFull = read.entries.length >= this.#o.count;
    if (read.entries.length === 0) {
      this.#idleSince ??= startedAt;
      return { kind: 'empty' };
    }
    this.#finalScan = false;
    this.#readAhead(read.entries.length, held);
    return { kind: 'entries', origin: 'readNew', entries: read.entries, deleted: NO_DELETIONS };
  }

  /**
   * After a full batch of new entries (more are likely waiting), the next read starts before this
   * batch is handed out, so that its round trip overlaps the work downstream instead of adding to
   * it. At most one batch ahead, within `maxUnacknowledged`, and only while nothing else is due
   * (a takeover scan, the idle check, a stop): bounded, and what it reads is handed out next.
   */
  #readAhead(got: number, held: number): void {
    const o = this.#o;
    if (got < o.count || this.#stopped || this.#phase !== Phase.LIVE || this.#finalScan) return;
    const now = Date.now();
    if (now >= this.#nextClaimAt || held + got + o.count > o.maxUnacknowledged) return;
    this.#aheadStartedAt = now;
    const ahead = this.#reader.readNew(o.count, undefined);
    ahead.catch(() => undefined); // its failure is handled where it is awaited (the next step)
    this.#ahead = ahead;
  }
}

function deletions(read: { deleted: { id: string }[] }, clear: boolean): { ids: string[]; clear: boolean } {
  return read.deleted.length === 0 ? NO_DELETIONS : { ids: read.deleted.map((d) => d.id), clear };
}
