/**
 * The adversarial fuzzer's oracle can fail. Each test takes a seed that passes untouched and sabotages
 * one thing a correct stream does (through runCase's `create` hook), and expects the fuzzer to name it.
 */
import {
  BackpressureWritable,
  backpressure,
  isBackpressureError,
  type BackpressureMetrics,
  type BackpressureOptions,
  type Settlement,
  type StrategyWritable,
} from '../../lib';
import type { FuzzItem } from '../helpers/fuzz/fuzz-case';
import { runCase, type CaseResult } from '../helpers/fuzz/run-case';

/** 'block', 145 items, a healthy sink with a circuit breaker: passes untouched. */
const BLOCK_SEED = 50;
/** 'sample', 146 items, drops some as 'sampled-out': passes untouched. */
const SAMPLE_SEED = 106;
/** 'block' with onSettled (BLOCK_SEED has it too), a sink that is down, onDeadLetter that accepts: items settle 'dead-lettered'. */
const DEAD_LETTER_SEED = 317;
/** 'block' with onSettled, no onDeadLetter: the stream fails with items handed back in its error. */
const ERROR_ITEMS_SEED = 151;
/** 'block' with an onSettled that throws from its second call on: the stream fails with ERR_BACKPRESSURE_SETTLED_HANDLER_FAILED. */
const SETTLED_THROWS_SEED = 320;

function kinds(result: CaseResult): string[] {
  return [...new Set(result.failures.map((f) => f.kind))].sort();
}

/** Where the onSettled oracle (settled-oracle.ts) failed, e.g. 'twice'. */
function settledWheres(result: CaseResult): string[] {
  return [...new Set(result.failures.filter((f) => f.kind === 'settled').map((f) => f.where))].sort();
}

it('the seeds used below pass untouched', async () => {
  for (const seed of [BLOCK_SEED, SAMPLE_SEED, DEAD_LETTER_SEED, ERROR_ITEMS_SEED, SETTLED_THROWS_SEED])
    expect({ seed, kinds: kinds(await runCase(seed)) }).toEqual({ seed, kinds: [] });
  // What the onSettled tests below rely on: each seed exercises the part they sabotage.
  expect((await runCase(BLOCK_SEED, { verbose: true })).trace.join('\n')).toMatch(/onSettled flushed/);
  expect((await runCase(DEAD_LETTER_SEED, { verbose: true })).trace.join('\n')).toMatch(/onSettled dead-lettered/);
  expect((await runCase(SETTLED_THROWS_SEED)).outcome).toBe('errored(ERR_BACKPRESSURE_SETTLED_HANDLER_FAILED)');
});

it('an item write() swallows is reported lost, and the account short of what was written', async () => {
  const result = await runCase(BLOCK_SEED, {
    create: (options) => {
      const w = new BackpressureWritable<FuzzItem>(options);
      const write = w.write.bind(w) as (chunk: FuzzItem, ...rest: unknown[]) => boolean;
      (w as unknown as { write: typeof write }).write = (chunk, ...rest) =>
        chunk.id === 7 ? true : write(chunk, ...rest);
      return w;
    },
  });
  expect(kinds(result)).toEqual(expect.arrayContaining(['accepted', 'lost']));
  expect(result.failures.find((f) => f.kind === 'lost')?.message).toMatch(/^item 7 /);
});

it('a counter that drifts breaks the invariant, between events and inside them', async () => {
  class Drifting extends BackpressureWritable<FuzzItem> {
    override getMetrics(): BackpressureMetrics {
      const m = super.getMetrics();
      return m.eventsFlushed > 0 ? { ...m, eventsFlushed: m.eventsFlushed + 1 } : m;
    }
  }
  const result = await runCase(BLOCK_SEED, { create: (options) => new Drifting(options) });
  expect(kinds(result)).toEqual(expect.arrayContaining(['invariant', 'metric']));
  expect(result.failures.map((f) => f.where)).toEqual(expect.arrayContaining(['every 1 ms', 'step', 'listener:flush']));
});

it('an item sent to flush again after it was acknowledged is reported, and counted twice', async () => {
  const result = await runCase(BLOCK_SEED, {
    create: (options) => {
      const flush = options.flush;
      let replayed = false;
      const replaying: BackpressureOptions<FuzzItem> = {
        ...options,
        flush: async (batch, ctx) => {
          const copy = [...batch];
          const outcome = await flush(batch, ctx);
          if (!replayed) {
            replayed = true;
            await flush(copy, ctx).catch(() => undefined);
          }
          return outcome;
        },
      };
      return new BackpressureWritable<FuzzItem>(replaying);
    },
  });
  expect(kinds(result)).toEqual(expect.arrayContaining(['resend']));
});

