/**
 * A throwing onSettled fails the stream with ERR_BACKPRESSURE_SETTLED_HANDLER_FAILED, and what the
 * stream still holds goes where an internal failure sends it: to onDeadLetter, or in that error's
 * items. Was a bug (found by the fuzzer, seeds 71, 433, 736, 1112 in __tests__/helpers/fuzz/seeds.ts):
 * the stream destroyed itself with the error, so a writable without onDeadLetter reported
 * ERR_BACKPRESSURE_DESTROYED instead, and a composition reported the bare error without the items it
 * held — items dead-lettered with no handler and in no error.
 */
import { backpressure, BackpressureWritable, ErrorCodes, isBackpressureError, type Settlement } from '../../lib';
import { ControlledSink, expectConserved, range, settle } from '../helpers/core-helpers';

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

const ackStoreDown = new Error('ack store down');

test('without onDeadLetter: the one error is ERR_BACKPRESSURE_SETTLED_HANDLER_FAILED, carrying every item still held', async () => {
  const sink = new ControlledSink<number>();
  const w = new BackpressureWritable<number>({
    batchSize: 2,
    maxBufferSize: 10,
    flush: sink.flush,
    onSettled: () => {
      throw ackStoreDown;
    },
  });
  const errors: unknown[] = [];
  const deadLettered: number[] = [];
  w.on('error', (err) => errors.push(err));
  w.on('dead-letter', ({ items }: { items: number[] }) => {
    expectConserved(w.getMetrics());
    deadLettered.push(...items);
  });
  for (const i of range(6)) w.write(i);
  await settle();
  expect(sink.calls.map((c) => c.batch)).toEqual([[0, 1]]);
  sink.calls[0]!.resolve(); // delivered, then onSettled throws
  await settle(10);

  expect(errors).toHaveLength(1);
  const err = errors[0];
  expect(isBackpressureError(err, ErrorCodes.SETTLED_HANDLER_FAILED)).toBe(true);
  expect(err).toMatchObject({ cause: ackStoreDown, items: [2, 3, 4, 5] });
  expect(deadLettered).toEqual([2, 3, 4, 5]);
  const m = w.getMetrics();
  expect(m).toMatchObject({ eventsFlushed: 2, eventsDeadLettered: 4, bufferSize: 0, inFlight: 0 });
  expectConserved(m);
});

test('with onDeadLetter: the held items go to it, and the hook is still told once that call resolved', async () => {
  const sink = new ControlledSink<number>();
  const settled: { items: number[]; how: Settlement }[] = [];
  const handed: number[] = [];
  const w = new BackpressureWritable<number>({
    batchSize: 2,
    maxBufferSize: 10,
    flush: sink.flush,
    onDeadLetter: async (items) => void handed.push(...items),
    onSettled: (items, how) => {
      settled.push({ items: [...items], how });
      if (how === 'flushed') throw ackStoreDown;
    },
  });
  const errors: unknown[] = [];
  w.on('error', (err) => errors.push(err));
  for (const i of range(5)) w.write(i);
  await settle();
  sink.calls[0]!.resolve();
  await settle(10);

  expect(errors).toHaveLength(1);
  expect(isBackpressureError(errors[0], ErrorCodes.SETTLED_HANDLER_FAILED)).toBe(true);
  expect(errors[0]).toMatchObject({ cause: ackStoreDown });
  expect(handed).toEqual([2, 3, 4]);
  expect(settled).toEqual([
    { items: [0, 1], how: 'flushed' },
    { items: [2, 3, 4], how: 'dead-lettered' },
  ]);
  expectConserved(w.getMetrics());
});

test('a composition without onDeadLetter: its one error carries every item the writable held', async () => {
  const sink = new ControlledSink<number>();
  const bp = backpressure<number>({
    strategy: 'drop-newest',
    capacity: 4,
    batchSize: 2,
    maxBufferSize: 4,
    flush: sink.flush,
    onSettled: () => {
      throw ackStoreDown;
    },
  });
  const errors: unknown[] = [];
  const dropped: number[] = [];
  const deadLettered: number[] = [];
  bp.on('error', (err) => errors.push(err));
  bp.on('drop', ({ item }: { item: number }) => dropped.push(item));
  bp.on('dead-letter', ({ items }: { items: number[] }) => deadLettered.push(...items));
  for (const i of range(6)) {
    bp.write(i);
    await settle();
  }
  sink.calls[0]!.resolve();
  await settle(10);

  expect(errors).toHaveLength(1);
  const err = errors[0];
  expect(isBackpressureError(err, ErrorCodes.SETTLED_HANDLER_FAILED)).toBe(true);
  // Every item is exactly one of: delivered (0, 1), dropped (with an event), or handed back in the error.
  const handedBack = (err as { items?: number[] }).items ?? [];
  expect(handedBack).toEqual(deadLettered);
  expect([...[0, 1], ...dropped, ...handedBack].sort((a, b) => a - b)).toEqual(range(6));
  expect(handedBack.length).toBeGreaterThan(0);
  expectConserved(bp.getMetrics());
});
