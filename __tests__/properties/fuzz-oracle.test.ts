/**
 * The adversarial fuzzer's oracle can fail. Each test takes a seed that passes untouched and sabotages
 * one thing a correct stream does (through runCase's `create` hook), and expects the fuzzer to name it.
 */
import {
  BackpressureWritable,
  backpressure,
  type BackpressureMetrics,
  type BackpressureOptions,
  type StrategyWritable,
} from '../../lib';
import type { FuzzItem } from '../helpers/fuzz/fuzz-case';
import { runCase, type CaseResult } from '../helpers/fuzz/run-case';

/** 'block', 145 items, a healthy sink with a circuit breaker: passes untouched. */
const BLOCK_SEED = 50;
/** 'sample', 146 items, drops some as 'sampled-out': passes untouched. */
const SAMPLE_SEED = 106;

function kinds(result: CaseResult): string[] {
  return [...new Set(result.failures.map((f) => f.kind))].sort();
}

it('the seeds used below pass untouched', async () => {
  expect(kinds(await runCase(BLOCK_SEED))).toEqual([]);
  expect(kinds(await runCase(SAMPLE_SEED))).toEqual([]);
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
