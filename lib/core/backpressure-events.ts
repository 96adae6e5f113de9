import type { CircuitChange } from '../resilience/circuit-breaker';
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

/** The events a `BackpressureWritable` emits besides the `Writable` ones, with their payloads. */
export interface BackpressureEventMap<T> {
  state: StateChange;
  flush: FlushEvent;
  retry: RetryEvent;
  'dead-letter': DeadLetterEvent<T>;
  circuit: CircuitChange;
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
};

/**
 * Every event of a `BackpressureWritable` beyond the `Writable` ones. A `backpressure()` composition
 * forwards exactly these from its writable (and `'drop'` from its stage); its typed `on()` overloads
 * are built from the same map.
 */
export const BACKPRESSURE_EVENTS: readonly BackpressureEventName[] = Object.freeze(Object.values(EVENT_NAMES));
