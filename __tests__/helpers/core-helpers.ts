import type { BackpressureMetrics } from '../../lib';

/**
 * The conservation invariant every metrics snapshot must satisfy:
 *   eventsAccepted + eventsRecovered
 *     === eventsFlushed + eventsDropped + eventsDeadLettered + eventsCorrupt + bufferSize + inFlight.
 * In memory mode eventsRecovered and eventsCorrupt are 0 and it is the original one; in durable mode
 * records of the backlog enter with eventsRecovered, damaged records leave with eventsCorrupt, and
 * bufferSize includes the items only on disk (see docs/durable.md).
 */
export function expectConserved(m: BackpressureMetrics): void {
  expect(m.eventsAccepted + m.eventsRecovered).toBe(conservedSum(m));
}

/** The right-hand side of the invariant. */
export function conservedSum(m: BackpressureMetrics): number {
  return m.eventsFlushed + m.eventsDropped + m.eventsDeadLettered + m.eventsCorrupt + m.bufferSize + m.inFlight;
}

import { settle } from './settle';

export { settle };

export function range(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => from + i);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A flush whose every call waits until the test settles it. */
export class ControlledSink<T> {
  readonly calls: {
    batch: T[];
    attempt: number;
    signal: AbortSignal;
    resolve: (v?: unknown) => void;
    reject: (e: Error) => void;
  }[] = [];
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

/** Every event a BackpressureWritable (or a composition) emits: its own and the Writable ones. */
export const STREAM_EVENTS = [
  'state',
  'flush',
  'retry',
  'dead-letter',
  'circuit',
  'corrupt',
  'drain',
  'finish',
  'close',
  'error',
] as const;

export interface ConservationWatch {
  /** Events seen, in order (`'state'` as `state <to>`, `'dead-letter'` with its error's code). */
  readonly seen: string[];
  /** One line per listener call that found the invariant broken: empty is the pass. */
  readonly violations: string[];
  /** Checks the invariant now; call it from other places user code runs (an abort listener, flush itself). */
  check(where: string): void;
}

/**
 * Checks the invariant (see expectConserved) inside a
 * listener of every event in `events`. Violations are collected, not thrown: a throw inside a
 * listener would change what the stream does next. Also listens to 'error' (so it never throws).
 */
export function watchConservation(
  stream: NodeJS.EventEmitter & { getMetrics(): BackpressureMetrics },
  events: readonly string[] = STREAM_EVENTS,
): ConservationWatch {
  const seen: string[] = [];
  const violations: string[] = [];
  const check = (where: string): void => {
    const m = stream.getMetrics();
    const sum = conservedSum(m);
    if (m.eventsAccepted + m.eventsRecovered !== sum) {
      violations.push(
        `${where}: accepted ${m.eventsAccepted} + recovered ${m.eventsRecovered} !== ${sum} (flushed ${m.eventsFlushed}, ` +
          `dropped ${m.eventsDropped}, dead-lettered ${m.eventsDeadLettered}, corrupt ${m.eventsCorrupt}, ` +
          `buffered ${m.bufferSize}, in flight ${m.inFlight})`,
      );
    }
  };
  for (const name of events) {
    stream.on(name, (payload: unknown) => {
      const p = payload as { to?: string; error?: { code?: string } } | undefined;
      const label =
        name === 'state' ? `state ${p?.to}` : name === 'dead-letter' ? `dead-letter ${p?.error?.code}` : name;
      seen.push(label);
      check(`inside '${label}'`);
    });
  }
  return { seen, violations, check };
}
