/**
 * The fuzzer's oracle for `onSettled(items, how)`, by item id (docs/writable.md, `onSettled`):
 *   - an item counted as flushed (delivered by a flush answer the stream accepted) is settled
 *     'flushed' exactly once, and only once the stream has counted it (eventsFlushed already holds it);
 *   - an item is settled 'dead-lettered' exactly once iff it went to an `onDeadLetter` call that
 *     resolved, and only after that call resolved (and after eventsDeadLettered holds it);
 *   - nothing else is ever settled: no id twice, no id handed back in an error's `items`, and no id
 *     sent to `flush` again after it was settled (a source would have acknowledged it already);
 *   - the invariant holds inside `onSettled`;
 *   - an `onSettled` that throws while the stream is open fails it with
 *     ERR_BACKPRESSURE_SETTLED_HANDLER_FAILED, whose cause is the throw (unless `onDeadLetter` failed
 *     too: its ERR_BACKPRESSURE_DEAD_LETTER_FAILED wins over every error; or the caller destroyed the
 *     stream with an error of its own from a listener of the failure: the caller's error wins);
 *     the account stays exact (the run's other checks), and the hook goes on being told.
 */
import { ErrorCodes, type BackpressureMetrics, type Settlement } from '../../../lib';
import type { FuzzCase, FuzzItem } from './fuzz-case';

/** What the oracle needs of the case run. */
export interface SettledHost {
  /** Reports a failure of kind 'settled' at `where`. */
  fail(where: string, message: string): void;
  log(line: string): void;
  /** The ids of `items`, reporting objects that were never written. */
  ids(items: readonly unknown[], where: string): number[];
  /** The next number of the run's event sequence. */
  seq(): number;
  /** Per id, how many flush answers the stream accepted delivered it. */
  acked(): Map<number, number>;
  /** The invariant and the account against what was written, at `where`; the metrics read. */
  checkInvariant(where: string): BackpressureMetrics | undefined;
  isDestroyed(): boolean;
}

/** What the final check needs to know of one item. */
export interface SettledItemFacts {
  written: boolean;
  /** How many emitted errors carry it in their `items`. */
  errorItems: number;
}

/** The error a throwing `onSettled` of the fuzzer throws: the stream's error must have it as its cause. */
export class SettledHandlerThrow extends Error {
  constructor(call: number) {
    super(`fuzz: onSettled failed on call ${call} (the acknowledgement store is down)`);
    this.name = 'FuzzSettledHandlerThrow';
  }
}

