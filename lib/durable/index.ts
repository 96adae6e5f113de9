/**
 * The durable log: a crash-safe on-disk buffer of records (see segment-log.ts
 * and docs/durable-log.md). Not yet wired into BackpressureWritable.
 */
export { SegmentLog } from './segment-log';
export type { DurableLogStats, RecoveryReport } from './segment-log';
export type { SegmentLogOptions } from './log-options';
export { LOG_DEFAULTS } from './log-options';
export type { CorruptEntry, Decode, GoodEntry, ReadEntry } from './segment-reader';
export type { SyncMode } from './segment-writer';
export { DurableError, DurableErrorCodes, isDurableError } from './durable-errors';
export type { DurableErrorCode, FullReason } from './durable-errors';
export { FRAME_HEADER_BYTES, FRAME_MAGIC, encodeFrame } from './record-frame';
