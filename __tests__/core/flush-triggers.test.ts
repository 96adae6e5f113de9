import { BackpressureWritable } from '../../lib';
import { ControlledSink, dispose, range, settle } from '../helpers/core-helpers';

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

describe('size and time triggers', () => {
  test('size trigger: a batch starts the moment batchSize items are buffered, without waiting for a timer', () => {
    const sink = new ControlledSink<number>();
    const w = new BackpressureWritable<number>({ batchSize: 5, minFlushIntervalMs: 1000, flush: sink.flush });
    for (const i of range(4)) w.write(i);
    expect(sink.calls).toHaveLength(0);
    w.write(4);
    expect(sink.calls).toHaveLength(1);
    expect(sink.pending.batch).toEqual(range(5));
    dispose(w);
  });

  test('time trigger: a partial batch is flushed when its oldest item has waited the flush interval', async () => {
    const sink = new ControlledSink<number>();
    const w = new BackpressureWritable<number>({ batchSize: 100, minFlushIntervalMs: 200, flush: sink.flush });
    w.write(1);
    await jest.advanceTimersByTimeAsync(150);
    w.write(2); // a later item does not push the deadline back
    await jest.advanceTimersByTimeAsync(49);
    expect(sink.calls).toHaveLength(0);
    await jest.advanceTimersByTimeAsync(1);
    expect(sink.calls).toHaveLength(1);
    expect(sink.pending.batch).toEqual([1, 2]);
    sink.pending.resolve();
    await settle();
    expect(sink.delivered).toEqual([1, 2]);
    dispose(w);
  });

  test('one batch in flight at a time: items arriving meanwhile wait, then go at once if a full batch is ready', async () => {
    const sink = new ControlledSink<number>();
    const w = new BackpressureWritable<number>({ batchSize: 3, maxBufferSize: 100, flush: sink.flush });
    for (const i of range(10)) w.write(i);
    expect(sink.calls).toHaveLength(1);
    sink.pending.resolve();
    await settle();
    expect(sink.calls.map((c) => c.batch)).toEqual([range(3), range(3, 3)]);
    sink.pending.resolve();
    await settle();
    sink.pending.resolve();
    await settle();
    expect(sink.calls).toHaveLength(3);
    // one item left: it goes when its (lower-bound) age reaches the interval
    await jest.advanceTimersByTimeAsync(100);
    expect(sink.calls).toHaveLength(4);
    expect(sink.pending.batch).toEqual([9]);
    sink.pending.resolve();
    await settle();
    expect(sink.delivered).toEqual(range(10));
    dispose(w);
  });
});
