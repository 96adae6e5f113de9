/**
 * A composition re-emits every event of its writable beyond the Writable ones — the list is
 * BACKPRESSURE_EVENTS, checked by the compiler against the payload types — with the same payload, in
 * the same order; and the writable emits no event that is missing from that list.
 */
import { BACKPRESSURE_EVENTS, backpressure, type CircuitChange, type FlushContext } from '../../lib';
import { settle } from '../helpers/stage-helpers';
import { strategyOptions } from '../helpers/strategy-options';

type Shedding = 'drop-oldest' | 'drop-newest' | 'sample' | 'priority';
const strategies: Shedding[] = ['drop-oldest', 'drop-newest', 'sample', 'priority'];

/** Events every Writable may emit: not ours to forward (the composition has its own). */
const WRITABLE_EVENTS = new Set(['close', 'drain', 'error', 'finish', 'pipe', 'unpipe', 'prefinish']);

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

test('the list names the five events of a BackpressureWritable', () => {
  expect([...BACKPRESSURE_EVENTS].sort()).toEqual(['circuit', 'dead-letter', 'flush', 'retry', 'state']);
});

describe.each(strategies)('%s composition', (strategy) => {
  test.each([...BACKPRESSURE_EVENTS])("forwards '%s' with the writable's payload", (name) => {
    const bp = backpressure<number>(strategyOptions(strategy, { flush: async () => {}, priority: () => 1 }));
    const payload = { marker: name };
    const received: unknown[] = [];
    bp.on(name, (event: unknown) => received.push(event));
    bp.backpressureWritable.emit(name, payload);
    expect(received).toEqual([payload]);
    expect(received[0]).toBe(payload);
    bp.destroy();
  });

  test("a sink that fails, trips the circuit, recovers and then refuses: every writable event is forwarded, in order, 'circuit' too", async () => {
    let call = 0;
    const bp = backpressure<number>(
      strategyOptions(strategy, {
        priority: () => 1,
        sampleRate: 1,
        maxBufferSize: 4,
        batchSize: 2,
        minFlushIntervalMs: 0,
        retry: { retries: 2, minDelayMs: 5, maxDelayMs: 5 },
        circuitBreaker: { failureThreshold: 1, cooldownMs: 50 },
        onDeadLetter: () => {},
        flush: async (_batch: number[], _ctx: FlushContext) => {
          call++;
          if (call === 1) throw new Error('down'); // retry + the circuit opens
          if (call === 3) throw Object.assign(new Error('refused'), { retryable: false }); // dead-lettered
        },
      }),
    );
    const writable = bp.backpressureWritable;
    const emittedByWritable: [string, unknown][] = [];
    const unlisted: string[] = [];
    const emit = writable.emit.bind(writable);
    writable.emit = ((event: string | symbol, ...args: unknown[]): boolean => {
      if (typeof event === 'string' && !WRITABLE_EVENTS.has(event)) {
        if ((BACKPRESSURE_EVENTS as readonly string[]).includes(event)) emittedByWritable.push([event, args[0]]);
        else unlisted.push(event);
      }
      return emit(event, ...args);
    }) as typeof writable.emit;
    const forwarded: [string, unknown][] = [];
    for (const name of BACKPRESSURE_EVENTS) bp.on(name, (payload: unknown) => forwarded.push([name, payload]));
    const circuit: CircuitChange[] = [];
    bp.on('circuit', (change) => circuit.push(change)); // typed: CircuitChange

    for (let i = 0; i < 8; i++) bp.write(i);
    await settle();
    await jest.advanceTimersByTimeAsync(200);
    bp.end();
    await jest.advanceTimersByTimeAsync(200);
    await settle();

    expect(unlisted).toEqual([]);
    const names = new Set(emittedByWritable.map(([name]) => name));
    expect([...names].sort()).toEqual([...BACKPRESSURE_EVENTS].sort()); // the scenario produced every one
    expect(forwarded).toEqual(emittedByWritable);
    forwarded.forEach(([, payload], i) => expect(payload).toBe(emittedByWritable[i]?.[1]));
    // The first failure opens it, the probe after the cooldown closes it (the refusal opens it again).
    expect(circuit.map((c) => c.to).slice(0, 3)).toEqual(['open', 'half-open', 'closed']);
    expect(circuit).toEqual(forwarded.filter(([name]) => name === 'circuit').map(([, payload]) => payload));
  });
});
