export { BackpressureWritable } from './backpressure-writable';
export type { BackpressureMetrics, DeadLetterEvent, FlushEvent, RetryEvent } from './backpressure-writable';
export type {
  BackpressureWritableOptions,
  DeadLetterHandler,
  FlushContext,
  FlushFunction,
  FlushResult,
} from './options';
export { DEFAULTS } from './options';
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
