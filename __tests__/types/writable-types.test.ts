/**
 * Type tests of BackpressureWritable's public surface, as users import it (`lib/index.ts`): the
 * options, what `flush` receives and may return, the handlers, the typed events, `getMetrics()`,
 * the error codes and `isBackpressureError`. `npm run typecheck` checks them: an `expectTypeOf`
 * that no longer holds, or a `@ts-expect-error` line that starts to compile, fails it. Jest runs
 * the same file, so what the types promise is also checked against what the streams do.
 */
import { expectTypeOf } from 'expect-type';
import {
  BackpressureError,
  BackpressureState,
  BackpressureWritable,
  CircuitState,
  ErrorCodes,
  isBackpressureError,
  type BackpressureEventMap,
  type BackpressureEventName,
  type BackpressureMetrics,
  type BackpressureWritableOptions,
  type CircuitChange,
  type DeadLetterEvent,
  type DeadLetterHandler,
  type ErrorCode,
  type FlushContext,
  type FlushEvent,
  type FlushFunction,
  type FlushResult,
  type RetryEvent,
  type SettledHandler,
  type Settlement,
  type StateChange,
} from '../../lib';

interface Item {
  id: number;
}

const flush = async (_batch: Item[]): Promise<void> => {};

describe('BackpressureWritable<T> options', () => {
  test('flush receives the batch as T[] and a FlushContext, and resolves with nothing or a FlushResult<T>', () => {
    expectTypeOf<FlushFunction<Item>>().toEqualTypeOf<
      (batch: Item[], ctx: FlushContext) => Promise<void | FlushResult<Item>>
    >();
    expectTypeOf<FlushContext>().toEqualTypeOf<{ signal: AbortSignal; attempt: number }>();
    expectTypeOf<FlushResult<Item>>().toEqualTypeOf<{
      success: number;
      failed: number;
      errors?: Error[];
      failedItems?: Item[];
    }>();
    const options: BackpressureWritableOptions<Item> = {
      flush: async (batch, ctx) => {
        expectTypeOf(batch).toEqualTypeOf<Item[]>();
        expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>();
        return { success: batch.length - 1, failed: 1, failedItems: batch.slice(0, 1) };
      },
    };
    expectTypeOf(options.flush).toEqualTypeOf<FlushFunction<Item>>();
  });

  test('flush is required and must return a promise of the right result', () => {
    // @ts-expect-error flush is required
    const noFlush: BackpressureWritableOptions<Item> = {};
    // @ts-expect-error a synchronous flush is not a FlushFunction
    const syncFlush: BackpressureWritableOptions<Item> = { flush: (_batch: Item[]) => undefined };
    const wrongItems: BackpressureWritableOptions<Item> = {
      // @ts-expect-error failedItems are items of the batch (T), not their ids
      flush: async (batch) => ({ success: 0, failed: batch.length, failedItems: batch.map((i) => i.id) }),
    };
    // @ts-expect-error numbers are numbers, not strings
    const wrongNumber: BackpressureWritableOptions<Item> = { flush, maxBufferSize: '10' };
    // The run time refuses the same options (for JavaScript callers); a result that does not
    // describe the batch fails the attempt there (ERR_BACKPRESSURE_INVALID_FLUSH_RESULT).
    for (const options of [noFlush, wrongNumber]) {
      expect(() => new BackpressureWritable<Item>(options)).toThrow(TypeError);
    }
    expect([syncFlush.flush, wrongItems.flush]).toEqual([expect.any(Function), expect.any(Function)]);
  });

  test('onDeadLetter, onSettled and the optional settings', () => {
    expectTypeOf<DeadLetterHandler<Item>>().toEqualTypeOf<(items: Item[], error: Error) => void | Promise<void>>();
    expectTypeOf<SettledHandler<Item>>().toEqualTypeOf<(items: Item[], how: Settlement) => void>();
    expectTypeOf<Settlement>().toEqualTypeOf<'flushed' | 'dead-lettered'>();
    const options: BackpressureWritableOptions<Item> = {
      flush,
      onDeadLetter: async (items, error) => {
        expectTypeOf(items).toEqualTypeOf<Item[]>();
        expectTypeOf(error).toEqualTypeOf<Error>();
      },
      onSettled: (items, how) => {
        expectTypeOf(items).toEqualTypeOf<Item[]>();
        expectTypeOf(how).toEqualTypeOf<Settlement>();
      },
      sizeOf: (item) => item.id,
      retry: { retries: 3, minDelayMs: 10 },
      circuitBreaker: { failureThreshold: 2 },
      adaptive: true,
    };
    // @ts-expect-error onSettled's `how` is 'flushed' | 'dead-lettered', not a boolean
    const wrongHow: SettledHandler<Item> = (_items, how: boolean) => void how;
    // @ts-expect-error sizeOf returns a number
    const wrongSize: BackpressureWritableOptions<Item> = { flush, sizeOf: (item: Item) => String(item.id) };
    expect([options, wrongHow, wrongSize]).toHaveLength(3);
  });
});

