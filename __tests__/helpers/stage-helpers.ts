import { EventEmitter } from 'node:events';
import type { Writable as NodeWritable } from 'node:stream';
import type { BackpressureState, PressureSource, StateChange } from '../../lib/pressure/state';
import type { SheddingStage, StageMetrics } from '../../lib/stages';
import { Writable } from '../../lib/util/stream-classes';

/** `written === passed + dropped + held`, and the reasons add up to `dropped`. */
export function isBalanced(m: StageMetrics): boolean {
  let byReason = 0;
  for (const count of Object.values(m.droppedByReason)) byReason += count;
  return m.written === m.passed + m.dropped + m.held && byReason === m.dropped && m.held >= 0 && m.passed >= 0;
}

export function expectBalanced(m: StageMetrics): void {
  expect(m.written).toBe(m.passed + m.dropped + m.held);
  expect(Object.values(m.droppedByReason).reduce((a, b) => a + b, 0)).toBe(m.dropped);
}

/**
 * A sink whose writes complete only when the test says so: `release(n)` completes n writes.
 * highWaterMark 1, so it pushes back as soon as one write is pending — a sink as slow as the test makes it.
 */
export class ManualSink<T> {
  readonly received: T[] = [];
  #pending: ((error?: Error | null) => void)[] = [];
  readonly stream: NodeWritable;

  constructor() {
    const pending = this.#pending;
    const received = this.received;
    this.stream = new Writable({
      objectMode: true,
      highWaterMark: 1,
      write(item: T, _encoding, callback) {
        received.push(item);
        pending.push(callback);
      },
    });
  }

  /** Completes up to `n` pending writes; returns how many it completed. */
  release(n = 1): number {
    let done = 0;
    while (done < n && this.#pending.length > 0) {
      (this.#pending.shift() as (error?: Error | null) => void)();
      done++;
    }
    return done;
  }

  get pendingWrites(): number {
    return this.#pending.length;
  }
}

/** A pressure signal the test sets by hand. */
export class FakePressure extends EventEmitter implements PressureSource {
  state: BackpressureState;

  constructor(state: BackpressureState = 'normal') {
    super();
    this.state = state;
  }

