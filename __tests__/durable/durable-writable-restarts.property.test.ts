/**
 * Durable mode over random lives on one directory (fast-check): each life opens a writable with random
 * options (batch size, concurrency, read-ahead, log size, sync mode), writes new ids with callbacks
 * into a sink that succeeds, fails, partially fails (with or without failedItems) or hangs, then either
 * ends or is destroyed at a random moment; a last life drains with a sink that takes everything.
 * Checked, item by item:
 *   - the invariant  eventsAccepted + eventsRecovered === eventsFlushed + eventsDropped +
 *     eventsDeadLettered + eventsCorrupt + bufferSize + inFlight  inside every listener of every event,
 *     inside flush and onDeadLetter, and after 'close';
 *   - every id whose write completed (its callback got no error) is delivered or dead-lettered at least
 *     once by the end; every id whose write failed was dead-lettered (it had no record);
 *   - nothing is delivered that was never written; nothing is settled twice within one life;
 *   - a life that only succeeds (concurrency 1) delivers what earlier lives left before its own ids,
 *     in id order;
 *   - the drained directory holds only the checkpoint.
 * FC_SEED=<seed> replays a failure; FC_RUNS widens the run.
 */
import { readdirSync } from 'node:fs';
import fc from 'fast-check';
import type { FlushResult } from '../../lib';
import { STREAM_EVENTS, watchConservation } from '../helpers/core-helpers';
import { removeDir, tempDir } from '../helpers/durable-helpers';
import { closed, durableWritable, ids, type Item } from '../helpers/durable-writable';
import { mulberry32 } from '../helpers/seeded-random';

const RUNS = Number(process.env['FC_RUNS'] ?? 20);

interface LifePlan {
  batchSize: number;
  concurrency: number;
  maxBufferSize: number;
  maxBytes: number;
  sync: 'always' | 'batch' | 'none';
  writes: number;
  /** Chance in [0, 1) that a flush call fails in some way. */
  trouble: number;
  /** How the life ends: end() and wait, or destroy() after `after` ms of real time. */
  ending: 'end' | 'destroy';
  after: number;
  seed: number;
}

const lifeArb: fc.Arbitrary<LifePlan> = fc.record({
  batchSize: fc.integer({ min: 1, max: 8 }),
  concurrency: fc.integer({ min: 1, max: 3 }),
  maxBufferSize: fc.integer({ min: 8, max: 32 }),
  maxBytes: fc.constantFrom(2048, 4096, 16384),
  sync: fc.constantFrom('always', 'batch', 'none'),
  writes: fc.integer({ min: 0, max: 60 }),
  trouble: fc.constantFrom(0, 0.2, 0.5),
  ending: fc.constantFrom('end', 'destroy'),
  after: fc.integer({ min: 0, max: 30 }),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});

function fcParams(): fc.Parameters<[LifePlan[]]> {
  const params: fc.Parameters<[LifePlan[]]> = { numRuns: RUNS };
  const seed = process.env['FC_SEED'];
  if (seed !== undefined && seed !== '') params.seed = Number(seed);
  return params;
}

