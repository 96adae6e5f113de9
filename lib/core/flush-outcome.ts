import { BackpressureError, ErrorCodes } from './errors';

/** What one flush attempt achieved, in the terms the stream accounts in. */
export interface FlushOutcome<T> {
  /** Items delivered by this attempt. */
  delivered: number;
  /** Items to retry, in batch order (empty on full success): always taken from `batch`, never the caller's array. */
  retry: T[];
  /** Why `retry` is not empty. */
  error: Error | undefined;
  /**
   * The delivered items of a partial success (batch order, taken from `batch`); undefined when the
   * attempt delivered all of the batch or none of it.
   */
  partlyDelivered?: T[];
}

/**
 * Reads what `flush` resolved with, against `batch`, the stream's own copy of
 * the items it handed over (flush got another copy: whatever flush did to its
 * array, or to the arrays it returns, is never read back into the account).
 *
 * Success is exactly `undefined`, or a valid FlushResult reporting no failure.
 * A valid FlushResult is a plain object; `success` and `failed` are integers
 * ≥ 0 that add up to the batch's length; `errors` is absent or an array;
 * `failedItems`, when given, is an array of exactly `failed` items that is a
 * sub-multiset of the batch (matched by SameValueZero, as Map keys: identity
 * for objects). `failedItems` retries exactly those items (in batch order);
 * `failed > 0` without it retries the whole batch (at-least-once: what the
 * sink did take is sent again). Anything else — null, an Error, `{}`, a
 * `Response`, counts that do not describe the batch, items not in it — is a
 * coded failure of the whole batch (ERR_BACKPRESSURE_INVALID_FLUSH_RESULT),
 * never a silent success nor a retry of something the stream never held.
 */
export function interpretFlushResult<T>(result: unknown, batch: readonly T[]): FlushOutcome<T> {
  if (result === undefined) return { delivered: batch.length, retry: [], error: undefined };
  try {
    return interpretObject(result, batch);
  } catch (err) {
    // A getter or Proxy in the result threw: not a result we can trust.
    return invalidResult(batch, `reading it threw (${err instanceof Error ? err.message : String(err)})`);
  }
}

function interpretObject<T>(result: unknown, batch: readonly T[]): FlushOutcome<T> {
  if (!isPlainObject(result)) return invalidResult(batch, describe(result));
  const { success, failed, errors, failedItems } = result as Record<string, unknown>;
  if (!isCount(success) || !isCount(failed)) {
    return invalidResult(batch, `success and failed must be integers >= 0 (got ${String(success)}, ${String(failed)})`);
  }
  if (success + failed !== batch.length) {
    return invalidResult(
      batch,
      `success + failed (${success} + ${failed}) must equal the batch length (${batch.length})`,
    );
  }
  if (errors !== undefined && !Array.isArray(errors)) return invalidResult(batch, 'errors must be an array when given');
  if (failedItems !== undefined && (!Array.isArray(failedItems) || failedItems.length !== failed)) {
    return invalidResult(batch, `failedItems must be an array of exactly failed (${failed}) items when given`);
  }
  if (failed === 0) return { delivered: batch.length, retry: [], error: undefined };
  const first: unknown = Array.isArray(errors) ? errors[0] : undefined;
  const error = first instanceof Error ? first : new Error(`flush reported ${failed} failed item(s)`);
  if (failedItems === undefined) return { delivered: 0, retry: batch.slice(), error };
  const split = splitBatch(batch, failedItems as unknown[]);
  if (split === undefined)
    return invalidResult(batch, 'failedItems must name items of the batch, each at most as often as it occurs there');
  const { retry, delivered } = split;
  return { delivered: delivered.length, retry, error, ...(delivered.length > 0 && { partlyDelivered: delivered }) };
}

/**
 * The batch's own items named by `named` (the first occurrences, matched by SameValueZero) and the
 * rest, both in batch order; undefined when `named` is not a sub-multiset of the batch. Failure
 * path only: allocates.
 */
function splitBatch<T>(batch: readonly T[], named: readonly unknown[]): { retry: T[]; delivered: T[] } | undefined {
  const wanted = new Map<unknown, number>();
  for (let i = 0; i < named.length; i++) {
    const item = named[i];
    wanted.set(item, (wanted.get(item) ?? 0) + 1);
  }
  const retry: T[] = [];
  const delivered: T[] = [];
  for (const item of batch) {
    const left = wanted.get(item);
    if (left === undefined) {
      delivered.push(item);
      continue;
    }
    retry.push(item);
    if (left === 1) wanted.delete(item);
    else wanted.set(item, left - 1);
  }
  return wanted.size === 0 ? { retry, delivered } : undefined;
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** `{ … }` literals and Object.create(null), from any realm; not class instances (Error, Response, Map, …). */
function isPlainObject(value: unknown): value is object {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === null || Object.getPrototypeOf(proto) === null;
}

function describe(value: unknown): string {
  if (value === null) return 'got null';
  if (typeof value !== 'object')
    return `got ${typeof value === 'string' ? JSON.stringify(value) : String(value)} (${typeof value})`;
  if (value instanceof Error) return `got an Error (${value.message})`;
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return `got ${Array.isArray(value) ? 'an array' : `a ${typeof name === 'string' && name !== '' ? name : 'non-plain'} object`}`;
}

function invalidResult<T>(batch: readonly T[], why: string): FlushOutcome<T> {
  const error = new BackpressureError(
    ErrorCodes.INVALID_FLUSH_RESULT,
    `flush must resolve with undefined or a valid FlushResult: ${why}`,
  );
  return { delivered: 0, retry: batch.slice(), error };
}

/** What `flush` rejected (or threw) with, as the Error its batch fails with: a non-Error is wrapped. */
export function rejectionError(value: unknown): Error {
  return value instanceof Error ? value : new Error(`flush rejected with a non-Error: ${String(value)}`);
}

/**
 * Durable mode: the seqs of `batch`'s items (`seqs[i]` is `batch[i]`'s) split into the delivered ones
 * and those left to `retry`, by the same matching as interpretFlushResult uses for `failedItems`: for each item of `retry`,
 * the first occurrence in `batch` not yet matched. Equal items (the same primitive twice) are
 * interchangeable, so whichever of their seqs is retried, each record is acknowledged exactly once.
 */
export function splitSeqs<T>(
  batch: readonly T[],
  retry: readonly T[],
  seqs: readonly number[],
): { delivered: number[]; retry: number[] } {
  if (retry.length === 0) return { delivered: seqs.slice(), retry: [] };
  if (retry.length === batch.length) return { delivered: [], retry: seqs.slice() };
  const left = new Map<T, number>();
  for (const item of retry) left.set(item, (left.get(item) ?? 0) + 1);
  const delivered: number[] = [];
  const retried: number[] = [];
  for (let i = 0; i < batch.length; i++) {
    const item = batch[i] as T;
    const n = left.get(item);
    if (n === undefined) delivered.push(seqs[i] as number);
    else {
      retried.push(seqs[i] as number);
      if (n === 1) left.delete(item);
      else left.set(item, n - 1);
    }
  }
  return { delivered, retry: retried };
}
