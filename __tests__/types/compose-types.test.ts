/**
 * Type tests of `backpressure()` and the strategy stages, as users import them (`lib/index.ts`):
 * the options are a union on `strategy`, so each strategy takes exactly its own options; the return
 * type follows the strategy; the composition's events and metrics are typed; each stage factory
 * takes its options and types its `'drop'` events. `npm run typecheck` checks the types (a
 * `@ts-expect-error` line that starts to compile fails it); Jest runs the file, and every call the
 * types refuse is shown refused at run time too, with the same coded error a JavaScript caller gets.
 */
import { expectTypeOf } from 'expect-type';
import {
  backpressure,
  BackpressureWritable,
  DropReason,
  dropNewest,
  dropOldest,
  sample,
  SampleMode,
  shedByPriority,
  Strategy,
  StrategyWritable,
  type BackpressureOptions,
  type BlockStrategyOptions,
  type DropEvent,
  type DropNewestStage,
  type DropOldestStage,
  type DropStrategyOptions,
  type PriorityStrategyOptions,
  type SampleMetrics,
  type SampleStage,
  type SampleStrategyOptions,
  type SheddingStrategyOptions,
  type ShedByPriorityStage,
  type StageMetrics,
  type StateChange,
  type StrategyMetrics,
} from '../../lib';

interface Event {
  level: number;
  user: string;
}

const flush = async (_batch: Event[]): Promise<void> => {};

/** What backpressure() throws for options a JavaScript caller got wrong: a coded option error naming the option. */
function refusal(build: () => unknown, option: string): unknown {
  try {
    const made = build();
    if (made instanceof BackpressureWritable || made instanceof StrategyWritable) made.destroy();
  } catch (err) {
    expect(err).toMatchObject({ code: expect.stringMatching(/^ERR_(INVALID_ARG_TYPE|OUT_OF_RANGE)$/) });
    expect((err as Error).message).toContain(`option "${option}" must be`);
    return err;
  }
  throw new Error(`expected backpressure() to refuse "${option}"`);
}

describe('Strategy', () => {
  test('is the table of strategy names, as literal types', () => {
    expectTypeOf(Strategy.PRIORITY).toEqualTypeOf<'priority'>();
    expectTypeOf<Strategy>().toEqualTypeOf<'block' | 'drop-oldest' | 'drop-newest' | 'sample' | 'priority'>();
    expectTypeOf<BackpressureOptions<Event>>().toEqualTypeOf<
      | BlockStrategyOptions<Event>
      | DropStrategyOptions<Event>
      | SampleStrategyOptions<Event>
      | PriorityStrategyOptions<Event>
    >();
    expectTypeOf<SheddingStrategyOptions<Event>['strategy']>().toEqualTypeOf<Exclude<Strategy, 'block'>>();
    expect(Object.values(Strategy)).toEqual(['block', 'drop-oldest', 'drop-newest', 'sample', 'priority']);
  });
});

describe('backpressure(): the return type follows the strategy', () => {
  test("'block' (or no strategy) is the BackpressureWritable itself; the others a StrategyWritable", () => {
    const plain = backpressure({ flush });
    const block = backpressure({ flush, strategy: 'block' });
    const oldest = backpressure({ flush, strategy: 'drop-oldest', capacity: 100 });
    const sampled = backpressure({ flush, strategy: Strategy.SAMPLE, sampleRate: 5 });
    expectTypeOf(plain).toEqualTypeOf<BackpressureWritable<Event>>();
    expectTypeOf(block).toEqualTypeOf<BackpressureWritable<Event>>();
    expectTypeOf(oldest).toEqualTypeOf<StrategyWritable<Event>>();
    expectTypeOf(sampled).toEqualTypeOf<StrategyWritable<Event>>();
    expect([plain, block, oldest, sampled].map((w) => w.constructor)).toEqual([
      BackpressureWritable,
      BackpressureWritable,
      StrategyWritable,
      StrategyWritable,
    ]);
    for (const w of [plain, block, oldest, sampled]) w.destroy();
  });

  test('T is inferred from flush, and the strategy callbacks are typed by it', () => {
    const w = backpressure({
      flush,
      strategy: 'priority',
      priority: (event) => {
        expectTypeOf(event).toEqualTypeOf<Event>();
        return event.level;
      },
    });
    expectTypeOf(w).toEqualTypeOf<StrategyWritable<Event>>();
    const keyed = backpressure({ flush, strategy: 'sample', sampleKey: (event) => event.user });
    expectTypeOf(keyed).toEqualTypeOf<StrategyWritable<Event>>();
    w.destroy();
    keyed.destroy();
  });

  test('a strategy chosen at run time compiles when every strategy it may be gets what it needs', () => {
    const chosen = (name: string): 'block' | 'drop-oldest' | 'sample' =>
      name === 'sample' ? 'sample' : name === 'block' ? 'block' : 'drop-oldest';
    const w = backpressure({ flush, strategy: chosen('sample') });
    expectTypeOf(w).toEqualTypeOf<BackpressureWritable<Event> | StrategyWritable<Event>>();
    const any: Strategy = Strategy.DROP_NEWEST as Strategy;
    // @ts-expect-error the strategy may be 'priority', which needs `priority`
    const unchecked = () => backpressure({ flush, strategy: any });
    expect(w).toBeInstanceOf(StrategyWritable);
    w.destroy();
    expect(unchecked).toBeInstanceOf(Function);
  });
});