test('random lives on one directory: nothing completed is lost, the invariant holds in every listener, backlog first', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(lifeArb, { minLength: 1, maxLength: 4 }), async (lives) => {
      const dir = tempDir('durable-lives-');
      try {
        const written = new Set<number>();
        const completed = new Set<number>();
        const failedWrites = new Set<number>();
        const settledEver = new Set<number>();
        const violations: string[] = [];
        let nextId = 0;
        const plans = [
          ...lives,
          { ...(lives[0] as LifePlan), writes: 0, trouble: 0, ending: 'end' as const, concurrency: 1 },
        ];
        for (const [index, plan] of plans.entries()) {
          const final = index === plans.length - 1;
          const random = mulberry32(plan.seed);
          const settledThisLife = new Set<number>();
          const deliveredThisLife: number[] = [];
          const settle = (batch: readonly Item[], how: string): void => {
            for (const id of ids(batch)) {
              if (!written.has(id)) violations.push(`life ${index}: ${how} ${id}, never written`);
              if (settledThisLife.has(id)) violations.push(`life ${index}: ${id} settled twice`);
              settledThisLife.add(id);
              settledEver.add(id);
            }
          };
          const hung: Array<() => void> = [];
          const w = durableWritable<Item>(dir, {
            batchSize: plan.batchSize,
            concurrency: plan.concurrency,
            maxBufferSize: plan.maxBufferSize,
            retry: { retries: 2, minDelayMs: 1, maxDelayMs: 2 },
            durable: { maxBytes: plan.maxBytes, sync: plan.sync },
            onDeadLetter: (batch) => {
              watch.check(`onDeadLetter, life ${index}`);
              if (batch.every((item) => typeof item === 'object' && item !== null && 'id' in item))
                settle(batch, 'dead-lettered');
            },
            onSettled: (batch, how) => {
              if (how === 'flushed') settle(batch, 'flushed');
            },
            flush: async (batch): Promise<void | FlushResult<Item>> => {
              watch.check(`flush, life ${index}`);
              const roll = final ? 1 : random();
              if (roll < plan.trouble / 4) throw new Error('sink down');
              if (roll < plan.trouble / 2 && batch.length > 1)
                return {
                  success: batch.length - 1,
                  failed: 1,
                  errors: [new Error('one refused')],
                  failedItems: [batch[0] as Item],
                };
              if (roll < (plan.trouble * 3) / 4)
                return { success: 0, failed: batch.length, errors: [new Error('all refused')] };
              if (roll < plan.trouble) return new Promise<void>((resolve) => hung.push(resolve));
              deliveredThisLife.push(...ids(batch));
              return undefined;
            },
          });
          const watch = watchConservation(w, STREAM_EVENTS);
          const lifeIds: number[] = [];
          for (let i = 0; i < plan.writes; i++) {
            const id = nextId++;
            lifeIds.push(id);
            written.add(id);
            const ok = w.write({ id }, (err?: Error | null) => {
              if (err === null || err === undefined) completed.add(id);
              else failedWrites.add(id);
            });
            if (!ok) {
              // Blocked: wait for 'drain' — or stop writing, if the sink hangs (a hung flush holds its records).
              let timer: NodeJS.Timeout | undefined;
              const drained = await new Promise<boolean>((resolve) => {
                w.once('drain', () => resolve(true)).once('close', () => resolve(false));
                timer = setTimeout(() => resolve(false), 50);
              });
              clearTimeout(timer);
              if (!drained) break;
            }
            if (w.destroyed) break;
          }
          const gone = closed(w);
          if (plan.ending === 'end' || final) {
            w.end();
            // A hung flush never ends a life that ends: release them, the sink answers late.
            const release = setInterval(() => hung.splice(0).forEach((resolve) => resolve()), 5);
            await gone;
            clearInterval(release);
          } else {
            await new Promise((resolve) => setTimeout(resolve, plan.after));
            w.destroy();
            await gone;
            hung.splice(0).forEach((resolve) => resolve()); // a late answer is ignored
          }
          watch.check(`after close, life ${index}`);
          violations.push(...watch.violations);
          if (final) {
            for (const id of completed)
              if (!settledEver.has(id)) violations.push(`completed write ${id} never settled`);
            for (const id of failedWrites)
              if (!settledEver.has(id)) violations.push(`failed write ${id} never dead-lettered`);
            const sorted = [...deliveredThisLife].sort((a, b) => a - b);
            if (deliveredThisLife.join() !== sorted.join())
              violations.push(`final life out of order: ${deliveredThisLife.join()}`);
            const left = readdirSync(dir).filter((name) => name !== 'checkpoint');
            if (left.length > 0) violations.push(`left in the directory: ${left.join(', ')}`);
          }
        }
        expect(violations).toEqual([]);
      } finally {
        removeDir(dir);
      }
    }),
    fcParams(),
  );
}, 300_000);
