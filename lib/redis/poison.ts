import type { HeldEntries } from './held-entries';
import { messageOf, RedisStreamError, RedisStreamErrorCodes } from './redis-errors';
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

export interface PoisonLettersHost {
  /** The handler got them: keep them alive, they are not settled yet. */
  hold(ids: string[]): void;
  /** The handler returned or resolved: settled, to acknowledge. */
  accepted(ids: string[]): void;
  /** The handler threw or rejected: they stay pending; the source fails with `error`. */
  failed(ids: string[], error: RedisStreamError): void;
}

/** The source's `onDeadLetter` calls for poison entries: each settles them, or fails the source; close() waits for them. */
export class PoisonLetters<V extends string | Buffer> {
  readonly #host: PoisonLettersHost;
  readonly #pending = new Set<Promise<void>>();

  constructor(host: PoisonLettersHost) {
    this.#host = host;
  }

  hand(handler: RedisDeadLetterHandler<V>, entries: RedisStreamEntry<V>[], error: RedisStreamError): void {
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
