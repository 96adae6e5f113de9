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
export { defaultSizeOf } from './size-of';
export { nextPressureState } from './watermark-state';
export type { WatermarkThresholds } from './watermark-state';
