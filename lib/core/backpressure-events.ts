import type { CircuitChange } from '../resilience/circuit-breaker';
import type { DurableError } from '../durable/durable-errors';
import type { StateChange } from '../pressure/state';

/** Payload of the `'flush'` event. */
export interface FlushEvent {
  items: number;
  latencyMs: number;
  attempt: number;
}

/** Payload of the `'retry'` event. */
export interface RetryEvent {
  items: number;
  /** The attempt that failed (1-based). */
  attempt: number;
  delayMs: number;
  error: Error;
}

/** Payload of the `'dead-letter'` event. */
export interface DeadLetterEvent<T> {
  items: T[];
  error: Error;
}

/**
 * Payload of the `'corrupt'` event (durable mode): records of the log that could not be read back
 * as items — damaged on disk (`error.code` ERR_DURABLE_CORRUPT_RECORD: `error.seq` and
 * `error.count` say which records) or intact but refused by `codec.decode`
 * (ERR_DURABLE_DECODE_FAILED). Counted in `eventsCorrupt` before the event.
 */
export interface CorruptEvent {
  /** The raw bytes as found on disk (possibly empty, or cut short: `error.rawTruncated`). */
  bytes: Buffer;
  error: DurableError;
}

/** The events a `BackpressureWritable` emits besides the `Writable` ones, with their payloads. */
export interface BackpressureEventMap<T> {
  state: StateChange;
  flush: FlushEvent;
  retry: RetryEvent;
  'dead-letter': DeadLetterEvent<T>;
  circuit: CircuitChange;
  corrupt: CorruptEvent;
  /** Durable mode: the log is open (locked, recovered); emitted once, never in memory mode. No payload. */
  ready: undefined;
}

export type BackpressureEventName = keyof BackpressureEventMap<unknown>;

/**
 * One entry per key of {@link BackpressureEventMap}: a missing or an extra name does not compile, so
 * the list below cannot drift from the types (it once missed `'circuit'`).
 */
const EVENT_NAMES: { readonly [K in BackpressureEventName]: K } = {
  state: 'state',
  flush: 'flush',
  retry: 'retry',
  'dead-letter': 'dead-letter',
  circuit: 'circuit',
  corrupt: 'corrupt',
  ready: 'ready',
};

/**
 * Every event of a `BackpressureWritable` beyond the `Writable` ones. A `backpressure()` composition
 * forwards exactly these from its writable (and `'drop'` from its stage); its typed `on()` overloads
 * are built from the same map.
 */
export const BACKPRESSURE_EVENTS: readonly BackpressureEventName[] = Object.freeze(Object.values(EVENT_NAMES));
