export { redisStreamSource, RedisStreamSource } from './redis-stream-source';
export type {
  DroppedEntry,
  RedisPoisonEvent,
  RedisStreamSourceMetrics,
  RedisTransientErrorEvent,
} from './source-events';
export { SOURCE_DEFAULTS as REDIS_SOURCE_DEFAULTS } from './source-options';
export type { RedisDeadLetterHandler, RedisStreamEntry, RedisStreamSourceOptions } from './source-options';
export { redisStreamSink, RedisStreamSink } from './redis-stream-sink';
export type { RedisRecord, RedisStreamSinkOptions } from './redis-stream-sink';
export type { RedisArgument, RedisClientLike, RedisPipelineLike } from './redis-client';
export { isRedisStreamError, RedisStreamError, RedisStreamErrorCodes } from './redis-errors';
export type { RedisStreamErrorCode } from './redis-errors';
