import { backpressure } from '../../lib/compose/backpressure';
import { ErrorCodes, isBackpressureError } from '../../lib/core/errors';
import { pipeline, Readable } from '../../lib/util/stream-classes';
import { isConserved, settle } from '../helpers/stage-helpers';
import { strategyOptions } from '../helpers/strategy-options';

type Shedding = 'drop-oldest' | 'drop-newest' | 'sample' | 'priority';
const strategies: Shedding[] = ['drop-oldest', 'drop-newest', 'sample', 'priority'];

/** A composition whose sink never completes, filled until its stage holds items too. */
async function filled(strategy: Shedding, extra: { onDeadLetter?: (items: number[], error: Error) => void } = {}) {
  const bp = backpressure<number>(
    strategyOptions(strategy, {
      flush: () => new Promise<void>(() => {}),
      priority: () => 1,
      sampleRate: 1, // keep everything: this is about what is held, not about what is shed
      capacity: 10,
      maxBufferSize: 10,
      batchSize: 5,
      minFlushIntervalMs: 0,
      ...extra,
    }),
  );
  await settle();
  // 5 in flight, 10 in the writable's buffer, 5 in the stage's hold.
  for (let i = 0; i < 20; i++) {
    bp.write(i);
    await settle();
  }
  return bp;
}

function closed(stream: NodeJS.EventEmitter): Promise<Error | undefined> {
  return new Promise((resolve) => {
    let error: Error | undefined;
    stream.on('error', (e: Error) => (error = e));
    stream.on('close', () => resolve(error));
  });
}

describe.each(strategies)('%s composition', (strategy) => {
  test('a failing sink errors the whole; the stage drops what it held as "destroyed"; everything is accounted', async () => {
    const bp = backpressure<number>(
      strategyOptions(strategy, {
        flush: async () => {
          throw new Error('sink down');
        },
        retry: { retries: 0 },
        priority: () => 1,
        capacity: 10,
        maxBufferSize: 10,
        batchSize: 5,
        minFlushIntervalMs: 0,
      }),
    );
    const deadLettered: number[] = [];
    bp.on('dead-letter', ({ items }: { items: number[] }) => deadLettered.push(...items));
    const done = closed(bp);
    for (let i = 0; i < 8; i++) bp.write(i);
    const error = await done;
    expect(isBackpressureError(error, ErrorCodes.FLUSH_FAILED)).toBe(true);
    expect(bp.stage.destroyed).toBe(true);
    expect(bp.backpressureWritable.destroyed).toBe(true);
    const m = bp.getMetrics();
    expect(isConserved(m)).toBe(true);
    expect(m).toMatchObject({ eventsAccepted: 8, eventsFlushed: 0, bufferSize: 0, inFlight: 0 });
    expect(m.eventsDeadLettered).toBe(deadLettered.length);
    expect(m.eventsDeadLettered + m.eventsDropped).toBe(8);
  });

  test('destroy() without onDeadLetter: nothing is dropped, the error hands back what both parts held, in write order', async () => {
    const bp = await filled(strategy);
    const before = bp.getMetrics();
    expect(before.stage.held).toBe(5); // both parts hold items
    expect(before).toMatchObject({ bufferSize: 15, inFlight: 5 });
    const drops: string[] = [];
    bp.on('drop', ({ reason }: { reason: string }) => drops.push(reason));
    const done = closed(bp);
    bp.destroy();
    const error = await done;
    expect(isBackpressureError(error, ErrorCodes.DESTROYED)).toBe(true);
    const held = before.bufferSize + before.inFlight; // the stage's items were never shed: they are dead-lettered too
    const items = (error as { items?: number[] }).items ?? [];
    expect(items).toHaveLength(held);
    expect(items).toEqual([...items].sort((a, b) => a - b)); // oldest first
    expect(drops).toEqual([]);
    const m = bp.getMetrics();
    expect(isConserved(m)).toBe(true);
    expect(m).toMatchObject({
      eventsAccepted: 20,
      bufferSize: 0,
      inFlight: 0,
      eventsDeadLettered: held,
      eventsDropped: before.eventsDropped,
    });
  });

  test('destroy(err) surfaces err; with onDeadLetter the writable’s items go there', async () => {
    const handed: number[] = [];
    const bp = await filled(strategy, { onDeadLetter: (items) => void handed.push(...items) });
    const failure = new Error('shutting down');
    const done = closed(bp);
    bp.destroy(failure);
    expect(await done).toBe(failure);
    expect(bp.stage.destroyed && bp.backpressureWritable.destroyed).toBe(true);
    const m = bp.getMetrics();
    expect(isConserved(m)).toBe(true);
    expect(handed.length).toBe(m.eventsDeadLettered);
    expect(m.eventsDeadLettered + m.eventsDropped).toBe(20);
  });

  test('an error in the stage destroys the writable and the whole', async () => {
    const bp = await filled(strategy, { onDeadLetter: () => {} });
    const failure = new Error('stage broke');
    const done = closed(bp);
    bp.stage.destroy(failure);
    expect(await done).toBe(failure);
    expect(bp.backpressureWritable.destroyed).toBe(true);
    expect(isConserved(bp.getMetrics())).toBe(true);
  });

  test('an error in the writable destroys the stage and the whole', async () => {
    const bp = await filled(strategy, { onDeadLetter: () => {} });
    const failure = new Error('writable broke');
    const done = closed(bp);
    bp.backpressureWritable.destroy(failure);
    expect(await done).toBe(failure);
    expect(bp.stage.destroyed).toBe(true);
    expect(isConserved(bp.getMetrics())).toBe(true);
  });

  test('a source error in pipeline() destroys the composition and both parts', async () => {
    const bp = backpressure<number>(
      strategyOptions(strategy, { flush: async () => {}, priority: () => 1, onDeadLetter: () => {} }),
    );
    const failure = new Error('source broke');
    let n = 0;
    const source = new Readable({
      objectMode: true,
      read() {
        if (n < 5) this.push(n++);
        else this.destroy(failure);
      },
    });
    const result = await new Promise<Error | null | undefined>((resolve) => pipeline(source, bp, resolve));
    expect(result).toBe(failure);
    expect(bp.destroyed && bp.stage.destroyed && bp.backpressureWritable.destroyed).toBe(true);
    expect(isConserved(bp.getMetrics())).toBe(true);
  });
});
