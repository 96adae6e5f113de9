import { BackpressureError, ErrorCodes } from './errors';
import type { FlushResult } from './options';

/** What one flush attempt achieved, in the terms the stream accounts in. */
export interface FlushOutcome<T> {
  /** Items delivered by this attempt. */
  delivered: number;
  /** Items to retry, in order (empty on full success). */
  retry: T[];
  /** Why `retry` is not empty. */
  error: Error | undefined;
}

/**
 * Reads what `flush` resolved with. `undefined` (or a result with no
 * failures) is full success; `failedItems` retries exactly those (it must name
 * at least `failed` items); `failed > 0` without `failedItems` retries the whole batch (at-least-once: the items the
 * sink did take are sent again). Anything else is a coded failure of the
 * whole batch, never a silent success.
 */
export function interpretFlushResult<T>(result: unknown, batch: T[]): FlushOutcome<T> {
  if (result === undefined || result === null) return { delivered: batch.length, retry: [], error: undefined };
  if (typeof result !== 'object') return invalidResult(batch, result);
  const r = result as Partial<FlushResult<T>>;
  const failedItems = r.failedItems;
  const failed = r.failed ?? 0;
  if (typeof failed !== 'number' || failed < 0 || Number.isNaN(failed)) return invalidResult(batch, result);
  // failedItems must name at least the `failed` items: a shorter list (e.g. a sink that returned copies
  // that could not be matched to the batch) would let the unnamed failures count as delivered.
  if (failedItems !== undefined && (!Array.isArray(failedItems) || failedItems.length > batch.length || failedItems.length < failed)) {
    return invalidResult(batch, result);
  }
  const errors = Array.isArray(r.errors) ? r.errors : [];
  const firstError = errors[0] instanceof Error ? errors[0] : undefined;
  if (failedItems !== undefined && failedItems.length > 0) {
    return {
      delivered: batch.length - failedItems.length,
      retry: failedItems,
      error: firstError ?? new Error(`flush reported ${failedItems.length} failed item(s)`),
    };
  }
  if (failedItems === undefined && failed > 0) {
    return { delivered: 0, retry: batch, error: firstError ?? new Error(`flush reported ${failed} failed item(s)`) };
  }
  return { delivered: batch.length, retry: [], error: undefined };
}

function invalidResult<T>(batch: T[], result: unknown): FlushOutcome<T> {
  const error = new BackpressureError(
    ErrorCodes.INVALID_FLUSH_RESULT,
    `flush must resolve with undefined or a FlushResult, got ${typeof result === 'object' ? JSON.stringify(result) : String(result)}`,
  );
  return { delivered: 0, retry: batch, error };
}
