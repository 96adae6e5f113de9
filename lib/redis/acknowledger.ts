import type { RedisClientLike } from './redis-client';
import { isNoGroupError } from './redis-errors';

/** Ids per XACK command: one pipeline carries as many commands as the queue needs. */
const IDS_PER_XACK = 1000;
const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2000;

export interface AcknowledgerHost {
  /** An XACK round failed (it is retried): for the source's `'transient-error'` event. */
  onFailure(error: Error): void;
  /** Ids acknowledged for good (or found to need no acknowledgement: the group is gone). */
  onAcknowledged(count: number): void;
}

/**
 * Batched, retried XACK. Ids queue up for one event-loop turn and go out together (one pipeline,
 * one round trip, at most one round in flight), so a pipeline that settles a batch of 100 costs one
 * XACK, not 100. A failed round puts its ids back at the front and retries with backoff: an id
 * leaves the queue only once Redis confirmed it (or the group no longer exists, so that nothing is
 * pending any more). Until then the entry stays pending in Redis: at least once, never lost.
 */
export class Acknowledger {
  readonly #client: RedisClientLike;
  readonly #stream: string;
  readonly #group: string;
  readonly #host: AcknowledgerHost;
  #queue: string[] = [];
  #inFlight: string[] = [];
  #immediate: NodeJS.Immediate | null = null;
  #retryTimer: NodeJS.Timeout | null = null;
  #failures = 0;
  /** Closing gave up: nothing is sent or scheduled any more. */
  #abandoned = false;
  #idleWaiters: Array<() => void> = [];

  constructor(client: RedisClientLike, stream: string, group: string, host: AcknowledgerHost) {
    this.#client = client;
    this.#stream = stream;
    this.#group = group;
    this.#host = host;
  }

  /** Settled ids not confirmed by Redis yet (queued or in flight). */
  get pending(): number {
    return this.#queue.length + this.#inFlight.length;
  }

  /** The ids not confirmed yet (for the error when closing gives up). */
  pendingIds(): string[] {
    return this.#inFlight.concat(this.#queue);
  }

  add(ids: readonly string[]): void {
    if (ids.length === 0) return;
    for (const id of ids) this.#queue.push(id);
    if (!this.#scheduled() && this.#inFlight.length === 0 && !this.#abandoned)
      this.#immediate = setImmediate(this.#run);
  }

  /** Resolves once nothing is queued or in flight. */
  whenIdle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops retrying (closing gave up): what is queued stays pending in Redis. */
  abandon(): void {
    this.#abandoned = true;
    if (this.#immediate !== null) clearImmediate(this.#immediate);
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
    this.#immediate = null;
    this.#retryTimer = null;
  }

  #scheduled(): boolean {
    return this.#immediate !== null || this.#retryTimer !== null;
  }

  readonly #run = (): void => {
    this.#immediate = null;
    this.#retryTimer = null;
    void this.#round();
  };

  async #round(): Promise<void> {
    const ids = this.#queue;
    if (ids.length === 0) return;
    this.#queue = [];
    this.#inFlight = ids;
    let error: Error | undefined;
    try {
      if (ids.length <= IDS_PER_XACK) {
        // The usual round (a batch or a few): one command, without a pipeline's bookkeeping.
        await this.#client.call('XACK', this.#stream, this.#group, ...ids);
      } else {
        const pipeline = this.#client.pipeline();
        for (let i = 0; i < ids.length; i += IDS_PER_XACK)
          pipeline.call('XACK', this.#stream, this.#group, ...ids.slice(i, i + IDS_PER_XACK));
        const results = (await pipeline.exec()) ?? [];
        if (results.length === 0) error = new Error('XACK pipeline returned no replies');
        for (const [err] of results) if (err !== null && !isNoGroupError(err)) error ??= err;
      }
    } catch (err) {
      if (!isNoGroupError(err)) error = err instanceof Error ? err : new Error(String(err));
    }
    this.#inFlight = [];
    if (this.#abandoned) {
      // A round that was in flight when closing gave up: its ids count as confirmed only if Redis said so.
      if (error !== undefined) this.#queue = ids.concat(this.#queue);
      else this.#host.onAcknowledged(ids.length);
      return;
    }
    if (error !== undefined) {
      // Back at the front, in order: a later round carries them again with whatever came since.
      this.#queue = ids.concat(this.#queue);
      this.#failures++;
      this.#host.onFailure(error);
      const delay = Math.min(RETRY_MIN_MS * 2 ** (this.#failures - 1), RETRY_MAX_MS);
      this.#retryTimer = setTimeout(this.#run, delay);
      return;
    }
    this.#failures = 0;
    this.#host.onAcknowledged(ids.length);
    if (this.#queue.length > 0) {
      this.#immediate = setImmediate(this.#run);
      return;
    }
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
