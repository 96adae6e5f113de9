import type { HeldEntries } from './held-entries';
import { messageOf, RedisStreamError, RedisStreamErrorCodes } from './redis-errors';
import type { RedisPoisonEvent } from './source-events';
import type { RedisDeadLetterHandler, RedisStreamEntry } from './source-options';
import type { StreamReader } from './stream-reader';
import type { RawEntry } from './stream-replies';

/**
 * Entries read again — this consumer's own pending list, or taken over from another — before they are
 * handed out: one this source already holds is not handed out twice; one acknowledged meanwhile by the
 * worker it was taken from (no longer pending) was delivered already and is dropped; one delivered more
 * than `maxDeliveries` times (XPENDING's count, this delivery included) is poison.
 */
export async function sortReadAgain(
  entries: RawEntry[],
  held: HeldEntries,
  reader: StreamReader,
  maxDeliveries: number,
): Promise<{ deliver: RawEntry[]; poison: RawEntry[] }> {
  const fresh = entries.filter((e) => !held.has(e.id));
  if (maxDeliveries === Infinity || fresh.length === 0) return { deliver: fresh, poison: [] };
  const counts = await reader.deliveryCounts(fresh.map((e) => e.id));
  const deliver: RawEntry[] = [];
  const poison: RawEntry[] = [];
  for (const entry of fresh) {
    const count = counts.get(entry.id);
    if (count === undefined) continue;
    if (count > maxDeliveries) poison.push(entry);
    else deliver.push(entry);
  }
  return { deliver, poison };
}

/** The ERR_REDIS_POISON error handed to `onDeadLetter` (and the `'poison'` event) with `entries`. */
export function poisonError(
  entries: readonly RedisStreamEntry<string | Buffer>[],
  stream: string,
  maxDeliveries: number,
): RedisStreamError {
  return new RedisStreamError(
    RedisStreamErrorCodes.POISON,
    `${entries.length} entries of ${stream} delivered more than maxDeliveries (${maxDeliveries}) times`,
    { ids: entries.map((e) => e.id), entries: entries.slice() },
  );
}

export interface PoisonLettersHost<V extends string | Buffer> {
  /** Poison found: counted and reported (the `'poison'` event) before anything else happens to it. */
  report(event: RedisPoisonEvent<V>): void;
  /** The handler got them: keep them alive, they are not settled yet. */
  hold(ids: string[]): void;
  /** The handler returned or resolved: settled, to acknowledge. */
  accepted(ids: string[]): void;
  /** The handler threw or rejected: they stay pending; the source fails with `error`. */
  failed(ids: string[], error: RedisStreamError): void;
}

/**
 * Poison entries: reported, and handed to the source's `onDeadLetter` (acknowledged once it resolved);
 * without one, left pending. Each call settles its entries, or fails the source; close() waits for them.
 */
export class PoisonLetters<V extends string | Buffer> {
  readonly #handler: RedisDeadLetterHandler<V> | undefined;
  readonly #stream: string;
  readonly #maxDeliveries: number;
  readonly #host: PoisonLettersHost<V>;
  readonly #pending = new Set<Promise<void>>();

  constructor(
    handler: RedisDeadLetterHandler<V> | undefined,
    stream: string,
    maxDeliveries: number,
    host: PoisonLettersHost<V>,
  ) {
    this.#handler = handler;
    this.#stream = stream;
    this.#maxDeliveries = maxDeliveries;
    this.#host = host;
  }

  /** Entries found delivered more than `maxDeliveries` times. */
  take(entries: RedisStreamEntry<V>[]): void {
    const error = poisonError(entries, this.#stream, this.#maxDeliveries);
    const handler = this.#handler;
    this.#host.report({ entries: entries.slice(), error, deadLettering: handler !== undefined });
    if (handler !== undefined) this.#hand(handler, entries, error);
  }

  #hand(handler: RedisDeadLetterHandler<V>, entries: RedisStreamEntry<V>[], error: RedisStreamError): void {
    const ids = entries.map((e) => e.id);
    this.#host.hold(ids);
    const call = Promise.resolve()
      .then(() => handler(entries.slice(), error))
      .then(
        () => this.#host.accepted(ids),
        (cause: unknown) =>
          this.#host.failed(
            ids,
            new RedisStreamError(
              RedisStreamErrorCodes.DEAD_LETTER_FAILED,
              `onDeadLetter failed for ${entries.length} poison entries (they stay pending): ${messageOf(cause)}`,
              { cause, ids, entries },
            ),
          ),
      )
      .finally(() => this.#pending.delete(call));
    this.#pending.add(call);
  }

  /** Resolves once no call is in progress (calls started meanwhile included). */
  async whenSettled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }
}