  set(to: BackpressureState): void {
    const from = this.state;
    this.state = to;
    this.emit('state', { from, to, utilization: 0 } satisfies StateChange);
  }
}

import { settle } from './settle';

export { settle };
export { range } from './core-helpers';

/** Lets I/O callbacks and timers of 0 ms run too. */
export function macrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface DropRecord<T> {
  item: T;
  reason: string;
  /** `getMetrics()` balanced when the event fired. */
  balanced: boolean;
  /** `held` when the event fired. */
  held: number;
}

/** Records every drop with whether the stage balanced at that moment (cheap: no `expect` per event). */
export function recordDrops<T>(stage: SheddingStage<T>): DropRecord<T>[] {
  const drops: DropRecord<T>[] = [];
  stage.on('drop', (event) => {
    const m = stage.getMetrics();
    drops.push({ item: event.item, reason: event.reason, balanced: isBalanced(m), held: m.held });
  });
  return drops;
}

/**
 * Producer ten times faster than the sink: writes `total` items 0..total-1, completing one sink write
 * after every `ratio` writes and letting the streams settle in between. Returns what each write() returned.
 *
 * It waits for 'drain' after `false`, as `pipe()` and `pipeline()` do, and checks the stage's contract
 * on the way: `write()` says false when the item started to fill an empty hold (and may when the
 * stage's pressure source rose above normal), and 'drain' follows within one event-loop turn
 * although the sink completes nothing meanwhile.
 */
export async function produceFasterThanSink<T>(
  stage: SheddingStage<T>,
  sink: ManualSink<T>,
  total: number,
  item: (i: number) => T,
  onStep?: () => void,
  ratio = 10,
): Promise<boolean[]> {
  const returned: boolean[] = [];
  let drained: boolean;
  stage.on('drain', () => (drained = true));
  for (let i = 0; i < total; i++) {
    const heldBefore = stage.getMetrics().held;
    const ok = stage.write(item(i));
    returned.push(ok);
    const m = stage.getMetrics();
    expectBalanced(m);
    const startedToFill = heldBefore === 0 && m.held > 0;
    if (ok && startedToFill)
      throw new Error(`write ${i} started to fill the hold (${heldBefore} → ${m.held}) but did not yield`);
    if (!ok) {
      drained = false;
      await macrotask();
      if (!drained) throw new Error(`no 'drain' within one event-loop turn after write ${i}`);
    }
    onStep?.();
    if ((i + 1) % ratio === 0) {
      sink.release(1);
      await settle();
      expectBalanced(stage.getMetrics());
    }
  }
  return returned;
}

/** Ends the stage and completes sink writes until everything has gone through. */
export async function drainToEnd<T>(stage: SheddingStage<T>, sink: ManualSink<T>): Promise<void> {
  const finished = new Promise<void>((resolve, reject) => {
    sink.stream.on('finish', resolve);
    sink.stream.on('error', reject);
  });
  stage.end();
  let done = false;
  void finished.then(() => (done = true));
  while (!done) {
    sink.release(1000);
    await settle();
    await macrotask();
  }
  await finished;
}

/** What `runAgainstSlowSink` saw. */
export interface SlowSinkRun<T> {
  sink: ManualSink<T>;
  drops: DropRecord<T>[];
  /** What each write() returned. */
  returned: boolean[];
  /** The most the stage held after any write. */
  maxHeld: number;
}

/**
 * The setup every "sink ten times slower than the producer" test shares: pipes `stage` into `sink`,
 * records its drops, waits until the pipe flows, then writes `total` items with
 * `produceFasterThanSink` (which checks balance and the one-turn 'drain' on the way), tracking the
 * most the stage held. Does not end the stage (see `drainToEnd`).
 */
export async function runAgainstSlowSink<T>(
  stage: SheddingStage<T>,
  total: number,
  item: (i: number) => T,
  sink: ManualSink<T> = new ManualSink<T>(),
): Promise<SlowSinkRun<T>> {
  const drops = recordDrops(stage);
  stage.pipe(sink.stream);
  await settle(); // the pipe is flowing before the first write
  let maxHeld = 0;
  const returned = await produceFasterThanSink(stage, sink, total, item, () => {
    maxHeld = Math.max(maxHeld, stage.getMetrics().held);
  });
  return { sink, drops, returned, maxHeld };
}

/**
 * Writes 0..total-1 into `stage` piped to a sink that keeps up (it is never more than 2 items
 * behind), expecting every write() to return true; resolves once the sink finished, with what it
 * received and the drops.
 */
export async function runWithSinkThatKeepsUp(
  stage: SheddingStage<number>,
  total: number,
): Promise<{ received: number[]; drops: DropRecord<number>[] }> {
  const received: number[] = [];
  const sink = new Writable({
    objectMode: true,
    write(item: number, _encoding, callback) {
      received.push(item);
      callback();
    },
  });
  const drops = recordDrops(stage);
  stage.pipe(sink);
  await settle();
  for (let i = 0; i < total; i++) {
    expect(stage.write(i)).toBe(true);
    if (i % 2 === 1) await settle();
  }
  stage.end();
  await new Promise((resolve) => sink.on('finish', resolve));
  return { received, drops };
}

/** For a stage nobody read from: ends it and resolves with what it still held, in order. */
export async function readRest<T>(stage: SheddingStage<T>): Promise<T[]> {
  const rest: T[] = [];
  stage.on('data', (item: T) => rest.push(item));
  stage.end();
  await new Promise((resolve) => stage.on('end', resolve));
  return rest;
}

/** The composition's conservation invariant, as a boolean (cheap enough to check at every event). */
export function isConserved(m: {
  eventsAccepted: number;
  eventsFlushed: number;
  eventsDropped: number;
  eventsDeadLettered: number;
  bufferSize: number;
  inFlight: number;
}): boolean {
  return m.eventsAccepted === m.eventsFlushed + m.eventsDropped + m.eventsDeadLettered + m.bufferSize + m.inFlight;
}
