export { BackpressureWritable } from './backpressure-writable';
export type { BackpressureMetrics, DeadLetterEvent, FlushEvent, RetryEvent } from './backpressure-writable';
export { BACKPRESSURE_EVENTS } from './backpressure-events';
export type { BackpressureEventMap, BackpressureEventName } from './backpressure-events';
export type {
  BackpressureWritableOptions,
  DeadLetterHandler,
  FlushContext,
  FlushFunction,
  FlushResult,
} from './options';
export { DEFAULTS, MAX_TIMER_MS } from './options';
export type { RetryOptions } from './backoff';
export { BackpressureError, ErrorCodes, isBackpressureError } from './errors';
export type { ErrorCode } from './errors';
export { BackpressureState, pressureRank } from './state';
export type { PressureSource, StateChange } from './state';
export { RingBuffer } from './ring-buffer';
export { CircuitState, CIRCUIT_DEFAULTS } from './circuit-breaker';
export type { CircuitBreakerOptions, CircuitChange } from './circuit-breaker';
export type { AdaptiveOptions } from './adaptive-controller';
export { defaultSizeOf } from './size-of';
export { nextPressureState } from './watermark-state';
export type { WatermarkThresholds } from './watermark-state';
export * from './stages';
export { backpressure, Strategy, StrategyWritable } from './backpressure';
export type { BackpressureOptions, StrategyMetrics } from './backpressure';
export { NdjsonSplitter, createNdjsonSplitter, DEFAULT_MAX_LINE_BYTES, InvalidPolicies, InvalidReasons } from './ndjson/ndjson-splitter';
export type { NdjsonRecord, InvalidLine, InvalidReason, InvalidPolicy, NdjsonSplitterOptions, NdjsonSplitterMetrics } from './ndjson/ndjson-splitter';
export { NdjsonError, NdjsonErrorCodes, isNdjsonError } from './ndjson/ndjson-errors';
export { createSink } from './sinks/create-sink';
export { SinkError, SinkErrorCodes, isSinkError, sinkFailureAction } from './sinks/sink-errors';
export type { LineSink, SinkWriteContext, LineSinkResult } from './sinks/line-sink';
export { sinkFlush, type SinkFlushOptions } from './pipeline/sink-flush';
export { DeadLetterFile } from './pipeline/dead-letter-file';
export { fieldPriority, LOWEST_PRIORITY } from './pipeline/field-priority';
export { RateLimitedLog, type RateLimitedLogOptions } from './pipeline/rate-limited-log';
export { recordByteLength } from './pipeline/record-size';
export { checkJson, JsonCheck } from './pipeline/json-check';
