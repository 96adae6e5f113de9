import type { DurableMode } from './durable-mode';
import { BackpressureError, ErrorCodes } from './errors';
import type { Settlement, SettledHandler } from './options';

/**
 * The one notion of "settled for good": items delivered by `flush` (only the delivered part of a
 * partial success) or taken by onDeadLetter. Settling acknowledges their records in durable mode,
 * then tells `onSettled`. Nothing else settles an item.
 */
export class Settler<T> {
  readonly #onSettled: SettledHandler<T> | undefined;
  readonly #durable: DurableMode<T> | null;
  /** onSettled threw: the stream fails with this coded error (the items stay counted). */
  readonly #fail: (error: Error) => void;

  constructor(onSettled: SettledHandler<T> | undefined, durable: DurableMode<T> | null, fail: (error: Error) => void) {
    this.#onSettled = onSettled;
    this.#durable = durable;
    this.#fail = fail;
  }

  /**
   * `items` are settled for good: their records are acknowledged (`seqs`, durable mode), then
   * onSettled (when set) is told — not of `raw` records, which came back damaged from the log and are
   * no item of the source. Its throw fails the stream, never the account.
   */
  settle(items: T[], how: Settlement, seqs: number[] | null, raw: boolean): void {
    if (seqs !== null) this.#durable?.ack(seqs);
    const onSettled = this.#onSettled;
    if (onSettled === undefined || raw) return;
    try {
      onSettled(how === 'flushed' ? items : items.slice(), how);
    } catch (cause) {
      const message = `onSettled threw: ${cause instanceof Error ? cause.message : String(cause)}`;
      this.#fail(new BackpressureError(ErrorCodes.SETTLED_HANDLER_FAILED, message, { cause }));
    }
  }
}
