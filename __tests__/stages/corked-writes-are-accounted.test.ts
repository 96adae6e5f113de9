/**
 * cork() does not take items out of the account: a composition (and a stage on its own) accepts a
 * corked item at once, so destroy() dead-letters (or drops) it like any other, and uncork() changes
 * nothing. Node would otherwise keep corked items in its own queue and discard them on destroy()
 * while write() had said true (issue 10, defect 4).
 */
import { backpressure } from '../../lib/compose/backpressure';
import { ErrorCodes, isBackpressureError } from '../../lib/core/errors';
import {
  DropReason,
  dropNewest,
  dropOldest,
  sample,
  shedByPriority,
  type DropEvent,
  type SheddingStage,
} from '../../lib/stages';
import { isConserved, settle } from '../helpers/stage-helpers';
import { strategyOptions } from '../helpers/strategy-options';

type Shedding = 'drop-oldest' | 'drop-newest' | 'sample' | 'priority';
const strategies: Shedding[] = ['drop-oldest', 'drop-newest', 'sample', 'priority'];

describe.each(strategies)('%s composition', (strategy) => {
  test('cork(), write a, b, c, destroy(): all three are accepted and dead-lettered to onDeadLetter', async () => {
    const handed: string[] = [];
    const w = backpressure<string>(
      strategyOptions(strategy, {
        flush: () => new Promise<void>(() => {}),
        onDeadLetter: (items) => void handed.push(...items),
        priority: () => 1,
      }),
    );
    w.cork();
    expect([w.write('a'), w.write('b'), w.write('c')]).toEqual([true, true, true]);
    expect(w.getMetrics()).toMatchObject({ eventsAccepted: 3, bufferSize: 3 });
    const closed = new Promise((resolve) => w.on('close', resolve));
    w.destroy();
    await closed;
    expect(handed).toEqual(['a', 'b', 'c']);
    const m = w.getMetrics();
    expect(isConserved(m)).toBe(true);
    expect(m).toMatchObject({ eventsAccepted: 3, eventsDeadLettered: 3, eventsDropped: 0, bufferSize: 0, inFlight: 0 });
  });

  test('without onDeadLetter the corked items come back in ERR_BACKPRESSURE_DESTROYED', async () => {
    const w = backpressure<string>(
      strategyOptions(strategy, { flush: () => new Promise<void>(() => {}), priority: () => 1 }),
    );
    w.cork();
    w.write('a');
    w.write('b');
    const error = await new Promise<unknown>((resolve) => {
      w.on('error', resolve);
      w.destroy();
    });
    expect(isBackpressureError(error, ErrorCodes.DESTROYED)).toBe(true);
    expect((error as { items?: string[] }).items).toEqual(['a', 'b']);
    expect(isConserved(w.getMetrics())).toBe(true);
  });

  test('cork()/uncork() around writes delivers them in order, as without cork', async () => {
    const delivered: string[] = [];
    const w = backpressure<string>(
      strategyOptions(strategy, {
        flush: async (batch) => void delivered.push(...batch),
        priority: () => 1,
      }),
    );
    w.cork();
    w.write('a');
    w.write('b');
    process.nextTick(() => w.uncork());
    w.write('c');
    await settle();
    w.end('d');
    await new Promise((resolve) => w.on('finish', resolve));
    expect(delivered).toEqual(['a', 'b', 'c', 'd']);
    expect(w.getMetrics()).toMatchObject({ eventsAccepted: 4, eventsFlushed: 4 });
  });
});

const stages: [string, () => SheddingStage<string>][] = [
  ['dropOldest', () => dropOldest<string>()],
  ['dropNewest', () => dropNewest<string>()],
  ['sample', () => sample<string>({ rate: 1 })],
  ['shedByPriority', () => shedByPriority<string>({ priority: () => 1 })],
];

test.each(stages)(
  '%s on its own: corked items are accepted, and destroy() drops them as destroyed, an event each',
  async (_name, make) => {
    const stage = make();
    const drops: DropEvent<string>[] = [];
    stage.on('drop', (event) => drops.push(event));
    stage.cork();
    stage.write('a');
    stage.write('b');
    expect(stage.getMetrics()).toMatchObject({ written: 2, held: 2 });
    stage.destroy();
    await settle();
    expect(drops).toEqual([
      { item: 'a', reason: DropReason.DESTROYED },
      { item: 'b', reason: DropReason.DESTROYED },
    ]);
    expect(stage.getMetrics()).toMatchObject({ written: 2, dropped: 2, held: 0 });
  },
);
