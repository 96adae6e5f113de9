/**
 * Inside every listener of a composition — 'state', 'drop', 'dead-letter', 'flush', 'retry',
 * 'circuit', and 'error' / 'close' — getMetrics() balances:
 *   eventsAccepted === eventsFlushed + eventsDropped + eventsDeadLettered + bufferSize + inFlight,
 * while items flow, fail, are retried and shed, and during destroy() (issue 10, defect 2).
 */
import { BACKPRESSURE_EVENTS, backpressure } from '../../lib';
import { isConserved, settle } from '../helpers/stage-helpers';
import { strategyOptions } from '../helpers/strategy-options';

type Shedding = 'drop-oldest' | 'drop-newest' | 'sample' | 'priority';
const strategies: Shedding[] = ['drop-oldest', 'drop-newest', 'sample', 'priority'];
const EVENTS = [...BACKPRESSURE_EVENTS, 'drop', 'error', 'close'];

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

const cases = strategies.flatMap((strategy) =>
  [true, false].flatMap((withDeadLetter) =>
    [true, false].map((withError) => [strategy, withDeadLetter, withError] as const),
  ),
);

test.each(cases)('%s (onDeadLetter: %s, destroy with an error: %s)', async (strategy, withDeadLetter, withError) => {
  let calls = 0;
  const bp = backpressure<number>(
    strategyOptions(strategy, {
      priority: (i) => i % 3,
      sampleRate: 2,
      capacity: 4,
      maxBufferSize: 6,
      batchSize: 3,
      minFlushIntervalMs: 0,
      retry: { retries: 2, minDelayMs: 5, maxDelayMs: 5 },
      circuitBreaker: { failureThreshold: 2, cooldownMs: 20 },
      ...(withDeadLetter ? { onDeadLetter: () => {} } : {}),
      // Fails twice (retries; the circuit opens), succeeds once (the probe closes it), then — with
      // onDeadLetter — refuses one batch for good (dead-lettered), then hangs for good.
      flush: () => {
        calls++;
        if (calls <= 2) return Promise.reject(new Error('down'));
        if (calls === 3) return Promise.resolve();
        if (calls === 4 && withDeadLetter)
          return Promise.reject(Object.assign(new Error('refused'), { retryable: false }));
        return new Promise<void>(() => {});
      },
    }),
  );
  let phase = 'running';
  const seen = new Map<string, number>();
  const unbalanced: string[] = [];
  for (const name of EVENTS) {
    bp.on(name, () => {
      const key = `${phase}:${name}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
      const m = bp.getMetrics();
      if (!isConserved(m)) unbalanced.push(`${key} ${JSON.stringify({ ...m, stage: undefined })}`);
    });
  }
  for (let i = 0; i < 40; i++) {
    bp.write(i);
    if (i % 5 === 4) {
      await settle();
      await jest.advanceTimersByTimeAsync(10);
    }
  }
  await settle();
  expect(bp.getMetrics().stage.held).toBeGreaterThan(0); // destroy() has both parts' items to account
  expect(bp.getMetrics().bufferSize + bp.getMetrics().inFlight).toBeGreaterThan(bp.getMetrics().stage.held);
  phase = 'destroy';
  bp.destroy(withError ? new Error('caller gave up') : undefined);
  await jest.advanceTimersByTimeAsync(100);
  await settle();

  expect(unbalanced).toEqual([]);
  expect(bp.destroyed).toBe(true);
  expect(isConserved(bp.getMetrics())).toBe(true);
  // The interesting listeners really ran, and destroy() emitted the writable's closing 'state' and its 'dead-letter'.
  const names = new Set([...seen.keys()].map((key) => key.slice(key.indexOf(':') + 1)));
  expect(EVENTS.filter((name) => !names.has(name))).toEqual(withDeadLetter && !withError ? ['error'] : []);
  expect(seen.get('destroy:state')).toBeGreaterThan(0);
  expect(seen.get('destroy:dead-letter')).toBeGreaterThan(0);
});
