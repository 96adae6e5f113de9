import type { RedisClientLike } from './redis-client';

const IDS_PER_XCLAIM = 1000;

/**
 * The ids this source has handed out (or is dead-lettering) and that are not settled yet, and the
 * keep-alive that stops them going idle in Redis while a slow sink works through them.
 *
 * Why keep them alive: XAUTOCLAIM — ours and every other worker's — takes over entries idle for
 * `claimIdleMs`, and an entry's idle time counts from its delivery. Without this, an entry waiting
 * in a full buffer behind a slow sink would be taken by another worker and delivered twice, and its
 * delivery count would creep towards `maxDeliveries`. `XCLAIM … 0 id… JUSTID` to ourselves resets
 * the idle time without counting a delivery. A worker that dies stops doing it, so its entries go
 * idle and are taken over.
 *
 * The set also tells the reader which entries it already holds when Redis hands them out again
 * (the own pending list re-read after a reconnect, or an XAUTOCLAIM of our own), so that they are
 * not delivered twice from one worker.
 */
export class HeldEntries {
  readonly #ids = new Set<string>();
  readonly #client: RedisClientLike;
  readonly #args: readonly string[];
  readonly #intervalMs: number;
  readonly #onFailure: (error: Error) => void;
  #timer: NodeJS.Timeout | null = null;
  #inFlight = false;

  constructor(
    client: RedisClientLike,
    target: { stream: string; group: string; consumer: string },
    claimIdleMs: number,
    onFailure: (error: Error) => void,
  ) {
    this.#client = client;
    this.#args = [target.stream, target.group, target.consumer, '0'];
    // Three chances before an entry could be taken over; never a busy loop for a tiny claimIdleMs.
    this.#intervalMs = Math.max(Math.floor(claimIdleMs / 3), 1);
    this.#onFailure = onFailure;
  }

  get size(): number {
    return this.#ids.size;
  }

  has(id: string): boolean {
    return this.#ids.has(id);
  }

  add(id: string): void {
    this.#ids.add(id);
    if (this.#timer === null) {
      this.#timer = setInterval(this.#keepAlive, this.#intervalMs);
      // The keep-alive alone never keeps a process running.
      this.#timer.unref();
    }
  }

  /** Forgets `id`; true if it was held. */
  delete(id: string): boolean {
    const had = this.#ids.delete(id);
    if (had && this.#ids.size === 0) this.stop();
    return had;
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  readonly #keepAlive = (): void => {
    if (this.#inFlight || this.#ids.size === 0) return;
    this.#inFlight = true;
    void this.#claimAll().finally(() => {
      this.#inFlight = false;
    });
  };

  async #claimAll(): Promise<void> {
    const ids = [...this.#ids];
    try {
      const pipeline = this.#client.pipeline();
      for (let i = 0; i < ids.length; i += IDS_PER_XCLAIM)
        pipeline.call('XCLAIM', ...this.#args, ...ids.slice(i, i + IDS_PER_XCLAIM), 'JUSTID');
      const results = (await pipeline.exec()) ?? [];
      for (const [err] of results) if (err !== null) throw err;
    } catch (err) {
      // Harmless to miss one: the next tick tries again, and an entry taken over meanwhile is at worst delivered twice.
      this.#onFailure(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
