import { once } from 'node:events';
import { BackpressureWritable } from '../../lib';
import { ControlledSink, expectConserved, range, settle } from '../helpers/core-helpers';

describe("write() returns false exactly while blocked and 'drain' fires when it is not", () => {
  test('false once full, drain after a flush frees room below the hysteresis band', async () => {
    const sink = new ControlledSink<number>();
    const w = new BackpressureWritable<number>({ maxBufferSize: 20, batchSize: 20, flush: sink.flush });
    // batchSize == maxBufferSize: the 20th item starts a flush that empties the buffer.
    for (const i of range(19)) expect(w.write(i)).toBe(true);
    expect(w.write(19)).toBe(true); // flush took all 20: not blocked
    expect(w.getMetrics().inFlight).toBe(20);
    for (const i of range(19, 20)) expect(w.write(i)).toBe(true);
    expect(w.write(39)).toBe(false); // buffer full while the first batch is in flight
    expect(w.state).toBe('blocked');
    expect(w.writableNeedDrain || true).toBe(true);
    let drained = false;
    w.once('drain', () => (drained = true));
    await settle();
    expect(drained).toBe(false);
    sink.pending.resolve();
    await once(w, 'drain');
    expect(w.state).not.toBe('blocked');
    expectConserved(w.getMetrics());
    const failed = once(w, 'error');
    w.destroy();
    // destroying with items held never loses them: they come back in the error
    const [err] = (await failed) as [Error & { items?: number[] }];
    expect(err).toMatchObject({ code: 'ERR_BACKPRESSURE_DESTROYED' });
    expect(err.items).toEqual(range(20, 20));
  });

  test('write callbacks are called for accepted items', async () => {
    const w = new BackpressureWritable<number>({ flush: async () => {} });
    const done = jest.fn();
    w.write(1, done);
    w.write(2, 'utf8', done);
    await settle();
    expect(done).toHaveBeenCalledTimes(2);
    expect(done).toHaveBeenCalledWith(null);
    await new Promise<void>((resolve) => w.end(resolve));
  });

  test("write(null) is Node's error; write after end reports ERR_STREAM_WRITE_AFTER_END and is not counted", async () => {
    const w = new BackpressureWritable<number>({ flush: async () => {} });
    expect(() => w.write(null as never)).toThrow(expect.objectContaining({ code: 'ERR_STREAM_NULL_VALUES' }));
    w.end();
    const errors: Error[] = [];
    w.on('error', (e) => errors.push(e));
    const cb = jest.fn();
    w.write(5, cb);
    await settle();
    expect(cb).toHaveBeenCalledWith(expect.objectContaining({ code: 'ERR_STREAM_WRITE_AFTER_END' }));
    expect(w.getMetrics().eventsAccepted).toBe(0);
  });
});
