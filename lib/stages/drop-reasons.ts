/**
 * Why a stage dropped an item: the `reason` of every `'drop'` event and the keys of
 * `droppedByReason`. Stable strings, safe to alert on.
 */
export const DropReason = {
  /** drop-oldest: the hold was full, so its oldest item made room for the newcomer. */
  EVICTED_OLDEST: 'evicted-oldest',
  /** drop-newest: the hold was full, so the incoming item was refused. */
  REJECTED_NEWEST: 'rejected-newest',
  /** sample: under pressure, the item was not among the 1-in-`rate` kept. */
  SAMPLED_OUT: 'sampled-out',
  /** priority: under pressure, the item's priority was below what that pressure level keeps. */
  SHED_PRIORITY: 'shed-priority',
  /** priority: the hold was full, so this held item made room for a more important newcomer. */
  EVICTED_PRIORITY: 'evicted-priority',
  /** sample / priority: the item was to be kept but the hold was full (and, for priority, held nothing less important). */
  OVERFLOW: 'overflow',
  /** priority: `priority(item)` threw or did not return a finite number. */
  INVALID_PRIORITY: 'invalid-priority',
  /** sample (key mode): `key(item)` threw. */
  INVALID_KEY: 'invalid-key',
  /** any stage: the stage was destroyed while it still held the item. */
  DESTROYED: 'destroyed',
} as const;

export type DropReason = (typeof DropReason)[keyof typeof DropReason];

/** Payload of the `'drop'` event. */
export interface DropEvent<T> {
  item: T;
  reason: DropReason;
}
