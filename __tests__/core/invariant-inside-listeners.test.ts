import { BackpressureWritable, type BackpressureWritableOptions, type FlushContext } from '../../lib';
import { ControlledSink, range, settle, watchConservation, type ConservationWatch } from '../helpers/core-helpers';

// The invariant eventsAccepted === flushed + dropped + dead-lettered + buffered + in flight holds inside
// every listener — 'state', 'dead-letter', 'flush', 'retry', 'circuit', 'drain', 'finish', 'close',
// 'error', and the abort listener of a flush's signal — also while the stream destroys itself, fails,
// or gives up at the drain deadline: items are counted first, then the events go out.

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

interface Setup {
  w: BackpressureWritable<number>;
  watch: ConservationWatch;
  sink: ControlledSink<number>;
  dead: number[];
}

/** A stream on a ControlledSink whose every attempt's signal checks the invariant when it aborts. */
function setup(options: Partial<BackpressureWritableOptions<number>>, withHandler: boolean): Setup {
  const sink = new ControlledSink<number>();
  const dead: number[] = [];
  let watch: ConservationWatch | undefined;
  const w = new BackpressureWritable<number>({
    batchSize: 3,
    maxBufferSize: 5,
    ...options,
    flush: (batch: number[], ctx: FlushContext) => {
      ctx.signal.addEventListener('abort', () => watch?.check('inside the abort listener'));
      return sink.flush(batch, ctx);
    },
    ...(withHandler ? { onDeadLetter: (items: number[]) => void dead.push(...items) } : {}),
  });
  watch = watchConservation(w);
  return { w, watch, sink, dead };
}

/** The items the stream gave back in an error's items, from the 'dead-letter' events' payloads. */
function itemsOfDeadLetterEvents(w: BackpressureWritable<number>): number[] {
  const items: number[] = [];
  w.on('dead-letter', (e: { items: number[] }) => items.push(...e.items));
  return items;
}

describe.each([
  ['with onDeadLetter', true],
  ['without onDeadLetter', false],
])('%s', (_label, withHandler) => {
  test('destroy() with items in flight, buffered and in Node’s queue', async () => {
    const { w, watch, sink, dead } = setup({}, withHandler);
    const given = itemsOfDeadLetterEvents(w);
    for (const i of range(10)) w.write(i); // 3 in flight, 5 buffered, 2 in Node's queue
    expect(sink.calls).toHaveLength(1);
    w.destroy(new Error('shutdown'));
    await settle();
    await jest.advanceTimersByTimeAsync(0);
    expect(watch.seen).toEqual(
      expect.arrayContaining(['state closed', 'dead-letter ERR_BACKPRESSURE_DESTROYED', 'error', 'close']),
    );
    expect(sink.pending.signal.aborted).toBe(true);
    expect(watch.violations).toEqual([]);
    expect(given).toEqual(range(10));
    if (withHandler) expect(dead).toEqual(range(10));
  });

  test('retries exhausted (the stream fails when there is no handler)', async () => {
    const { w, watch, sink, dead } = setup({ batchSize: 2, retry: { retries: 1, minDelayMs: 10 } }, withHandler);
    const given = itemsOfDeadLetterEvents(w);
    for (const i of range(6)) w.write(i);
    sink.pending.reject(new Error('down'));
    await jest.advanceTimersByTimeAsync(10);
    sink.pending.reject(new Error('still down'));
    await settle();
    await jest.advanceTimersByTimeAsync(0);
    expect(watch.seen).toEqual(expect.arrayContaining(['retry', 'dead-letter ERR_BACKPRESSURE_FLUSH_FAILED']));
    if (!withHandler) expect(watch.seen).toEqual(expect.arrayContaining(['state closed', 'error', 'close']));
    expect(watch.violations).toEqual([]);
    if (withHandler) {
      expect(dead).toEqual([0, 1]);
      w.destroy();
      await settle();
      expect(watch.violations).toEqual([]);
    } else {
      expect(given).toEqual(range(6));
    }
  });

  test('maxBlockTimeMs passes while blocked', async () => {
    const { w, watch, dead } = setup({ maxBlockTimeMs: 100, maxBufferSize: 2, batchSize: 1 }, withHandler);
    const given = itemsOfDeadLetterEvents(w);
    for (const i of range(4)) w.write(i); // 1 in flight, 2 buffered, 1 in Node's queue
    expect(w.state).toBe('blocked');
    await jest.advanceTimersByTimeAsync(100);
    await settle();
    expect(watch.seen).toEqual(
      expect.arrayContaining(['dead-letter ERR_BACKPRESSURE_BLOCK_TIMEOUT', 'state closed', 'error', 'close']),
    );
    expect(watch.violations).toEqual([]);
    expect(given).toEqual(range(4));
    if (withHandler) expect(dead).toEqual(range(4));
  });

  test('drainTimeoutMs passes after end()', async () => {
    const { w, watch, dead } = setup({ drainTimeoutMs: 100, batchSize: 2, maxBufferSize: 10 }, withHandler);
    const given = itemsOfDeadLetterEvents(w);
    for (const i of range(5)) w.write(i);
    w.end();
    await jest.advanceTimersByTimeAsync(100);
    await settle();
    expect(watch.seen).toEqual(
      expect.arrayContaining(['state draining', 'dead-letter ERR_BACKPRESSURE_DRAIN_TIMEOUT', 'state closed']),
    );
    expect(watch.seen).toEqual(expect.arrayContaining(withHandler ? ['finish'] : ['error', 'close']));
    expect(watch.violations).toEqual([]);
    expect(given).toEqual(range(5));
    if (withHandler) expect(dead).toEqual(range(5));
  });
});

