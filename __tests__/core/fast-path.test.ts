import { once } from 'node:events';
import { BackpressureWritable } from '../../lib';
import { ControlledSink, expectConserved, range, settle } from '../helpers/core-helpers';

// write() takes an item straight into the ring when Node's queue is empty and
// there is room; every other case goes through Node's own write(). These tests
// pin the seams between the two paths.
describe('the write() fast path keeps Node semantics', () => {
  test('order is kept across fast-path and queued writes', async () => {
    const sink = new ControlledSink<number>();
    const w = new BackpressureWritable<number>({ batchSize: 3, maxBufferSize: 3, flush: sink.flush });
    for (const i of range(20)) w.write(i); // 3 in flight, 3 buffered, 14 queued in Node
    expect(w.getMetrics()).toMatchObject({ eventsAccepted: 20, bufferSize: 17, inFlight: 3 });
    while (sink.delivered.length < 20) {
      sink.pending.resolve();
      await settle();
      w.write(100 + sink.calls.length); // interleave fresh writes while Node drains its queue
    }
    // the fresh writes were queued behind Node's queue: the first 20 delivered are 0..19 in order
    expect(sink.delivered.slice(0, 20)).toEqual(range(20));
    const extra = sink.calls.flatMap((c) => c.batch).filter((x) => x >= 100);
    expect(extra).toEqual([...extra].sort((a, b) => a - b));
    expectConserved(w.getMetrics());
    w.on('error', () => {});
    w.destroy();
  });

  test("cork(): writes wait in Node's queue (counted in bufferSize), uncork() hands them over in order", async () => {
    const delivered: number[] = [];
    const w = new BackpressureWritable<number>({
      batchSize: 100,
      maxBufferSize: 100,
      flush: async (b) => void delivered.push(...b),
    });
    w.write(0);
    w.cork();
    w.write(1);
    w.write(2);
    expect(w.getMetrics()).toMatchObject({ bufferSize: 3, eventsAccepted: 3 });
    expect(w.writableLength).toBe(2);
    w.uncork();
    await settle();
    expect(w.writableLength).toBe(0);
    w.write(3);
    await new Promise<void>((resolve) => w.end(resolve));
    expect(delivered).toEqual([0, 1, 2, 3]);
  });

  test('cork() counts toward the bound: write() says false once corked writes fill the buffer', () => {
    const w = new BackpressureWritable<number>({ batchSize: 2, maxBufferSize: 4, flush: () => new Promise(() => {}) });
    w.cork();
    const results = range(5).map((i) => w.write(i));
    expect(results).toEqual([true, true, true, false, false]);
    expect(w.state).toBe('blocked');
    w.on('error', () => {});
    w.destroy();
  });

  test('end(item) goes through write(): counted and delivered last', async () => {
    const delivered: string[] = [];
    const w = new BackpressureWritable<string>({ flush: async (b) => void delivered.push(...b) });
    w.write('a');
    const finished = once(w, 'finish');
    w.end('z');
    await finished;
    expect(delivered).toEqual(['a', 'z']);
    expect(w.getMetrics().eventsAccepted).toBe(2);
  });

  test('destroy() after fast-path writes reports them; writes after destroy are Node errors, not counted', async () => {
    const dead: number[] = [];
    const w = new BackpressureWritable<number>({
      batchSize: 10,
      onDeadLetter: (items) => void dead.push(...items),
      flush: async () => {},
    });
    w.write(1);
    w.write(2);
    w.destroy();
    await once(w, 'close');
    expect(dead).toEqual([1, 2]);
    const cb = jest.fn();
    w.write(3, cb);
    await settle();
    expect(cb).toHaveBeenCalledWith(expect.objectContaining({ code: 'ERR_STREAM_DESTROYED' }));
    expect(w.getMetrics().eventsAccepted).toBe(2);
  });
});
