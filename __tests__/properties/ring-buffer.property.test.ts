/**
 * RingBuffer is the one FIFO every accepted item passes through, so it must be
 * indistinguishable from a plain array used as a queue — in particular when the
 * head has wrapped around the end of the backing array and it then has to grow.
 * Model-based: random command sequences run against both, compared after every step.
 */
import fc from 'fast-check';
import { RingBuffer } from '../../lib';

interface Model {
  items: number[];
}

type Real = RingBuffer<number>;

/** After every command the whole observable state must match the model. */
function expectSame(model: Model, real: Real): void {
  expect(real.size).toBe(model.items.length);
  expect(real.peek()).toBe(model.items[0]);
  const seen: number[] = [];
  real.forEach((item) => seen.push(item));
  expect(seen).toEqual(model.items);
}

class PushCommand implements fc.Command<Model, Real> {
  constructor(readonly values: number[]) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    for (const value of this.values) {
      real.push(value);
      model.items.push(value);
    }
    expectSame(model, real);
  }
  toString(): string {
    return `push(${this.values.join(',')})`;
  }
}

class ShiftCommand implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    expect(real.shift()).toBe(model.items.shift());
    expectSame(model, real);
  }
  toString(): string {
    return 'shift';
  }
}

class TakeCommand implements fc.Command<Model, Real> {
  constructor(readonly count: number) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    const taken = real.take(this.count);
    expect(taken).toEqual(model.items.splice(0, this.count));
    expect(Array.isArray(taken)).toBe(true);
    expectSame(model, real);
  }
  toString(): string {
    return `take(${this.count})`;
  }
}

class DrainCommand implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    expect(real.drain()).toEqual(model.items.splice(0));
    expectSame(model, real);
  }
  toString(): string {
    return 'drain';
  }
}

class PeekCommand implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    // Peeking twice must not consume anything.
    expect(real.peek()).toBe(model.items[0]);
    expect(real.peek()).toBe(model.items[0]);
    expectSame(model, real);
  }
  toString(): string {
    return 'peek';
  }
}

/** Several pushes and shifts per step, so the head walks around the array quickly. */
class ChurnCommand implements fc.Command<Model, Real> {
  constructor(
    readonly rounds: number,
    readonly start: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(model: Model, real: Real): void {
    for (let i = 0; i < this.rounds; i++) {
      real.push(this.start + i);
      model.items.push(this.start + i);
      expect(real.shift()).toBe(model.items.shift());
    }
    expectSame(model, real);
  }
  toString(): string {
    return `churn(${this.rounds})`;
  }
}

const value = fc.integer({ min: -1_000_000, max: 1_000_000 });

const commands = [
  fc.array(value, { minLength: 1, maxLength: 40 }).map((values) => new PushCommand(values)),
  fc.constant(new ShiftCommand()),
  fc.nat({ max: 50 }).map((n) => new TakeCommand(n)),
  fc.constant(new DrainCommand()),
  fc.constant(new PeekCommand()),
  fc.tuple(fc.integer({ min: 1, max: 40 }), value).map(([rounds, start]) => new ChurnCommand(rounds, start)),
];

describe('RingBuffer against an array model', () => {
  test('any sequence of push/shift/take/drain/peek/forEach behaves like an array queue', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70 }), fc.commands(commands, { maxCommands: 60 }), (capacity, cmds) => {
        fc.modelRun(() => ({ model: { items: [] }, real: new RingBuffer<number>(capacity) }), cmds);
      }),
      { numRuns: 300 },
    );
  });

  test('grows correctly when the head has wrapped around (every head position, several capacities)', () => {
    // Exhaustive over head positions: shift `offset` items off a full buffer,
    // refill so the live region wraps, then push past capacity to force growth.
    for (const capacity of [16, 32]) {
      for (let offset = 0; offset < capacity; offset++) {
        const real = new RingBuffer<number>(capacity);
        const model: number[] = [];
        let next = 0;
        for (let i = 0; i < capacity; i++) {
          real.push(next);
          model.push(next++);
        }
        for (let i = 0; i < offset; i++) expect(real.shift()).toBe(model.shift());
        for (let i = 0; i < offset + capacity + 3; i++) {
          real.push(next);
          model.push(next++);
        }
        expectSame({ items: model }, real);
        expect(real.take(5)).toEqual(model.splice(0, 5));
        expect(real.drain()).toEqual(model.splice(0));
        expect(real.size).toBe(0);
        expect(real.shift()).toBeUndefined();
        expect(real.take(3)).toEqual([]);
      }
    }
  });

  test('take(0), take on empty and shift on empty are harmless', () => {
    const real = new RingBuffer<string>();
    expect(real.take(0)).toEqual([]);
    expect(real.take(10)).toEqual([]);
    expect(real.drain()).toEqual([]);
    expect(real.shift()).toBeUndefined();
    expect(real.peek()).toBeUndefined();
    real.push('a');
    expect(real.take(0)).toEqual([]);
    expect(real.size).toBe(1);
    expect(real.shift()).toBe('a');
  });
});
