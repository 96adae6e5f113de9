import { once } from 'node:events';
import { BackpressureWritable } from '../../lib';
import { ControlledSink, expectConserved, range, settle } from '../helpers/core-helpers';

test('destroy(err) mid-flush aborts the in-flight attempt and reports every held item to onDeadLetter', async () => {
  const sink = new ControlledSink<number>();
  const dead: number[] = [];
  let deadError: Error | undefined;
  const w = new BackpressureWritable<number>({
    batchSize: 3,
    maxBufferSize: 5,
    onDeadLetter: (items, err) => {
      dead.push(...items);
      deadError = err;
    },
    flush: sink.flush,
  });
  for (const i of range(10)) w.write(i); // 3 in flight, 5 buffered, 2 in Node's queue
  const inflight = sink.pending;
  const errored = once(w, 'error');
  w.destroy(new Error('shutdown'));
  const [err] = await errored;
  expect(err).toMatchObject({ message: 'shutdown' });
  expect(inflight.signal.aborted).toBe(true);
  expect(dead).toEqual(range(10));
  expect(deadError).toMatchObject({ code: 'ERR_BACKPRESSURE_DESTROYED' });
  inflight.resolve();
  await settle();
  const m = w.getMetrics();
  expect(m).toMatchObject({ state: 'closed', eventsDeadLettered: 10, eventsFlushed: 0, bufferSize: 0, inFlight: 0 });
  expectConserved(m);
});

test('destroy() without a handler errors with ERR_BACKPRESSURE_DESTROYED carrying the items', async () => {
  const sink = new ControlledSink<number>();
  const w = new BackpressureWritable<number>({ batchSize: 2, flush: sink.flush });
  for (const i of range(3)) w.write(i);
  const errored = once(w, 'error');
  w.destroy();
  const [err] = await errored;
  expect(err).toMatchObject({ code: 'ERR_BACKPRESSURE_DESTROYED', items: range(3) });
});

test('destroy() with nothing held closes quietly', async () => {
  const w = new BackpressureWritable<number>({ flush: async () => {} });
  const closed = once(w, 'close');
  w.destroy();
  await closed;
  expect(w.state).toBe('closed');
});