describe('backpressure(): each strategy takes exactly its own options', () => {
  test("'priority' without `priority` does not compile (and is refused at run time)", () => {
    // @ts-expect-error 'priority' requires `priority`
    refusal(() => backpressure({ flush, strategy: 'priority' }), 'priority');
    // @ts-expect-error `priority` returns a number
    const w = backpressure({ flush, strategy: 'priority', priority: (e: Event) => e.user });
    // At run time that is each item's problem, not the stream's: dropped, with the reason.
    const reasons: string[] = [];
    w.on('drop', (event: DropEvent<Event>) => reasons.push(event.reason));
    w.write({ level: 1, user: 'a' });
    expect(reasons).toEqual([DropReason.INVALID_PRIORITY]);
    w.destroy();
  });

  test('the sample options only with sample', () => {
    // @ts-expect-error sampleRate is for 'sample'
    refusal(() => backpressure({ flush, strategy: 'drop-oldest', sampleRate: 10 }), 'sampleRate');
    // @ts-expect-error sampleKey is for 'sample'
    refusal(() => backpressure({ flush, sampleKey: (e: Event) => e.user }), 'sampleKey');
    // @ts-expect-error sampleMode is for 'sample'
    refusal(() => backpressure({ flush, strategy: 'priority', priority: () => 1, sampleMode: 'random' }), 'sampleMode');
    // @ts-expect-error sampleThreshold is for 'sample'
    refusal(() => backpressure({ flush, strategy: 'drop-newest', sampleThreshold: 'critical' }), 'sampleThreshold');
    // @ts-expect-error random is for 'sample'
    refusal(() => backpressure({ flush, strategy: 'drop-newest', random: Math.random }), 'random');
    // @ts-expect-error 'normal' is not a threshold: sampling from 'normal' would mean always
    refusal(() => backpressure({ flush, strategy: 'sample', sampleThreshold: 'normal' }), 'sampleThreshold');
    // @ts-expect-error not a sample mode
    refusal(() => backpressure({ flush, strategy: 'sample', sampleMode: 'sometimes' }), 'sampleMode');
  });

  test('the priority options only with priority, capacity only with a stage', () => {
    // @ts-expect-error priority is for 'priority'
    refusal(() => backpressure({ flush, strategy: 'sample', priority: (e: Event) => e.level }), 'priority');
    // @ts-expect-error keepAtLeast is for 'priority'
    refusal(() => backpressure({ flush, strategy: 'drop-oldest', keepAtLeast: { critical: 3 } }), 'keepAtLeast');
    // @ts-expect-error capacity is for a strategy with a stage ('block' has none)
    refusal(() => backpressure({ flush, capacity: 100 }), 'capacity');
    // @ts-expect-error capacity is for a strategy with a stage ('block' has none)
    refusal(() => backpressure({ flush, strategy: 'block', capacity: 100 }), 'capacity');
  });

  test('not a strategy, or a stage option of the wrong type', () => {
    // @ts-expect-error not a strategy
    refusal(() => backpressure({ flush, strategy: 'drop-everything' }), 'strategy');
    // @ts-expect-error capacity is a number
    refusal(() => backpressure({ flush, strategy: 'drop-oldest', capacity: '100' }), 'capacity');
  });

  test('every option that applies compiles, left out or given as undefined', () => {
    const all: BackpressureOptions<Event>[] = [
      { flush },
      { flush, strategy: 'block', maxBufferSize: 100, capacity: undefined },
      { flush, strategy: 'drop-oldest', capacity: 10 },
      { flush, strategy: 'drop-newest', capacity: 10, sampleRate: undefined },
      {
        flush,
        strategy: 'sample',
        capacity: 10,
        sampleRate: 2,
        sampleMode: SampleMode.RANDOM,
        sampleThreshold: 'critical',
        random: Math.random,
      },
      { flush, strategy: 'sample', sampleMode: 'key', sampleKey: (e) => e.user },
      { flush, strategy: 'priority', capacity: 10, priority: (e) => e.level, keepAtLeast: { elevated: 1 } },
    ];
    for (const options of all) backpressure(options).destroy();
  });
});

