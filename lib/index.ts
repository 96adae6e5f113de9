export { BackpressureWritable } from './core/backpressure-writable';
export type { BackpressureMetrics, DeadLetterEvent, FlushEvent, RetryEvent } from './core/backpressure-writable';
export { BACKPRESSURE_EVENTS } from './core/backpressure-events';
export type { BackpressureEventMap, BackpressureEventName } from './core/backpressure-events';
export type {
  BackpressureWritableOptions,
  DeadLetterHandler,
  FlushContext,
  FlushFunction,
  FlushResult,
  SettledHandler,
  Settlement,
} from './core/options';
export { DEFAULTS, MAX_TIMER_MS } from './core/options';
export type { RetryOptions } from './resilience/backoff';
export { BackpressureError, ErrorCodes, isBackpressureError } from './core/errors';
export type { ErrorCode } from './core/errors';
export { BackpressureState } from './pressure/state';
export { pressureRank } from './pressure/levels';
export type { PressureSource, StateChange } from './pressure/state';
export { RingBuffer } from './util/ring-buffer';
export { CircuitState, CIRCUIT_DEFAULTS } from './resilience/circuit-breaker';
export type { CircuitBreakerOptions, CircuitChange } from './resilience/circuit-breaker';
export type { AdaptiveOptions } from './resilience/adaptive-controller';
export { defaultSizeOf } from './core/size-of';
export { nextPressureState } from './pressure/watermark-state';
export type { WatermarkThresholds } from './pressure/watermark-state';
export * from './stages';
export { backpressure, Strategy, StrategyWritable } from './compose/backpressure';
export type {
  BackpressureOptions,
  BlockStrategyOptions,
  DropStrategyOptions,
  PriorityStrategyOptions,
  SampleStrategyOptions,
  SheddingStrategyOptions,
  StrategyMetrics,
} from './compose/backpressure';
export {
  NdjsonSplitter,
  createNdjsonSplitter,
  DEFAULT_MAX_LINE_BYTES,
  InvalidPolicies,
  InvalidReasons,
} from './ndjson/ndjson-splitter';
export type {
  NdjsonRecord,
  InvalidLine,
  InvalidReason,
  InvalidPolicy,
  NdjsonSplitterOptions,
  NdjsonSplitterMetrics,
} from './ndjson/ndjson-splitter';
export { NdjsonError, NdjsonErrorCodes, isNdjsonError } from './ndjson/ndjson-errors';
export { createSink } from './sinks/create-sink';
export { SinkError, SinkErrorCodes, isSinkError, sinkFailureAction } from './sinks/sink-errors';
export type { LineSink, SinkWriteContext, LineSinkResult } from './sinks/line-sink';
export { sinkFlush, type SinkFlushOptions } from './sinks/sink-flush';
export { DeadLetterFile } from './sinks/dead-letter-file';
export { fieldPriority, LOWEST_PRIORITY } from './ndjson/field-priority';
export { RateLimitedLog, type RateLimitedLogOptions } from './cli/rate-limited-log';
export { recordByteLength } from './ndjson/record-size';
export { checkJson, JsonCheck } from './ndjson/json-check';
