import { DropReason, sample, SampleMode } from '../../lib/stages';
import {
  drainToEnd,
  expectBalanced,
  FakePressure,
  range,
  recordDrops,
  runAgainstSlowSink,
} from '../helpers/stage-helpers';

/** Writes `items` to a stage nobody reads from and returns the items it kept (passed or held). */
async function keptBy(stage: ReturnType<typeof sample<number>>, items: number[]): Promise<number[]> {
  const kept: number[] = [];
  stage.on('data', (item: number) => kept.push(item));
  for (const item of items) stage.write(item);
  stage.end();
  await new Promise((resolve) => stage.on('end', resolve));
  return kept;
}

test('sample under sustained pressure and a sink ten times slower keeps exactly every 10th item, in order', async () => {
  const pressure = new FakePressure('critical');
  const stage = sample<number>({ rate: 10, pressure, capacity: 5 });
  const { sink, drops, returned, maxHeld } = await runAgainstSlowSink(stage, 100, (i) => i);
  // One yield of one turn (the helper checks the turn): the first write found the pressure above normal.
  // The hold never starts to fill: the sink takes each kept item before the next one arrives.
  expect(returned.flatMap((r, i) => (r ? [] : [i]))).toEqual([0]);
  expect(maxHeld).toBeLessThanOrEqual(5);
  await drainToEnd(stage, sink);
  expect(sink.received).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  const m = stage.getMetrics();
  expectBalanced(m);
  expect(m).toMatchObject({ written: 100, passed: 10, dropped: 90, held: 0, arrivedUnderPressure: 100 });
  expect(m.droppedByReason[DropReason.SAMPLED_OUT]).toBe(90);
  expect(drops.every((d) => d.balanced && d.reason === DropReason.SAMPLED_OUT)).toBe(true);
});

test('sample passes everything while pressure is normal', async () => {
  const stage = sample<number>({ rate: 10, pressure: new FakePressure('normal') });
  expect(await keptBy(stage, range(500))).toEqual(range(500));
  expect(stage.getMetrics()).toMatchObject({ written: 500, passed: 500, dropped: 0, arrivedUnderPressure: 0 });
});

test('the threshold option sets the pressure from which sampling applies', async () => {
  const pressure = new FakePressure('elevated');
  const stage = sample<number>({ rate: 4, pressure, threshold: 'critical' });
  const kept: number[] = [];
  stage.on('data', (item: number) => kept.push(item));
  for (let i = 0; i < 8; i++) stage.write(i); // elevated: below the threshold, all kept
  pressure.set('critical');
  for (let i = 8; i < 16; i++) stage.write(i); // 8 and 12 kept
  pressure.set('blocked');
  for (let i = 16; i < 20; i++) stage.write(i); // still at or above: 16 kept
  stage.end();
  await new Promise((resolve) => stage.on('end', resolve));
  expect(kept).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16]);
  expect(stage.getMetrics().arrivedUnderPressure).toBe(12);
});

test('the counter is not reset between bursts, so many short bursts still keep exactly 1 in rate', async () => {
  const pressure = new FakePressure('normal');
  const stage = sample<number>({ rate: 10, pressure, capacity: 10_000 });
  const kept: number[] = [];
  stage.on('data', (item: number) => kept.push(item));
  let next = 0;
  for (let burst = 0; burst < 100; burst++) {
    pressure.set('elevated');
    for (let i = 0; i < 3; i++) stage.write(next++); // 3 arrivals under pressure per burst
    pressure.set('normal');
    stage.write(next++); // 1 at normal: always kept
  }
  stage.end();
  await new Promise((resolve) => stage.on('end', resolve));
  const m = stage.getMetrics();
  expect(m.arrivedUnderPressure).toBe(300);
  // 100 kept at normal + exactly 300 / 10 under pressure (a per-burst reset would keep 100).
  expect(kept.length).toBe(100 + 30);
  expect(m.droppedByReason[DropReason.SAMPLED_OUT]).toBe(270);
});

test("mode 'random' keeps an item when random() * rate < 1", async () => {
  const draws = [0.05, 0.5, 0.0999, 0.1, 0.99, 0];
  let i = 0;
  const stage = sample<number>({
    rate: 10,
    mode: SampleMode.RANDOM,
    random: () => draws[i++ % draws.length] as number,
    pressure: new FakePressure('critical'),
  });
  expect(await keptBy(stage, range(6))).toEqual([0, 2, 5]);
  expect(stage.getMetrics().droppedByReason[DropReason.SAMPLED_OUT]).toBe(3);
});

test("mode 'random' keeps about 1 in rate with Math.random", async () => {
  const stage = sample<number>({ rate: 10, mode: 'random', pressure: new FakePressure('critical'), capacity: 100_000 });
  const kept = await keptBy(stage, range(20_000));
  // Binomial(20000, 0.1): sd ≈ 42, so ±400 is ~9.5 sd: this does not flake.
  expect(kept.length).toBeGreaterThan(1600);
  expect(kept.length).toBeLessThan(2400);
});

test('without a pressure source the stage samples by its own hold fill (≥ 50 % = elevated)', async () => {
  const stage = sample<number>({ rate: 2, capacity: 10 });
  const drops = recordDrops(stage);
  // Nobody reads: the hold fills. 0..4 fill it to 50 %; from item 5 on, 1 in 2 is kept.
  for (let i = 0; i < 12; i++) stage.write(i);
  // 5 kept, 6 out, 7 kept, 8 out, 9 kept, 10 out, 11 kept: 5 + 4 held.
  expect(stage.getMetrics()).toMatchObject({ held: 9, arrivedUnderPressure: 7 });
  expect(drops.map((d) => [d.item, d.reason])).toEqual([
    [6, DropReason.SAMPLED_OUT],
    [8, DropReason.SAMPLED_OUT],
    [10, DropReason.SAMPLED_OUT],
  ]);
  for (let i = 12; i < 16; i++) stage.write(i); // 12 out, 13 kept (hold now full), 14 out, 15 kept but no room
  expect(drops.slice(3).map((d) => [d.item, d.reason])).toEqual([
    [12, DropReason.SAMPLED_OUT],
    [14, DropReason.SAMPLED_OUT],
    [15, DropReason.OVERFLOW],
  ]);
  expect(stage.getMetrics()).toMatchObject({ written: 16, held: 10, dropped: 6 });
  expect(drops.every((d) => d.balanced)).toBe(true);
});

test('sample rejects bad options', () => {
  expect(() => sample({ rate: 0 })).toThrow(RangeError);
  expect(() => sample({ rate: 2.5 })).toThrow(RangeError);
  expect(() => sample({ rate: 2.5, mode: 'random' })).not.toThrow();
  expect(() => sample({ rate: Infinity, mode: 'random' })).toThrow(RangeError);
  expect(() => sample({ mode: 'key' })).toThrow(TypeError);
  expect(() => sample({ mode: 'bogus' as never })).toThrow(RangeError);
  expect(() => sample({ threshold: 'normal' as never })).toThrow(RangeError);
});