describe('BackpressureWritable<T> events and metrics', () => {
  test("on()/once() type each event's payload from BackpressureEventMap", () => {
    expectTypeOf<BackpressureEventName>().toEqualTypeOf<'state' | 'flush' | 'retry' | 'dead-letter' | 'circuit'>();
    expectTypeOf<BackpressureEventMap<Item>>().toEqualTypeOf<{
      state: StateChange;
      flush: FlushEvent;
      retry: RetryEvent;
      'dead-letter': DeadLetterEvent<Item>;
      circuit: CircuitChange;
    }>();
    expectTypeOf<DeadLetterEvent<Item>>().toEqualTypeOf<{ items: Item[]; error: Error }>();
    const w = new BackpressureWritable<Item>({ flush });
    w.on('state', (change) => {
      expectTypeOf(change).toEqualTypeOf<StateChange>();
      expectTypeOf(change.to).toEqualTypeOf<BackpressureState>();
    });
    w.on('flush', (event) => {
      expectTypeOf(event).toEqualTypeOf<FlushEvent>();
      // @ts-expect-error a FlushEvent has no `from`
      void event.from;
    });
    w.on('retry', (event) => expectTypeOf(event.error).toEqualTypeOf<Error>());
    w.once('dead-letter', (event) => expectTypeOf(event.items).toEqualTypeOf<Item[]>());
    w.on('circuit', (change) => expectTypeOf(change.to).toEqualTypeOf<CircuitState>());
    // The Writable events keep their usual (untyped) listeners; `on()` still returns the stream.
    expectTypeOf(w.on('finish', () => {})).toEqualTypeOf<BackpressureWritable<Item>>();
    w.on('error', (err: Error) => void err);
    expect(w.listenerCount('state')).toBe(1);
    expect(w.listenerCount('dead-letter')).toBe(1);
    w.destroy();
  });

  test('getMetrics() has exactly the documented fields', () => {
    const w = new BackpressureWritable<Item>({ flush });
    const m = w.getMetrics();
    expectTypeOf(m).toEqualTypeOf<BackpressureMetrics>();
    type Field = keyof BackpressureMetrics;
    expectTypeOf<Field>().toEqualTypeOf<
      | 'state'
      | 'bufferSize'
      | 'bufferBytes'
      | 'bufferUtilization'
      | 'maxBufferSize'
      | 'eventsAccepted'
      | 'eventsDropped'
      | 'droppedByReason'
      | 'eventsFlushed'
      | 'eventsDeadLettered'
      | 'eventsRetried'
      | 'inFlight'
      | 'inFlightBatches'
      | 'lastFlushLatencyMs'
      | 'currentFlushIntervalMs'
      | 'batchSize'
      | 'concurrency'
      | 'circuitState'
      | 'circuitOpens'
      | 'adaptiveAdjustments'
      | 'flushes'
      | 'failedFlushes'
    >();
    expectTypeOf(m.state).toEqualTypeOf<BackpressureState>();
    expectTypeOf(m.circuitState).toEqualTypeOf<CircuitState>();
    expectTypeOf(m.droppedByReason).toEqualTypeOf<Record<string, number>>();
    expectTypeOf(w.state).toEqualTypeOf<BackpressureState>();
    // The object has the fields the type lists, no more, no fewer.
    const fields: Record<Field, true> = {
      state: true,
      bufferSize: true,
      bufferBytes: true,
      bufferUtilization: true,
      maxBufferSize: true,
      eventsAccepted: true,
      eventsDropped: true,
      droppedByReason: true,
      eventsFlushed: true,
      eventsDeadLettered: true,
      eventsRetried: true,
      inFlight: true,
      inFlightBatches: true,
      lastFlushLatencyMs: true,
      currentFlushIntervalMs: true,
      batchSize: true,
      concurrency: true,
      circuitState: true,
      circuitOpens: true,
      adaptiveAdjustments: true,
      flushes: true,
      failedFlushes: true,
    };
    expect(Object.keys(m).sort()).toEqual(Object.keys(fields).sort());
    w.destroy();
  });
});

