import type { BackpressureMetrics } from '../../lib';

/** The conservation invariant every metrics snapshot must satisfy. */
export function expectConserved(m: BackpressureMetrics): void {
  expect(m.eventsAccepted).toBe(m.eventsFlushed + m.eventsDropped + m.eventsDeadLettered + m.bufferSize + m.inFlight);
}

/** Lets queued nextTicks and microtasks run (they are not faked). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => process.nextTick(resolve));
}

export function range(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A flush whose every call waits until the test settles it. */
export class ControlledSink<T> {
  readonly calls: { batch: T[]; attempt: number; signal: AbortSignal; resolve: (v?: unknown) => void; reject: (e: Error) => void }[] = [];
  readonly delivered: T[] = [];

  readonly flush = (batch: T[], ctx: { signal: AbortSignal; attempt: number }): Promise<void> =>
    new Promise((resolve, reject) => {
      this.calls.push({
        batch: [...batch],
        attempt: ctx.attempt,
        signal: ctx.signal,
        resolve: (v?: unknown) => {
          if (v === undefined) this.delivered.push(...batch);
          resolve(v as undefined);
        },
        reject,
      });
    });

  get pending() {
    const last = this.calls[this.calls.length - 1];
    if (last === undefined) throw new Error('no flush call yet');
    return last;
  }
}

/** Tears a stream down at the end of a test whatever it still holds (its error is expected and ignored). */
export function dispose(stream: NodeJS.EventEmitter & { destroy(): unknown }): void {
  stream.on('error', () => {});
  stream.destroy();
}