function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export class SettledOracle {
  readonly #host: SettledHost;
  /** From this call on (1-based), the hook throws; undefined: it never does. */
  readonly #throwFrom: number | undefined;
  readonly #flushed: number[];
  readonly #deadLettered: number[];
  /** onDeadLetter calls that resolved with the item. */
  readonly #resolved: number[];
  /** Sequence number of the first settlement of each item (-1: never settled). */
  readonly #settledSeq: number[];
  #calls = 0;
  #totalFlushed = 0;
  #totalDeadLettered = 0;
  /** The hook threw while the stream was still open: the stream must fail because of it. */
  #threwWhileOpen = false;
  #threw = 0;

  constructor(host: SettledHost, spec: NonNullable<FuzzCase['settled']>, itemCount: number) {
    this.#host = host;
    this.#throwFrom = spec.throwFrom;
    this.#flushed = new Array<number>(itemCount).fill(0);
    this.#deadLettered = new Array<number>(itemCount).fill(0);
    this.#resolved = new Array<number>(itemCount).fill(0);
    this.#settledSeq = new Array<number>(itemCount).fill(-1);
  }

  /** The hook installed as `onSettled`. */
  readonly onSettled = (items: FuzzItem[], how: Settlement): void => {
    const host = this.#host;
    const call = ++this.#calls;
    const ids = host.ids(items, 'onSettled');
    host.log(`onSettled ${how} [${ids.join(',')}]`);
    const m = host.checkInvariant('onSettled');
    if (how === 'flushed') this.#onFlushed(ids, m);
    else if (how === 'dead-lettered') this.#onDeadLettered(ids, m);
    else host.fail('how', `onSettled was told '${String(how)}', neither 'flushed' nor 'dead-lettered'`);
    for (const id of ids) {
      if ((this.#flushed[id] as number) + (this.#deadLettered[id] as number) > 1)
        host.fail(
          'twice',
          `item ${id} settled twice (flushed ${this.#flushed[id]}, dead-lettered ${this.#deadLettered[id]})`,
        );
      if (this.#settledSeq[id] === -1) this.#settledSeq[id] = host.seq();
    }
    if (this.#throwFrom !== undefined && call >= this.#throwFrom) {
      this.#threw++;
      if (!host.isDestroyed()) this.#threwWhileOpen = true;
      host.log(`onSettled throws (call ${call})`);
      throw new SettledHandlerThrow(call);
    }
  };

  #onFlushed(ids: number[], m: BackpressureMetrics | undefined): void {
    const acks = this.#host.acked();
    for (const id of ids) {
      const n = ++this.#flushed[id]!;
      const delivered = acks.get(id) ?? 0;
      if (n > delivered)
        this.#host.fail(
          'flushed-not-delivered',
          `item ${id} settled 'flushed' ${n} time(s), but ${delivered} accepted flush answer(s) delivered it`,
        );
    }
    this.#totalFlushed += ids.length;
    if (m !== undefined && m.eventsFlushed < this.#totalFlushed)
      this.#host.fail(
        'before-count',
        `${this.#totalFlushed} item(s) settled 'flushed' but eventsFlushed is ${m.eventsFlushed}: settled before counted`,
      );
  }

  #onDeadLettered(ids: number[], m: BackpressureMetrics | undefined): void {
    for (const id of ids) {
      const n = ++this.#deadLettered[id]!;
      const resolved = this.#resolved[id] as number;
      if (n > resolved)
        this.#host.fail(
          'dead-lettered-unresolved',
          `item ${id} settled 'dead-lettered' ${n} time(s), but ${resolved} onDeadLetter call(s) with it resolved`,
        );
    }
    this.#totalDeadLettered += ids.length;
    if (m !== undefined && m.eventsDeadLettered < this.#totalDeadLettered)
      this.#host.fail(
        'before-count',
        `${this.#totalDeadLettered} item(s) settled 'dead-lettered' but eventsDeadLettered is ${m.eventsDeadLettered}`,
      );
  }

  /** An onDeadLetter call with `ids` resolved (its value is about to reach the stream). */
  deadLetterResolved(ids: readonly number[]): void {
    for (const id of ids) this.#resolved[id]!++;
  }

  /** A flush attempt (started at `startSeq`) carries `ids`: none of them may have been settled before. */
  checkSent(ids: readonly number[], call: number, startSeq: number): void {
    for (const id of ids) {
      const seq = this.#settledSeq[id] as number;
      if (seq !== -1 && seq < startSeq)
        this.#host.fail('resent', `item ${id} reached flush (call ${call}) after it was settled`);
    }
  }

  /** Once the stream has closed: every item settled exactly as it ended, and a throw failed the stream. */
  finalCheck(
    items: readonly SettledItemFacts[],
    errors: readonly unknown[],
    outcome: { deadLetterHandlerFailed: boolean; userErrorWon: boolean },
  ): void {
    const host = this.#host;
    const acks = host.acked();
    for (let id = 0; id < items.length; id++) {
      const facts = items[id] as SettledItemFacts;
      const flushed = this.#flushed[id] as number;
      const deadLettered = this.#deadLettered[id] as number;
      if (!facts.written) {
        if (flushed + deadLettered > 0) host.fail('never-written', `item ${id} was never written but was settled`);
        continue;
      }
      const delivered = acks.get(id) ?? 0;
      if (flushed !== delivered)
        host.fail(
          'final-flushed',
          `item ${id}: delivered by ${delivered} accepted flush answer(s), settled 'flushed' ${flushed} time(s)`,
        );
      const resolved = this.#resolved[id] as number;
      if (deadLettered !== resolved)
        host.fail(
          'final-dead-lettered',
          `item ${id}: ${resolved} onDeadLetter call(s) with it resolved, settled 'dead-lettered' ${deadLettered} time(s)`,
        );
      if (facts.errorItems > 0 && flushed + deadLettered > 0)
        host.fail('error-items', `item ${id} was handed back in an error's items, and settled too`);
    }
    const settledErrors = errors.filter((e) => codeOf(e) === ErrorCodes.SETTLED_HANDLER_FAILED);
    if (this.#threw === 0 && settledErrors.length > 0)
      host.fail('throw', 'ERR_BACKPRESSURE_SETTLED_HANDLER_FAILED although onSettled never threw');
    for (const e of settledErrors) {
      const cause = (e as { cause?: unknown }).cause;
      if (!(cause instanceof SettledHandlerThrow))
        host.fail(
          'throw',
          `ERR_BACKPRESSURE_SETTLED_HANDLER_FAILED whose cause is not onSettled's throw: ${String(cause)}`,
        );
    }
    // A caller's own destroy(err) made inside a listener of that failure (its 'dead-letter' event) wins, as it
    // does over every internal failure but a failed onDeadLetter (docs/writable.md, "Ending and destroying").
    if (this.#threwWhileOpen && !outcome.userErrorWon) {
      const codes = errors.map((e) => codeOf(e) ?? String(e));
      const expected = outcome.deadLetterHandlerFailed
        ? ErrorCodes.DEAD_LETTER_FAILED
        : ErrorCodes.SETTLED_HANDLER_FAILED;
      if (!codes.includes(expected))
        host.fail(
          'throw',
          `onSettled threw while the stream was open, but it emitted [${codes.join(', ')}], not ${expected}`,
        );
    }
  }
}
