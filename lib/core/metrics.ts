import type { BackpressureState } from '../pressure/state';
import type { CircuitState } from '../resilience/circuit-breaker';
import type { DurableMode } from './durable-mode';
import type { FlushScheduler } from './flush-scheduler';
import type { HeldBuffer } from './held-buffer';

/** `getMetrics()` of a `BackpressureWritable` (and of `backpressure()` compositions). */
export interface BackpressureMetrics {
  state: BackpressureState;
  /**
   * Accepted items held and not in flight: the ring buffer plus Node's write queue. In durable mode:
   * the items read ahead into memory, plus those whose only copy is their record on disk (written and
   * not yet read back, put back by `destroy()`, or waiting for space or for the log to open).
   */
  bufferSize: number;
  /** Bytes of the items in memory (0 unless `maxBufferBytes` or `sizeOf` is set). */
  bufferBytes: number;
  /**
   * max(bufferSize / maxBufferSize, bufferBytes / maxBufferBytes). In durable mode: log bytes /
   * `durable.maxBytes`, and 1 while an item waits for space, the disk is full, or maxBufferSize items
   * are not on disk yet.
   */
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
  /**
   * Durable mode: records found on disk at open (left by an earlier process) and taken back into the
   * stream, good or damaged, one per record. 0 in memory mode.
   */
  eventsRecovered: number;
  /**
   * Durable mode: records that came back from disk damaged (checksum), missing, or refused by
   * `codec.decode` — one per record, whether written before the open or since. They leave the account
   * here (not in `eventsDeadLettered`), and go to `onDeadLetter` as raw bytes. 0 in memory mode.
   */
  eventsCorrupt: number;
  /** Durable mode: bytes in the log's segment files. 0 in memory mode. */
  bytesOnDisk: number;
  /**
   * Durable mode: records in the log not yet acknowledged — the backlog not yet read included, and
   * the records of items in memory (read ahead, in flight), whose record stays until they settle.
   * 0 in memory mode.
   */
  itemsOnDisk: number;
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

/** The parts of a writable that own the figures of `getMetrics()`. */
export interface MetricSources<T> {
  state: BackpressureState;
  held: HeldBuffer<T>;
  scheduler: FlushScheduler<T>;
  durable: DurableMode<T> | null;
  utilization: number;
  maxBufferSize: number;
  eventsAccepted: number;
  eventsDeadLettered: number;
}

/** One `getMetrics()` snapshot, assembled from the parts that own each figure. */
export function collectMetrics<T>(s: MetricSources<T>): BackpressureMetrics {
  const { held, scheduler, durable } = s;
  const log = durable === null ? null : durable.log;
  return {
    state: s.state,
    bufferSize: durable === null ? held.size : durable.bufferSize(held.size),
    bufferBytes: held.bytes,
    bufferUtilization: s.utilization,
    maxBufferSize: s.maxBufferSize,
    eventsAccepted: s.eventsAccepted,
    eventsDropped: 0,
    droppedByReason: {},
    eventsFlushed: scheduler.counters.eventsFlushed,
    eventsDeadLettered: s.eventsDeadLettered,
    eventsRetried: scheduler.counters.eventsRetried,
    inFlight: scheduler.inFlight,
    inFlightBatches: scheduler.inFlightBatches,
    lastFlushLatencyMs: scheduler.counters.lastFlushLatencyMs,
    currentFlushIntervalMs: scheduler.currentIntervalMs,
    batchSize: scheduler.batchSize,
    concurrency: scheduler.concurrency,
    flushes: scheduler.counters.flushes,
    failedFlushes: scheduler.counters.failedFlushes,
    circuitState: scheduler.circuitState,
    circuitOpens: scheduler.circuitOpens,
    adaptiveAdjustments: scheduler.adaptiveAdjustments,
    eventsRecovered: durable === null ? 0 : durable.recovered,
    eventsCorrupt: durable === null ? 0 : durable.corrupt,
    bytesOnDisk: log === null ? 0 : log.bytesOnDisk,
    itemsOnDisk: log === null ? 0 : log.itemsOnDisk,
  };
}
