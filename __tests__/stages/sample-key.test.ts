import { DropReason, keyHash, sample } from '../../lib/stages';
import { FakePressure } from '../helpers/stage-helpers';

interface Event {
  user: string;
  n: number;
}

/** Events of 1000 users, 5 events each, interleaved. */
const events: Event[] = [];
for (let n = 0; n < 5; n++) for (let u = 0; u < 1000; u++) events.push({ user: `user-${u}`, n });

async function keptUsers(rate: number, pressure = new FakePressure('critical')): Promise<Map<string, number>> {
  const stage = sample<Event>({ rate, key: (e) => e.user, pressure, capacity: events.length });
  const kept = new Map<string, number>();
  stage.on('data', (e: Event) => kept.set(e.user, (kept.get(e.user) ?? 0) + 1));
  for (const e of events) stage.write(e);
  stage.end();
  await new Promise((resolve) => stage.on('end', resolve));
  return kept;
}

test('key sampling keeps all or none of a key’s events', async () => {
  const kept = await keptUsers(10);
  for (const count of kept.values()) expect(count).toBe(5); // related events survive together
  // About 1 in 10 keys, and exactly the keys whose hash is 0 mod 10.
  const expected = Array.from({ length: 1000 }, (_, u) => `user-${u}`).filter((k) => keyHash(k) % 10 === 0);
  expect([...kept.keys()].sort()).toEqual(expected.sort());
  expect(kept.size).toBeGreaterThan(70);
  expect(kept.size).toBeLessThan(130);
});

test('the keys kept at a rate are a subset of those kept at any divisor of it', async () => {
  const at10 = await keptUsers(10);
  const at100 = await keptUsers(100);
  expect(at100.size).toBeGreaterThan(0);
  for (const key of at100.keys()) expect(at10.has(key)).toBe(true);
});

test('key sampling is stable: the same key gets the same decision in a new stage', async () => {
  const first = await keptUsers(7);
  const second = await keptUsers(7);
  expect([...second.keys()].sort()).toEqual([...first.keys()].sort());
  expect(keyHash('user-1')).toBe(keyHash('user-1'));
  expect(keyHash(42)).toBe(keyHash('42')); // keys are hashed as String(key)
});

test('key sampling passes every key while pressure is normal', async () => {
  expect((await keptUsers(10, new FakePressure('normal'))).size).toBe(1000);
});

test('a key function that throws drops that item as invalid-key, and only under pressure', async () => {
  const pressure = new FakePressure('normal');
  const stage = sample<Event>({
    rate: 1,
    pressure,
    key: (e) => {
      if (e.n < 0) throw new Error('no key');
      return e.user;
    },
  });
  const drops: string[] = [];
  stage.on('drop', (d) => drops.push(d.reason));
  stage.write({ user: 'a', n: -1 }); // normal: the key is not needed, the item passes
  pressure.set('elevated');
  stage.write({ user: 'b', n: -1 });
  stage.write({ user: 'c', n: 1 });
  expect(drops).toEqual([DropReason.INVALID_KEY]);
  expect(stage.getMetrics()).toMatchObject({ written: 3, dropped: 1, held: 2 });
  stage.destroy();
});
