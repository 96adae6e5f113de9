/**
 * The write()/end() overrides with a fast path (BackpressureWritable, a backpressure() composition,
 * the strategy stages) are typed as Node's Writable#write / #end overloads with an `unknown` chunk
 * (Node's is `any`): every form of call that compiles against Node's Writable compiles against
 * ours, with the same callback types, and nothing else does. Jest runs each form against the real
 * streams: the item is accepted once, the callback is called once, Node's errors stay Node's.
 */
import { Writable as NodeWritable } from 'node:stream';
import { expectTypeOf } from 'expect-type';
import { backpressure, BackpressureWritable, dropOldest, type SheddingStage, type StrategyWritable } from '../../lib';
import { settle } from '../helpers/settle';

type Item = { id: number };
type WriteCallback = (error: Error | null | undefined) => void;

const flush = async (_batch: Item[]): Promise<void> => {};

const makers: [string, () => BackpressureWritable<Item> | StrategyWritable<Item> | SheddingStage<Item>][] = [
  ['BackpressureWritable', () => new BackpressureWritable<Item>({ flush })],
  ['backpressure() composition', () => backpressure<Item>({ flush, strategy: 'drop-oldest' })],
  ['strategy stage', () => dropOldest<Item>()],
];

test("write() and end() accept exactly Node's forms, with Node's callback types", () => {
  expectTypeOf<BackpressureWritable<Item>['write']>().toBeCallableWith({ id: 1 });
  expectTypeOf<BackpressureWritable<Item>['write']>().toBeCallableWith(
    { id: 1 },
    (_error: Error | null | undefined) => {},
  );
  expectTypeOf<BackpressureWritable<Item>['write']>().toBeCallableWith({ id: 1 }, 'utf8', () => {});
  expectTypeOf<StrategyWritable<Item>['write']>().toBeCallableWith({ id: 1 }, 'utf8');
  expectTypeOf<SheddingStage<Item>['write']>().toBeCallableWith({ id: 1 }, () => {});
  expectTypeOf<BackpressureWritable<Item>['end']>().toBeCallableWith();
  expectTypeOf<BackpressureWritable<Item>['end']>().toBeCallableWith(() => {});
  expectTypeOf<BackpressureWritable<Item>['end']>().toBeCallableWith({ id: 1 }, () => {});
  expectTypeOf<BackpressureWritable<Item>['end']>().toBeCallableWith({ id: 1 }, 'utf8', () => {});
  expectTypeOf<BackpressureWritable<Item>['write']>().returns.toEqualTypeOf<boolean>();
  expectTypeOf<BackpressureWritable<Item>['end']>().returns.toEqualTypeOf<BackpressureWritable<Item>>();
  // Ours are Writables: anything that takes Node's Writable takes them.
  expectTypeOf<BackpressureWritable<Item>>().toExtend<NodeWritable>();
  expectTypeOf<StrategyWritable<Item>>().toExtend<NodeWritable>();

  const w = new BackpressureWritable<Item>({ flush });
  const stage = dropOldest<Item>();
  // Type-only: never called.
  const refused = [
    // @ts-expect-error the encoding is a BufferEncoding
    () => w.write({ id: 1 }, 'no-such-encoding', () => {}),
    // @ts-expect-error the callback takes (error) as Node types it: a narrower parameter is refused
    () => stage.write({ id: 2 }, (error: Error) => void error),
  ];
  expect(refused).toHaveLength(2);
  w.destroy();
  stage.destroy();
});

describe.each(makers)('%s', (_name, make) => {
  test('write(item), write(item, cb), write(item, encoding, cb): each item accepted once, each callback called once', async () => {
    const w = make();
    w.on('error', () => {}); // destroyed below with what it holds
    const calls: (Error | null | undefined)[] = [];
    const done: WriteCallback = (error) => calls.push(error);
    const answers = [w.write({ id: 1 }), w.write({ id: 2 }, done), w.write({ id: 3 }, 'utf8', done)];
    expect(answers.map((answer) => typeof answer)).toEqual(['boolean', 'boolean', 'boolean']);
    await settle();
    expect(calls).toEqual([null, null]);
    const m = w.getMetrics();
    expect('eventsAccepted' in m ? m.eventsAccepted : m.written).toBe(3);
    w.destroy();
  });

  test("corked (through Node's queue, for the writable): each callback still called once, after the item was taken", async () => {
    const w = make();
    w.on('error', () => {});
    const calls: (Error | null | undefined)[] = [];
    w.cork();
    w.write({ id: 1 }, (error) => calls.push(error));
    w.write({ id: 2 }, 'utf8', (error) => calls.push(error));
    w.uncork();
    await settle();
    expect(calls).toHaveLength(2);
    expect(calls.filter((error) => error !== null && error !== undefined)).toEqual([]);
    const m = w.getMetrics();
    expect('eventsAccepted' in m ? m.eventsAccepted : m.written).toBe(2);
    w.destroy();
  });

  test("after end(), every form gets Node's own error through its callback", async () => {
    const w = make();
    w.on('error', () => {});
    w.end();
    const errors: (Error | null | undefined)[] = [];
    w.write({ id: 1 }, (error) => errors.push(error));
    w.write({ id: 2 }, 'utf8', (error) => errors.push(error));
    await settle();
    expect(errors.map((e) => (e as NodeJS.ErrnoException | null | undefined)?.code)).toEqual([
      'ERR_STREAM_WRITE_AFTER_END',
      'ERR_STREAM_WRITE_AFTER_END',
    ]);
    w.destroy();
  });
});

describe('BackpressureWritable end()', () => {
  test.each([
    ['end(cb)', (w: BackpressureWritable<Item>, cb: () => void) => w.end(cb), 0],
    ['end(item, cb)', (w: BackpressureWritable<Item>, cb: () => void) => w.end({ id: 1 }, cb), 1],
    ['end(item, encoding, cb)', (w: BackpressureWritable<Item>, cb: () => void) => w.end({ id: 1 }, 'utf8', cb), 1],
  ] as const)('%s: the last item is delivered, then the callback runs once', async (_form, end, items) => {
    const delivered: Item[] = [];
    const w = new BackpressureWritable<Item>({ flush: async (batch) => void delivered.push(...batch) });
    let finished = 0;
    end(w, () => finished++);
    await new Promise((resolve) => w.on('close', resolve));
    expect(finished).toBe(1);
    expect(delivered).toHaveLength(items);
    expect(w.getMetrics()).toMatchObject({ eventsAccepted: items, eventsFlushed: items });
  });
});
