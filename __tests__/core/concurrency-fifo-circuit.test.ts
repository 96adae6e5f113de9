/**
 * `concurrency` documents that batches enter `flush` in FIFO order (they may
 * only complete out of order). A batch told to wait for the circuit breaker's
 * probe must therefore not be overtaken by a batch formed after it.
 */
import { BackpressureWritable } from '../../lib';
import { settle } from '../helpers/settle';

afterEach(() => {
  jest.useRealTimers();
});

test('a batch that waited for the half-open probe enters flush before a batch formed after it', async () => {
  jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
  const calls: { batch: number[]; settle: (error?: Error) => void }[] = [];
  const w = new BackpressureWritable<number>({
    batchSize: 1,
    concurrency: 2,
    maxBufferSize: 10,
    retry: { retries: 0 },
    circuitBreaker: { failureThreshold: 1, cooldownMs: 50 },
    onDeadLetter: () => undefined,
    flush: (batch) =>
      new Promise<void>((resolve, reject) => {
        calls.push({ batch: [...batch], settle: (error) => (error === undefined ? resolve() : reject(error)) });
      }),
  });
  w.write(0);
  calls[0]?.settle(new Error('down')); // one failure opens the circuit
  await settle(8);
  await jest.advanceTimersByTimeAsync(60); // cooldown over
  w.write(1); // the half-open probe
  w.write(2); // waits for the probe's outcome
  w.write(3); // stays buffered: both concurrency slots are taken
  await settle(8);
  expect(calls.map((c) => c.batch)).toEqual([[0], [1]]);
  calls[1]?.settle(); // the probe succeeds and closes the circuit
  await settle(8);
  expect(calls.map((c) => c.batch)).toEqual([[0], [1], [2], [3]]);
  for (const call of calls.slice(2)) call.settle();
  w.end();
  await settle(8);
  await jest.advanceTimersByTimeAsync(0);
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 3, eventsDeadLettered: 1, bufferSize: 0, inFlight: 0 });
});