describe('error codes', () => {
  test('ErrorCodes are literal types and ErrorCode is exactly their union', () => {
    expectTypeOf(ErrorCodes.FLUSH_FAILED).toEqualTypeOf<'ERR_BACKPRESSURE_FLUSH_FAILED'>();
    expectTypeOf(ErrorCodes.DEAD_LETTER_FAILED).toEqualTypeOf<'ERR_BACKPRESSURE_DEAD_LETTER_FAILED'>();
    expectTypeOf<ErrorCode>().toEqualTypeOf<
      | 'ERR_BACKPRESSURE_FLUSH_FAILED'
      | 'ERR_BACKPRESSURE_FLUSH_TIMEOUT'
      | 'ERR_BACKPRESSURE_BLOCK_TIMEOUT'
      | 'ERR_BACKPRESSURE_DRAIN_TIMEOUT'
      | 'ERR_BACKPRESSURE_DESTROYED'
      | 'ERR_BACKPRESSURE_INVALID_FLUSH_RESULT'
      | 'ERR_BACKPRESSURE_INVALID_ITEM_SIZE'
      | 'ERR_BACKPRESSURE_DEAD_LETTER_FAILED'
      | 'ERR_BACKPRESSURE_SETTLED_HANDLER_FAILED'
    >();
    // @ts-expect-error not one of the codes
    const unknownCode: ErrorCode = 'ERR_BACKPRESSURE_SOMETHING';
    // @ts-expect-error the table is read-only
    ErrorCodes.FLUSH_FAILED = 'x';
    expect(Object.values(ErrorCodes)).not.toContain(unknownCode);
  });

  test('isBackpressureError narrows unknown to BackpressureError, with its code and items', () => {
    const caught: unknown = new BackpressureError<Item>(ErrorCodes.DESTROYED, 'gone', { items: [{ id: 1 }] });
    expectTypeOf(isBackpressureError).guards.toEqualTypeOf<BackpressureError>();
    if (!isBackpressureError(caught, ErrorCodes.DESTROYED)) throw new Error('expected a BackpressureError');
    expectTypeOf(caught).toEqualTypeOf<BackpressureError>();
    expectTypeOf(caught.code).toEqualTypeOf<ErrorCode>();
    expectTypeOf(caught.items).toEqualTypeOf<unknown[] | undefined>();
    expectTypeOf(new BackpressureError<Item>(ErrorCodes.DESTROYED, 'x').items).toEqualTypeOf<Item[] | undefined>();
    // @ts-expect-error the code to match must be one of ErrorCodes
    expect(isBackpressureError(caught, 'ERR_NOPE')).toBe(false);
    expect(caught.items).toEqual([{ id: 1 }]);
    expect(isBackpressureError(new Error('plain'))).toBe(false);
  });
});
