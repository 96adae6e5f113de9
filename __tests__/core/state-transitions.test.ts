import fc from 'fast-check';
import { BackpressureWritable, nextPressureState, type StateChange } from '../../lib';
import { ControlledSink, expectConserved, range, settle } from '../helpers/core-helpers';

const T = { lowWatermark: 0.5, highWatermark: 0.8, hysteresis: 0.05 };

describe('nextPressureState (the single transition function)', () => {
  test.each([
    ['normal', 0.49, 'normal'],
    ['normal', 0.5, 'elevated'],
    ['normal', 0.8, 'critical'],
    ['normal', 1, 'blocked'],
    ['elevated', 0.46, 'elevated'], // inside the band below 0.5
    ['elevated', 0.44, 'normal'],
    ['critical', 0.76, 'critical'],
    ['critical', 0.74, 'elevated'],
    ['critical', 0.3, 'normal'],
    ['blocked', 0.96, 'blocked'],
    ['blocked', 0.94, 'critical'],
    ['blocked', 0.6, 'elevated'],
    ['blocked', 0.1, 'normal'],
  ] as const)('from %s at %d → %s', (from, u, to) => {
    expect(nextPressureState(from, u, T)).toBe(to);
  });

  test('property: up at the thresholds, down only below threshold − hysteresis, never flapping inside the band', () => {
    const level = (s: string) => ['normal', 'elevated', 'critical', 'blocked'].indexOf(s);
    const threshold = [0, 0.5, 0.8, 1];
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 50 }), (us) => {
        let state: ReturnType<typeof nextPressureState> = 'normal';
        for (const u of us) {
          const next = nextPressureState(state, u, T);
          const l = level(next);
          // the state's own threshold is reached (minus the band when we stayed up)
          expect(u).toBeGreaterThanOrEqual(
            (threshold[l] as number) - (l === level(state) || l < level(state) ? T.hysteresis : 0) - 1e-12,
          );
          // the next level up is not reached
          if (l < 3) expect(u).toBeLessThan(threshold[l + 1] as number);
          if (l > level(state)) expect(u).toBeGreaterThanOrEqual(threshold[l] as number);
          state = next;
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("the stream emits 'state' on every transition and only on transitions", () => {
  test('up through every state, then down with hysteresis, then draining and closed', async () => {
    const sink = new ControlledSink<number>();
    const w = new BackpressureWritable<number>({ maxBufferSize: 20, batchSize: 10, flush: sink.flush });
    const changes: StateChange[] = [];
    w.on('state', (c: StateChange) => {
      changes.push(c);
      expect(w.state).toBe(c.to);
    });
    for (const i of range(10)) w.write(i); // first batch goes in flight at 10
    expect(w.getMetrics().inFlight).toBe(10);
    for (const i of range(20, 10)) w.write(i);
    expect(changes.map((c) => c.to)).toEqual(['elevated', 'normal', 'elevated', 'critical', 'blocked']);
    expect(changes[4]).toEqual({ from: 'critical', to: 'blocked', utilization: 1 });
    sink.pending.resolve(); // 10 taken: 10/20 = 0.5 → below 0.95, 0.75 but not below 0.45
    await settle();
    expect(changes.slice(5).map((c) => c.to)).toEqual(['elevated']);
    sink.pending.resolve();
    await settle();
    expect(w.state).toBe('normal');
    const ended = new Promise<void>((resolve) => w.end(resolve));
    expect(w.state).toBe('draining');
    await settle();
    expect(sink.calls.length).toBe(3);
    sink.pending.resolve();
    await ended;
    expect(w.state).toBe('closed');
    const seq = changes.map((c) => `${c.from}>${c.to}`);
    for (let i = 1; i < changes.length; i++) expect(changes[i]?.from).toBe(changes[i - 1]?.to);
    expect(seq.at(-2)).toBe('normal>draining');
    expect(seq.at(-1)).toBe('draining>closed');
    expectConserved(w.getMetrics());
  });
});