it("a drop without a 'drop' event is reported", async () => {
  const result = await runCase(SAMPLE_SEED, {
    create: (options) => {
      const w = backpressure<FuzzItem>(options) as StrategyWritable<FuzzItem>;
      const emit = w.stage.emit.bind(w.stage);
      w.stage.emit = (event: string | symbol, ...args: unknown[]): boolean =>
        event === 'drop' ? false : emit(event, ...args);
      return w;
    },
  });
  expect(kinds(result)).toEqual(expect.arrayContaining(['metric', 'lost']));
});

it('a timer over 2^31-1 ms (which Node runs after 1 ms) is reported', async () => {
  const result = await runCase(BLOCK_SEED, {
    create: (options) => {
      setTimeout(() => undefined, 3e9);
      return new BackpressureWritable<FuzzItem>(options);
    },
  });
  expect(kinds(result)).toEqual(['timer-overflow']);
});

it('a stream that never finishes after end() is reported, and the case still terminates', async () => {
  class Stuck extends BackpressureWritable<FuzzItem> {
    override _final(): void {
      // never calls back
    }
  }
  const result = await runCase(BLOCK_SEED, { create: (options) => new Stuck(options) });
  expect(kinds(result)).toEqual(expect.arrayContaining(['end-deadline', 'stall']));
  expect(result.outcome).toBe('gave-up');
});

it("a composition's write() that says false without 'drain' on the next turn is reported", async () => {
  const result = await runCase(SAMPLE_SEED, {
    create: (options) => {
      const w = backpressure<FuzzItem>(options) as StrategyWritable<FuzzItem>;
      const emit = w.emit.bind(w);
      w.emit = (event: string | symbol, ...args: unknown[]): boolean =>
        event === 'drain' ? false : emit(event, ...args);
      return w;
    },
  });
  expect(result.failures.map((f) => `${f.kind} @${f.where}`)).toContain('write-return @drain');
});

it("a composition's write() that says false and refuses the item is reported", async () => {
  const result = await runCase(SAMPLE_SEED, {
    create: (options) => {
      const w = backpressure<FuzzItem>(options) as StrategyWritable<FuzzItem>;
      const write = w.write.bind(w) as (chunk: FuzzItem, ...rest: unknown[]) => boolean;
      let refused = false;
      (w as unknown as { write: typeof write }).write = (chunk, ...rest) => {
        if (!refused && chunk.id > 0) {
          refused = true;
          setImmediate(() => w.emit('drain'));
          return false;
        }
        return write(chunk, ...rest);
      };
      return w;
    },
  });
  expect(result.failures.map((f) => `${f.kind} @${f.where}`)).toEqual(
    expect.arrayContaining(['write-return @write', 'accepted @step']),
  );
  expect(kinds(result)).toContain('lost');
});

// ------------------------------------------------------------------------------------- onSettled

/** The stream under test, with its onSettled replaced by `wrap(original)`. */
function withSettled(
  wrap: (original: (items: FuzzItem[], how: Settlement) => void) => (items: FuzzItem[], how: Settlement) => void,
): (options: BackpressureOptions<FuzzItem>) => BackpressureWritable<FuzzItem> {
  return (options) => {
    const original = options.onSettled;
    if (original === undefined) throw new Error('the seed does not install onSettled');
    return new BackpressureWritable<FuzzItem>({ ...options, onSettled: wrap(original) });
  };
}

it('an item settled twice is reported', async () => {
  let first = true;
  const result = await runCase(BLOCK_SEED, {
    create: withSettled((original) => (items, how) => {
      original(items, how);
      if (first) {
        first = false;
        original(items, how);
      }
    }),
  });
  expect(settledWheres(result)).toEqual(expect.arrayContaining(['twice', 'flushed-not-delivered', 'final-flushed']));
});

it('an item settled before the stream counted it is reported', async () => {
  const result = await runCase(BLOCK_SEED, {
    create: (options) => {
      const onSettled = options.onSettled as (items: FuzzItem[], how: Settlement) => void;
      let early = true;
      return new BackpressureWritable<FuzzItem>({
        ...options,
        // The sink has answered, but the stream has not read the answer yet: too early to settle.
        flush: async (batch, ctx) => {
          const copy = [...batch];
          const outcome = await options.flush(batch, ctx);
          if (early && outcome === undefined) {
            early = false;
            onSettled(copy, 'flushed');
          }
          return outcome;
        },
      });
    },
  });
  expect(settledWheres(result)).toEqual(expect.arrayContaining(['before-count', 'twice']));
});

