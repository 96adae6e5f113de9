import type { RedisStreamError } from './redis-errors';
import type { RedisStreamEntry } from './source-options';

/** Counters of `getMetrics()`. */
export interface RedisStreamSourceMetrics {
  /** Entries handed downstream, from all three origins below. */
  delivered: number;
  /** … of which never delivered to the group before (`XREADGROUP >`). */
  readNew: number;
  /** … of which were this consumer's own pending entries (read before a restart or a reconnect). */
  readPending: number;
  /** … of which were taken over from idle consumers (XAUTOCLAIM). */
  claimed: number;
  /** Handed out (or being dead-lettered) and neither acknowledged nor released yet. */
  held: number;
  /** Acknowledgements Redis confirmed (XACK). */
  acknowledged: number;
  /** Settled, not yet confirmed by Redis (queued or in flight; retried while Redis is away). */
  ackPending: number;
  /** Given back with `release()` (or a `'destroyed'` drop): left pending for another delivery. */
  released: number;
  /** Entries found delivered more than `maxDeliveries` times. */
  poison: number;
  /** Poison entries `onDeadLetter` accepted (then acknowledged). */
  deadLettered: number;
  /** Pending entries whose stream entry was deleted (XDEL, MAXLEN): nothing to deliver. */
  deleted: number;
  /** Commands that failed and were retried (connection lost, Redis loading, …). */
  transientErrors: number;
}

/** Payload of the `'poison'` event. */
export interface RedisPoisonEvent<V extends string | Buffer> {
  entries: RedisStreamEntry<V>[];
  error: RedisStreamError;
  /** `false` without `onDeadLetter`: the entries stay pending and are not delivered again by this source. */
  deadLettering: boolean;
}

/** Payload of the `'transient-error'` event: a command failed and is retried. */
export interface RedisTransientErrorEvent {
  operation: 'read' | 'claim' | 'ack' | 'keep-alive';
  error: Error;
}

/** The parts of a `'drop'` event (`DropEvent`) the source needs. */
export interface DroppedEntry {
  item: { readonly id: string };
  reason: string;
}

/** The counters the source keeps itself (`held` and `ackPending` are read from its parts), all 0. */
export function sourceCounters(): Omit<RedisStreamSourceMetrics, 'held' | 'ackPending'> {
  return {
    delivered: 0,
    readNew: 0,
    readPending: 0,
    claimed: 0,
    acknowledged: 0,
    released: 0,
    poison: 0,
    deadLettered: 0,
    deleted: 0,
    transientErrors: 0,
  };
}