describe('StrategyWritable<T>: typed events and one account', () => {
  test("'drop' carries a DropEvent<T>; the writable's events are forwarded with their payloads", () => {
    const w = backpressure({ flush, strategy: 'drop-oldest', capacity: 1 });
    w.on('drop', (event) => {
      expectTypeOf(event).toEqualTypeOf<DropEvent<Event>>();
      expectTypeOf(event.reason).toEqualTypeOf<DropReason>();
    });
    w.on('state', (change) => expectTypeOf(change).toEqualTypeOf<StateChange>());
    w.once('dead-letter', (event) => expectTypeOf(event.items).toEqualTypeOf<Event[]>());
    expectTypeOf(w.backpressureWritable).toEqualTypeOf<BackpressureWritable<Event>>();
    expectTypeOf(w.strategy).toEqualTypeOf<Strategy>();
    const m = w.getMetrics();
    expectTypeOf(m).toEqualTypeOf<StrategyMetrics>();
    expectTypeOf(m.stage).toEqualTypeOf<StageMetrics>();
    expect(m.stage).toMatchObject({ written: 0, capacity: 1 });
    w.destroy();
  });
});

describe('the stage factories', () => {
  test('each returns its own stage, typed by T, with typed drop events', () => {
    const writable = new BackpressureWritable<Event>({ flush }); // a PressureSource
    const oldest = dropOldest<Event>({ capacity: 10 });
    const newest = dropNewest<Event>();
    const sampled = sample<Event>({ rate: 4, mode: 'key', key: (e) => e.user, threshold: 'critical' });
    const ranked = shedByPriority<Event>({
      priority: (e) => e.level,
      keepAtLeast: { critical: 2 },
      pressure: writable,
    });
    expectTypeOf(oldest).toEqualTypeOf<DropOldestStage<Event>>();
    expectTypeOf(newest).toEqualTypeOf<DropNewestStage<Event>>();
    expectTypeOf(sampled).toEqualTypeOf<SampleStage<Event>>();
    expectTypeOf(ranked).toEqualTypeOf<ShedByPriorityStage<Event>>();
    expectTypeOf(sampled.getMetrics()).toEqualTypeOf<SampleMetrics>();
    expectTypeOf(oldest.getMetrics()).toEqualTypeOf<StageMetrics>();
    ranked.on('drop', (event) => expectTypeOf(event.item).toEqualTypeOf<Event>());
    expect(sampled.getMetrics()).toMatchObject({ arrivedUnderPressure: 0 });
    for (const stream of [oldest, newest, sampled, ranked, writable]) stream.destroy();
  });

  test('what a stage cannot take does not compile (and is refused at run time)', () => {
    // @ts-expect-error shedByPriority requires `priority`
    expect(() => shedByPriority<Event>({})).toThrow(TypeError);
    // @ts-expect-error capacity is a number
    expect(() => dropOldest<Event>({ capacity: '10' })).toThrow(TypeError);
    // @ts-expect-error 'normal' is not a sampling threshold
    expect(() => sample<Event>({ threshold: 'normal' })).toThrow(RangeError);
  });
});