test('the way through: retries, partial failures, the circuit, drain, end', async () => {
  const { w, watch, sink } = setup(
    {
      batchSize: 2,
      maxBufferSize: 4,
      retry: { retries: 3, minDelayMs: 10 },
      circuitBreaker: { failureThreshold: 1, cooldownMs: 50 },
    },
    true,
  );
  for (const i of range(5)) w.write(i);
  w.end(5);
  sink.pending.resolve({ success: 1, failed: 1, errors: [new Error('one failed')], failedItems: [1] });
  await jest.advanceTimersByTimeAsync(10);
  sink.pending.reject(new Error('down')); // opens the circuit
  await jest.advanceTimersByTimeAsync(60);
  for (let i = 0; i < 10 && w.writableFinished === false; i++) {
    const call = sink.calls[sink.calls.length - 1];
    if (call !== undefined && !call.signal.aborted) call.resolve();
    await jest.advanceTimersByTimeAsync(60);
  }
  expect(w.writableFinished).toBe(true);
  expect(watch.seen).toEqual(
    expect.arrayContaining([
      'retry',
      'circuit',
      'flush',
      'drain',
      'state blocked',
      'state draining',
      'state closed',
      'finish',
    ]),
  );
  expect(watch.violations).toEqual([]);
  expect(w.getMetrics()).toMatchObject({ eventsFlushed: 6, eventsDeadLettered: 0 });
});

test('onDeadLetter failing destroys the stream with the invariant intact', async () => {
  const sink = new ControlledSink<number>();
  const w = new BackpressureWritable<number>({
    batchSize: 2,
    retry: { retries: 0 },
    flush: sink.flush,
    onDeadLetter: () => {
      throw new Error('dead-letter queue down');
    },
  });
  const watch = watchConservation(w);
  for (const i of range(4)) w.write(i);
  sink.pending.reject(new Error('down'));
  await settle(10);
  expect(watch.seen).toEqual(expect.arrayContaining(['state closed', 'error', 'close']));
  expect(watch.violations).toEqual([]);
});

describe('a listener that destroys the stream: every item is accounted exactly once', () => {
  async function run(event: string, sinkStep: (sink: ControlledSink<number>) => void): Promise<void> {
    const sink = new ControlledSink<number>();
    const dead: number[] = [];
    const w = new BackpressureWritable<number>({
      batchSize: 2,
      retry: { retries: 2, minDelayMs: 10 },
      circuitBreaker: { failureThreshold: 1, cooldownMs: 1000 },
      flush: sink.flush,
      onDeadLetter: (items) => void dead.push(...items),
    });
    const watch = watchConservation(w);
    w.once(event, () => w.destroy());
    for (const i of range(6)) w.write(i);
    sinkStep(sink);
    await settle(10);
    expect(watch.seen).toContain(event === 'circuit' ? 'circuit' : event);
    expect(watch.seen).toContain('close');
    expect(watch.violations).toEqual([]);
    const m = w.getMetrics();
    expect(m.eventsFlushed + m.eventsDeadLettered).toBe(6);
    expect([...sink.delivered, ...dead].sort()).toEqual(range(6));
  }

  test("inside 'circuit' (a failure opened it)", () =>
    run('circuit', (sink) => sink.pending.reject(new Error('down'))));
  test("inside 'retry' (after a partial failure)", () =>
    run('retry', (sink) => {
      const [taken, failed] = sink.pending.batch as [number, number];
      sink.delivered.push(taken);
      sink.pending.resolve({ success: 1, failed: 1, errors: [], failedItems: [failed] });
    }));
  test("inside 'flush'", () => run('flush', (sink) => sink.pending.resolve()));
});

test("a batch dead-lettered by a 'circuit' listener that destroys the stream never reaches flush", async () => {
  // Fuzz seed 547656054: admit() announces half-open synchronously; the listener destroys the
  // stream, which dead-letters the waiting batch — that batch must not then be sent anyway.
  const flushed: number[][] = [];
  const dead: number[] = [];
  const w = new BackpressureWritable<number>({
    batchSize: 1,
    maxBufferSize: 4,
    retry: { retries: 0 },
    circuitBreaker: { failureThreshold: 1, cooldownMs: 50 },
    flush: async (batch) => {
      flushed.push([...batch]);
      throw new Error('down');
    },
    onDeadLetter: (items) => void dead.push(...items),
  });
  const watch = watchConservation(w);
  w.on('error', () => undefined);
  w.on('circuit', (change: { to: string }) => {
    if (change.to === 'half-open') w.destroy();
  });
  w.write(1); // fails, opens the circuit
  w.write(2); // waits for the circuit
  await settle();
  await jest.advanceTimersByTimeAsync(60);
  await settle();
  expect(flushed).toEqual([[1]]);
  expect(dead.sort()).toEqual([1, 2]);
  expect(watch.violations).toEqual([]);
});
