import type { DurableMode } from './durable-mode';
import type { Settlement, SettledHandler } from './options';

/**
 * The one notion of "settled for good": items delivered by `flush` (only the delivered part of a
 * partial success) or taken by onDeadLetter. Settling acknowledges their records in durable mode,
 * then tells `onSettled`. Nothing else settles an item.
 */
export class Settler<T> {
  readonly #onSettled: SettledHandler<T> | undefined;
  readonly #durable: DurableMode<T> | null;
  /**
   * onSettled threw: the stream fails like any internal failure (the items stay counted), so its one
   * error is ERR_BACKPRESSURE_SETTLED_HANDLER_FAILED itself, carrying what was still held when there is
   * no onDeadLetter — a destroy(err) would report ERR_BACKPRESSURE_DESTROYED instead, and a composition
   * the bare cause without the items.
   */
  readonly #fail: (message: string, cause: unknown) => void;

  constructor(
    onSettled: SettledHandler<T> | undefined,
    durable: DurableMode<T> | null,
    fail: (message: string, cause: unknown) => void,
  ) {
    this.#onSettled = onSettled;
    this.#durable = durable;
    this.#fail = fail;
  }

  /**
   * `items` (an array the stream no longer reads) are settled for good: their records are acknowledged (`seqs`, durable mode), then
   * onSettled (when set) is told — not of `raw` records, which came back damaged from the log and are
   * no item of the source. Its throw fails the stream, never the account.
   */
  settle(items: T[], how: Settlement, seqs: number[] | null, raw: boolean): void {
    if (seqs !== null) this.#durable?.ack(seqs);
    const onSettled = this.#onSettled;
    if (onSettled === undefined || raw) return;
    try {
      onSettled(items, how);
    } catch (cause) {
      const message = `onSettled threw: ${cause instanceof Error ? cause.message : String(cause)}`;
      this.#fail(message, cause);
    }
  }
}
