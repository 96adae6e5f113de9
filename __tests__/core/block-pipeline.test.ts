import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BackpressureWritable } from '../../lib';
import { expectConserved, range, sleep } from '../helpers/core-helpers';

// The stated bound: with a producer that respects write() === false (pipeline,
// pipe, or a manual loop awaiting 'drain'), bufferSize never exceeds
// maxBufferSize, bufferBytes never exceeds maxBufferBytes by more than one
// item, and at most batchSize more items are in flight.
describe('BLOCK through pipeline with a producer 100x faster than the sink', () => {
  test('nothing lost, order kept, bufferSize <= maxBufferSize at every write', async () => {
    const total = 3000;
    const delivered: number[] = [];
    let maxBuffer = 0;
    let maxInFlight = 0;
    const w = new BackpressureWritable<number>({
      maxBufferSize: 200,
      batchSize: 50,
      // ~1 ms per 50 items in the sink vs ~0.01 ms per item from the producer
      flush: async (batch) => {
        await sleep(5);
        delivered.push(...batch);
      },
    });
    async function* producer() {
      for (const i of range(total)) {
        const m = w.getMetrics();
        maxBuffer = Math.max(maxBuffer, m.bufferSize);
        maxInFlight = Math.max(maxInFlight, m.inFlight);
        expectConserved(m);
        yield i;
      }
    }
    let blockedSeen = 0;
    w.on('state', ({ to }) => {
      if (to === 'blocked') blockedSeen++;
    });
    await pipeline(Readable.from(producer()), w);
    expect(delivered).toEqual(range(total));
    expect(maxBuffer).toBeLessThanOrEqual(200);
    expect(maxBuffer).toBeGreaterThanOrEqual(190); // it really filled up: the bound was tested
    expect(maxInFlight).toBeLessThanOrEqual(50);
    expect(blockedSeen).toBeGreaterThan(0);
    const m = w.getMetrics();
    expectConserved(m);
    expect(m).toMatchObject({
      eventsAccepted: total,
      eventsFlushed: total,
      eventsDeadLettered: 0,
      bufferSize: 0,
      inFlight: 0,
    });
  });

  test('byte bound: bufferBytes never exceeds maxBufferBytes by more than one item', async () => {
    const items = range(500).map((i) => 'x'.repeat(1 + (i % 37)));
    let maxBytes = 0;
    const delivered: string[] = [];
    const w = new BackpressureWritable<string>({
      maxBufferBytes: 400,
      batchSize: 10,
      flush: async (batch) => {
        await sleep(2);
        delivered.push(...batch);
      },
    });
    async function* producer() {
      for (const item of items) {
        maxBytes = Math.max(maxBytes, w.getMetrics().bufferBytes);
        yield item;
      }
    }
    w.on('state', () => {
      maxBytes = Math.max(maxBytes, w.getMetrics().bufferBytes);
    });
    await pipeline(Readable.from(producer()), w);
    expect(delivered).toEqual(items);
    expect(maxBytes).toBeLessThan(400 + 37);
    expect(maxBytes).toBeGreaterThanOrEqual(400 - 37);
  });

  test("a producer that ignores write() === false is never refused: its excess waits in Node's queue, counted", async () => {
    const delivered: number[] = [];
    const w = new BackpressureWritable<number>({
      maxBufferSize: 10,
      batchSize: 5,
      flush: async (batch) => {
        await sleep(1);
        delivered.push(...batch);
      },
    });
    const results = range(40).map((i) => w.write(i));
    // items 0-4 form the first batch (in flight); 5-14 fill the buffer; the 15th write says false
    expect(results.slice(0, 14).every(Boolean)).toBe(true);
    expect(results.slice(14).every((r) => !r)).toBe(true);
    const m = w.getMetrics();
    expect(m.eventsAccepted).toBe(40);
    expect(m.state).toBe('blocked');
    expectConserved(m);
    await new Promise<void>((resolve) => w.end(resolve));
    expect(delivered).toEqual(range(40));
  });
});
