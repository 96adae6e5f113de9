import type { BackpressureState } from '../pressure/state';
import type { CircuitState } from '../resilience/circuit-breaker';

/** `getMetrics()` of a `BackpressureWritable` (and of `backpressure()` compositions). */
export interface BackpressureMetrics {
  state: BackpressureState;
  /** Accepted items held and not in flight: the ring buffer plus Node's write queue. */
  bufferSize: number;
  /** Bytes of those items (0 unless `maxBufferBytes` or `sizeOf` is set). */
  bufferBytes: number;
  /** max(bufferSize / maxBufferSize, bufferBytes / maxBufferBytes). */
  bufferUtilization: number;
  maxBufferSize: number;
  /** Every item handed to `write()` (or `end(item)`) and taken in. */
  eventsAccepted: number;
  /** Items dropped by a strategy stage (always 0 for the writable alone). */
  eventsDropped: number;
  droppedByReason: Record<string, number>;
  /** Items the sink acknowledged. */
  eventsFlushed: number;
  /** Items handed to `onDeadLetter`, or back to you in an error's `items`. */
  eventsDeadLettered: number;
  /** Item-attempts retried (a batch of 10 retried twice adds 20). */
  eventsRetried: number;
  /** Items in batches being flushed or waiting to be retried (items, not batches). */
  inFlight: number;
  /** Batches in flight (≤ concurrency). */
  inFlightBatches: number;
  lastFlushLatencyMs: number;
  currentFlushIntervalMs: number;
  /** Items per flush now. */
  batchSize: number;
  /** Most batches in flight now. */
  concurrency: number;
  /** The circuit breaker's state (`closed` when there is no breaker). */
  circuitState: CircuitState;
  /** How many times the circuit opened. */
  circuitOpens: number;
  /** How many times the adaptive loop changed batch size or concurrency (0 when off). */
  adaptiveAdjustments: number;
  /** Flush attempts that resolved successfully / failed (including timeouts). */
  flushes: number;
  failedFlushes: number;
}

/**
 * The flush scheduler's counters. The writable keeps `eventsAccepted` and `eventsDeadLettered`
 * itself (the write() fast path increments one of them), and assembles `BackpressureMetrics`
 * from both.
 */
export class FlushCounters {
  /** Items the sink acknowledged. */
  eventsFlushed = 0;
  /** Item-attempts retried. */
  eventsRetried = 0;
  lastFlushLatencyMs = 0;
  /** Flush attempts that resolved successfully. */
  flushes = 0;
  /** Flush attempts that failed (including timeouts). */
  failedFlushes = 0;
}
