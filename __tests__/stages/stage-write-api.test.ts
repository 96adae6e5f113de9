import { dropNewest, dropOldest } from '../../lib/stages';
import { settle } from '../helpers/stage-helpers';

test('write(item, callback) calls back, asynchronously, and returns true', async () => {
  expect.assertions(3);
  const stage = dropOldest<number>({ capacity: 2 });
  stage.on('data', () => {}); // a consumer that reads: the item passes straight through
  await settle();
  let called = false;
  expect(stage.write(1, () => (called = true))).toBe(true);
  expect(called).toBe(false); // never synchronously: Node's contract for write callbacks
  await settle();
  expect(called).toBe(true);
  stage.destroy();
});

test('end(item), cork()/uncork() and write after end keep Node semantics and the account', async () => {
  const stage = dropNewest<number>({ capacity: 10 });
  const out: number[] = [];
  stage.on('data', (item: number) => out.push(item));
  stage.cork();
  stage.write(1);
  stage.write(2);
  // Accepted at once although corked: Node's corked queue is outside the stage's account (destroy() would discard it).
  expect(stage.getMetrics().written).toBe(2);
  stage.uncork();
  await settle();
  expect(stage.getMetrics().written).toBe(2);
  stage.end(3);
  await new Promise((resolve) => stage.on('end', resolve));
  expect(out).toEqual([1, 2, 3]);
  expect(stage.getMetrics()).toMatchObject({ written: 3, passed: 3, dropped: 0, held: 0 });

  const error = await new Promise<Error | null | undefined>((resolve) => stage.write(4, resolve));
  expect((error as NodeJS.ErrnoException).code).toBe('ERR_STREAM_WRITE_AFTER_END');
  expect(stage.getMetrics().written).toBe(3);
});

test('write(null) is refused the way Node refuses it', () => {
  const stage = dropOldest<unknown>();
  expect(() => stage.write(null)).toThrow(expect.objectContaining({ code: 'ERR_STREAM_NULL_VALUES' }));
  stage.destroy();
});

test('a stage nobody reads from finishes once its hold has been read out', async () => {
  const stage = dropOldest<number>({ capacity: 3 });
  for (let i = 0; i < 5; i++) stage.write(i);
  let finished = false;
  stage.on('finish', () => (finished = true));
  stage.end();
  await settle();
  expect(finished).toBe(false); // 3 items still held: 'finish' means nothing is left in the hold
  const out: number[] = [];
  stage.on('data', (item: number) => out.push(item));
  await new Promise((resolve) => stage.on('end', resolve));
  expect(finished).toBe(true);
  expect(out).toEqual([2, 3, 4]);
});
