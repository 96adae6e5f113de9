import { BackpressureWritable } from '../../lib/core/backpressure-writable';
import { DropReason, sample } from '../../lib/stages';
import { pipeline } from '../../lib/util/stream-classes';
import { settle } from '../helpers/stage-helpers';

/**
 * A naive SAMPLE strategy: `if (eventsAccepted % sampleRate !== 0) drop`, where
 * eventsAccepted only grows when an item is kept. Once it is not a multiple of the rate it never
 * changes again, so from the first drop on it drops 100 %. Kept here to show the bound below fails
 * for it, i.e. the test can fail.
 */
function naiveSampler(rate: number): () => boolean {
  let eventsAccepted = 0;
  return () => {
    if (eventsAccepted % rate !== 0) return false;
    eventsAccepted++;
    return true;
  };
}

/** Under sustained pressure a rate of 10 keeps 10 % ± 1 % of the items that arrive under pressure. */
function keepsOneInTen(kept: number, arrived: number): boolean {
  return arrived > 0 && Math.abs(kept / arrived - 0.1) <= 0.01;
}

test('the naive accepted-count sampler would fail this bound (it keeps 1 item, then nothing)', () => {
  const keep = naiveSampler(10);
  let kept = 0;
  for (let i = 0; i < 10_000; i++) if (keep()) kept++;
  expect(kept).toBe(1);
  expect(keepsOneInTen(kept, 10_000)).toBe(false);
});

test('sample keeps 10 % ± 1 % of what arrives under sustained pressure from a real BackpressureWritable', async () => {
  // A sink that never completes: once the writable is above its low watermark it stays there.
  const writable = new BackpressureWritable<number>({
    flush: () => new Promise<void>(() => {}),
    maxBufferSize: 1000,
    batchSize: 100,
    onDeadLetter: () => {},
  });
  const stage = sample<number>({ rate: 10, pressure: writable, capacity: 5000 });
  const done = new Promise<Error | null | undefined>((resolve) => pipeline(stage, writable, resolve));
  await settle();

  let underPressureSeen = 0;
  for (let i = 0; i < 20_000; i++) {
    if (writable.state !== 'normal') underPressureSeen++;
    stage.write(i); // a writer that ignores false (the one-turn yield when the hold starts to fill)
    if (i % 100 === 99) await settle(); // let the pipe move kept items into the writable
  }
  const m = stage.getMetrics();
  expect(m.written).toBe(20_000); // nothing was refused
  expect(writable.state).not.toBe('normal'); // the pressure was sustained to the end
  expect(m.arrivedUnderPressure).toBe(underPressureSeen);
  expect(m.arrivedUnderPressure).toBeGreaterThan(15_000);
  const keptUnderPressure = m.arrivedUnderPressure - (m.droppedByReason[DropReason.SAMPLED_OUT] ?? 0);
  expect(keepsOneInTen(keptUnderPressure, m.arrivedUnderPressure)).toBe(true);
  // Deterministic counter: exactly ceil(arrived / 10).
  expect(keptUnderPressure).toBe(Math.ceil(m.arrivedUnderPressure / 10));
  expect(m.droppedByReason[DropReason.OVERFLOW]).toBe(0);

  stage.destroy();
  await done;
});