it('a flushed item that is never settled is reported', async () => {
  const result = await runCase(BLOCK_SEED, {
    create: withSettled((original) => (items, how) => {
      if (!items.some((item) => item.id === 7)) original(items, how);
    }),
  });
  expect(settledWheres(result)).toEqual(['final-flushed']);
  expect(result.failures.find((f) => f.where === 'final-flushed')?.message).toMatch(/^item 7: /);
});

it("an item settled 'dead-lettered' before its onDeadLetter call resolved is reported", async () => {
  const result = await runCase(DEAD_LETTER_SEED, {
    create: (options) => {
      const onSettled = options.onSettled as (items: FuzzItem[], how: Settlement) => void;
      const onDeadLetter = options.onDeadLetter as (items: FuzzItem[], error: Error) => void | Promise<void>;
      return new BackpressureWritable<FuzzItem>({
        ...options,
        onDeadLetter: (items, error) => {
          onSettled([...items], 'dead-lettered');
          return onDeadLetter(items, error);
        },
      });
    },
  });
  expect(settledWheres(result)).toEqual(expect.arrayContaining(['dead-lettered-unresolved', 'twice']));
});

it("an item whose onDeadLetter call resolved but that is never settled 'dead-lettered' is reported", async () => {
  const result = await runCase(DEAD_LETTER_SEED, {
    create: withSettled((original) => (items, how) => {
      if (how !== 'dead-lettered') original(items, how);
    }),
  });
  expect(settledWheres(result)).toEqual(['final-dead-lettered']);
});

it("an item handed back in an error's items and settled all the same is reported", async () => {
  const result = await runCase(ERROR_ITEMS_SEED, {
    create: (options) => {
      const onSettled = options.onSettled as (items: FuzzItem[], how: Settlement) => void;
      const w = new BackpressureWritable<FuzzItem>(options);
      w.on('error', (err: unknown) => {
        if (isBackpressureError(err) && err.items !== undefined)
          onSettled([...(err.items as FuzzItem[])], 'dead-lettered');
      });
      return w;
    },
  });
  expect(settledWheres(result)).toEqual(
    expect.arrayContaining(['dead-lettered-unresolved', 'error-items', 'final-dead-lettered']),
  );
});

it('an item sent to flush again after it was settled is reported', async () => {
  const result = await runCase(BLOCK_SEED, {
    create: (options) => {
      let previous: FuzzItem[] | undefined;
      let replayed = false;
      return new BackpressureWritable<FuzzItem>({
        ...options,
        flush: async (batch, ctx) => {
          // The batch before this one was delivered and settled: a sink that delivers it again.
          if (!replayed && previous !== undefined) {
            replayed = true;
            await options.flush([...previous], ctx).catch(() => undefined);
          }
          previous = [...batch];
          return options.flush(batch, ctx);
        },
      });
    },
  });
  expect(settledWheres(result)).toContain('resent');
});

it('a broken invariant inside onSettled is reported there', async () => {
  let inside = false;
  class LyingWhileSettling extends BackpressureWritable<FuzzItem> {
    override getMetrics(): BackpressureMetrics {
      const m = super.getMetrics();
      return inside ? { ...m, bufferSize: m.bufferSize + 1 } : m;
    }
  }
  const result = await runCase(BLOCK_SEED, {
    create: (options) => {
      const onSettled = options.onSettled as (items: FuzzItem[], how: Settlement) => void;
      return new LyingWhileSettling({
        ...options,
        onSettled: (items, how) => {
          inside = true;
          try {
            onSettled(items, how);
          } finally {
            inside = false;
          }
        },
      });
    },
  });
  expect(result.failures.map((f) => `${f.kind} @${f.where}`)).toEqual(['invariant @onSettled']);
});

it('a throwing onSettled that does not fail the stream is reported', async () => {
  const result = await runCase(SETTLED_THROWS_SEED, {
    create: withSettled((original) => (items, how) => {
      try {
        original(items, how);
      } catch {
        // swallowed: the stream never learns that the acknowledgement failed
      }
    }),
  });
  expect(settledWheres(result)).toEqual(['throw']);
});
