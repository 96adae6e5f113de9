import { closeClient, type RedisClientLike } from './redis-client';
import { RedisStreamError, RedisStreamErrorCodes } from './redis-errors';

const CLIENT_CLOSE_MS = 2000;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;

/** A wait before retrying that `cancel()` cuts short (a stop does not wait out a backoff). */
export class RetryPause {
  #pending: { timer: NodeJS.Timeout; resolve: () => void } | null = null;

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending = null;
        resolve();
      }, ms);
      this.#pending = { timer, resolve };
    });
  }

  /** The wait after `failures` failed reads in a row: RETRY_MIN_MS, doubling, at most RETRY_MAX_MS. */
  afterFailures(failures: number): Promise<void> {
    return this.wait(Math.min(RETRY_MIN_MS * 2 ** (failures - 1), RETRY_MAX_MS));
  }

  cancel(): void {
    const pending = this.#pending;
    if (pending === null) return;
    this.#pending = null;
    clearTimeout(pending.timer);
    pending.resolve();
  }
}

export interface SourceClosing {
  /** Resolves once reading stopped, no dead-letter call is pending and every acknowledgement is confirmed. */
  settled(): Promise<void>;
  timeoutMs: number;
  /** Nothing more is sent (no acknowledgement, no keep-alive); returns the ids still unconfirmed. */
  stopWork(): string[];
  /** The connections the source opened. */
  clients: RedisClientLike[];
  stream: string;
}

/**
 * The source's close(): wait (up to `timeoutMs`) for everything settled to be acknowledged, stop,
 * close the connections; then, if some acknowledgements never got through, ERR_REDIS_ACK_FAILED with
 * their ids (those entries stay pending and are delivered again).
 */
export async function closeSource(closing: SourceClosing): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, closing.timeoutMs);
  });
  try {
    await Promise.race([closing.settled(), deadline]);
  } finally {
    clearTimeout(timer);
  }
  const unacknowledged = closing.stopWork();
  await Promise.all(closing.clients.map((client) => closeClient(client, CLIENT_CLOSE_MS)));
  if (unacknowledged.length > 0) {
    throw new RedisStreamError(
      RedisStreamErrorCodes.ACK_FAILED,
      `${unacknowledged.length} settled entries of ${closing.stream} could not be acknowledged within ${closing.timeoutMs} ms; they stay pending and will be delivered again`,
      { ids: unacknowledged },
    );
  }
}
