import { BackpressureWritable, DEFAULTS } from '../../lib';

const flush = async (): Promise<void> => {};

describe('invalid options throw a TypeError/RangeError naming the option', () => {
  const cases: [string, Record<string, unknown>, typeof TypeError | typeof RangeError][] = [
    ['flush', { flush: 'nope' }, TypeError],
    ['flush', { flush: undefined }, TypeError],
    ['maxBufferSize', { maxBufferSize: 0 }, RangeError],
    ['maxBufferSize', { maxBufferSize: -5 }, RangeError],
    ['maxBufferSize', { maxBufferSize: 1.5 }, RangeError],
    ['maxBufferSize', { maxBufferSize: '10' }, TypeError],
    ['maxBufferBytes', { maxBufferBytes: 0 }, RangeError],
    ['batchSize', { batchSize: 0 }, RangeError],
    ['batchSize', { batchSize: 2.5 }, RangeError],
    ['batchSize', { batchSize: 20, maxBufferSize: 10 }, RangeError],
    ['highWatermark', { highWatermark: 1.2 }, RangeError],
    ['highWatermark', { highWatermark: 0 }, RangeError],
    ['lowWatermark', { lowWatermark: 0 }, RangeError],
    ['lowWatermark', { lowWatermark: 0.9, highWatermark: 0.8 }, RangeError],
    ['lowWatermark', { lowWatermark: 0.8, highWatermark: 0.8 }, RangeError],
    ['hysteresis', { hysteresis: 0.5 }, RangeError],
    ['hysteresis', { hysteresis: -0.1 }, RangeError],
    ['minFlushIntervalMs', { minFlushIntervalMs: -1 }, RangeError],
    ['maxFlushIntervalMs', { minFlushIntervalMs: 500, maxFlushIntervalMs: 100 }, RangeError],
    ['targetLatencyMs', { targetLatencyMs: 0 }, RangeError],
    ['maxBlockTimeMs', { maxBlockTimeMs: 0 }, RangeError],
    ['retry.retries', { retry: { retries: -1 } }, RangeError],
    ['retry.retries', { retry: { retries: 1.5 } }, RangeError],
    ['retry.maxDelayMs', { retry: { minDelayMs: 100, maxDelayMs: 10 } }, RangeError],
    ['flushTimeoutMs', { flushTimeoutMs: 0 }, RangeError],
    ['drainTimeoutMs', { drainTimeoutMs: -1 }, RangeError],
    ['onDeadLetter', { onDeadLetter: 42 }, TypeError],
    ['sizeOf', { sizeOf: 'length' }, TypeError],
  ];
  test.each(cases)('%s: %j', (name, opts, ErrorClass) => {
    const build = () => new BackpressureWritable({ flush, ...opts } as never);
    expect(build).toThrow(ErrorClass);
    expect(build).toThrow(`"${name}"`);
  });

  test('null options', () => {
    expect(() => new BackpressureWritable(null as never)).toThrow(TypeError);
  });
});

test('defaults are the documented ones', () => {
  const w = new BackpressureWritable({ flush });
  const m = w.getMetrics();
  expect(m.maxBufferSize).toBe(10000);
  expect(m.currentFlushIntervalMs).toBe(100);
  expect(m.state).toBe('normal');
  expect(DEFAULTS).toMatchObject({
    maxBufferSize: 10000,
    highWatermark: 0.8,
    lowWatermark: 0.5,
    batchSize: 100,
    minFlushIntervalMs: 100,
    maxFlushIntervalMs: 30000,
    targetLatencyMs: 500,
    retries: 5,
    minDelayMs: 100,
    maxDelayMs: 30000,
    flushTimeoutMs: 30000,
    drainTimeoutMs: 30000,
  });
  w.destroy();
});
