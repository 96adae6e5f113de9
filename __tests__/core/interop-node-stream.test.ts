/**
 * BackpressureWritable must behave like any other Writable at the end of the
 * pipelines people actually build: node:stream's pipeline (callback and
 * promise forms), readable-stream's own pipeline, pipe(), Readable.from over
 * arrays and async generators, real files through a line splitter, and zlib.
 * Every case checks that each item arrives exactly once, in order, and that
 * the metrics account for every accepted item.
 */
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as nodeStream from 'node:stream';
import { finished as nodeFinished, pipeline as nodePipelinePromise } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
// Typed as node:stream's (lib/util/readable-stream.d.ts): it mirrors that API.
import * as rs from 'readable-stream';
import {
  BackpressureError,
  BackpressureWritable,
  ErrorCodes,
  isBackpressureError,
  type BackpressureWritableOptions,
  type FlushFunction,
} from '../../lib';
import { expectConserved, range } from '../helpers/core-helpers';
import { macrotask } from '../helpers/stage-helpers';

/** What the tests use of a stream library: node:stream and readable-stream both provide it. */
type StreamLib = Pick<typeof import('node:stream'), 'pipeline' | 'finished' | 'Readable' | 'Transform'>;
type PromisePipeline = (...streams: nodeStream.Stream[]) => Promise<void>;

interface Impl {
  name: string;
  lib: StreamLib;
  /** The promise form of this library's pipeline. */
  pipelineAsync: PromisePipeline;
  finishedAsync: (stream: nodeStream.Writable) => Promise<void>;
}

const impls: Impl[] = [
  {
    name: 'node:stream',
    lib: nodeStream,
    pipelineAsync: nodePipelinePromise as unknown as PromisePipeline,
    finishedAsync: (s) => nodeFinished(s),
  },
  {
    name: 'readable-stream',
    lib: rs,
    pipelineAsync: promisify(rs.pipeline) as unknown as PromisePipeline,
    finishedAsync: promisify(rs.finished) as unknown as (s: nodeStream.Writable) => Promise<void>,
  },
];

interface RecordingSink<T> {
  writable: BackpressureWritable<T>;
  delivered: T[];
  states: string[];
}

/**
 * A writable whose flush records what it delivered. A `slow` sink makes no
 * progress until the writer has been pushed back once (the buffer went
 * 'blocked', or end() was called on a short input), and then takes a
 * macrotask per batch: whatever the producer's own pace (real file I/O
 * included), it is outrun, and must be paused rather than lose items.
 */
function recordingSink<T>(slow: boolean, extra: Partial<BackpressureWritableOptions<T>> = {}): RecordingSink<T> {
  const delivered: T[] = [];
  const states: string[] = [];
  let openGate: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (openGate = resolve));
  const flush: FlushFunction<T> = async (batch) => {
    if (slow) {
      await gate;
      await macrotask();
    }
    delivered.push(...batch);
  };
  const writable = new BackpressureWritable<T>({
    flush,
    maxBufferSize: 16,
    batchSize: 4,
    minFlushIntervalMs: 1,
    ...extra,
  });
  writable.on('state', (change: { to: string }) => {
    states.push(change.to);
    if (change.to === 'blocked' || change.to === 'draining') openGate();
  });
  return { writable, delivered, states };
}

function expectAllDelivered<T>(sink: RecordingSink<T>, expected: T[]): void {
  expect(sink.delivered).toEqual(expected);
  const m = sink.writable.getMetrics();
  expectConserved(m);
  expect(m.eventsAccepted).toBe(expected.length);
  expect(m.eventsFlushed).toBe(expected.length);
  expect(m.eventsDeadLettered).toBe(0);
  expect(m.bufferSize).toBe(0);
  expect(m.inFlight).toBe(0);
  expect(sink.writable.state).toBe('closed');
}

/** Splits text into lines and parses each as JSON: just enough NDJSON to feed the writable from a file. */
function lineSplitter(lib: StreamLib): nodeStream.Transform {
  const decoder = new StringDecoder('utf8');
  let tail = '';
  return new lib.Transform({
    readableObjectMode: true,
    transform(chunk: Buffer, _encoding, callback) {
      const lines = (tail + decoder.write(chunk)).split('\n');
      tail = lines.pop() ?? '';
      try {
        for (const line of lines) if (line !== '') this.push(JSON.parse(line));
      } catch (err) {
        callback(err as Error);
        return;
      }
      callback();
    },
    flush(callback) {
      const last = tail + decoder.end();
      try {
        if (last !== '') this.push(JSON.parse(last));
      } catch (err) {
        callback(err as Error);
        return;
      }
      callback();
    },
  });
}

interface Row {
  id: number;
  text: string;
}

const rows: Row[] = range(500).map((id) => ({ id, text: `row ${id} ${'é'.repeat(id % 7)}` }));
const ndjson = rows.map((row) => JSON.stringify(row)).join('\n') + '\n';

let dir: string;
let ndjsonFile: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-interop-'));
  ndjsonFile = path.join(dir, 'rows.ndjson');
  fs.writeFileSync(ndjsonFile, ndjson);
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe.each(impls)('with $name', ({ lib, pipelineAsync, finishedAsync }) => {
  test('pipeline (callback form) from Readable.from(array) into a slower sink delivers every item once, in order', async () => {
    const items = range(300);
    const sink = recordingSink<number>(true);
    const error = await new Promise<Error | null | undefined>((resolve) => {
      lib.pipeline(lib.Readable.from(items), sink.writable, (err) => resolve(err));
    });
    expect(error ?? undefined).toBeUndefined();
    expectAllDelivered(sink, items);
    // The producer really was held back by a full buffer, not merely slower.
    expect(sink.states).toContain('blocked');
  });

  test('promise pipeline from an async generator into a slower sink', async () => {
    const count = 250;
    async function* produce(): AsyncGenerator<{ n: number }> {
      for (let n = 0; n < count; n++) yield { n };
    }
    const sink = recordingSink<{ n: number }>(true);
    await pipelineAsync(lib.Readable.from(produce()), sink.writable);
    expectAllDelivered(
      sink,
      range(count).map((n) => ({ n })),
    );
    expect(sink.states).toContain('blocked');
  });

  test('promise pipeline with a fast sink and a batch that never fills (end() flushes the tail)', async () => {
    const items = range(37).map((n) => `item-${n}`);
    const sink = recordingSink<string>(false, { batchSize: 10, maxBufferSize: 100, minFlushIntervalMs: 20_000 });
    await pipelineAsync(lib.Readable.from(items), sink.writable);
    expectAllDelivered(sink, items);
  });

  test('fs.createReadStream of an NDJSON file through a line splitter', async () => {
    // A tiny highWaterMark cuts lines (and multi-byte characters) across chunks.
    const source = fs.createReadStream(ndjsonFile, { highWaterMark: 61 });
    const sink = recordingSink<Row>(true);
    await pipelineAsync(source, lineSplitter(lib), sink.writable);
    expectAllDelivered(sink, rows);
    expect(sink.states).toContain('blocked');
  });

  test('zlib gzip → gunzip round trip in front of the writable', async () => {
    const chunks = range(40).map((i) => Buffer.from(ndjson.slice(i * 1000, (i + 1) * 1000)));
    expect(Buffer.concat(chunks).toString()).toBe(ndjson);
    const sink = recordingSink<Row>(true);
    await pipelineAsync(
      lib.Readable.from(chunks),
      zlib.createGzip(),
      zlib.createGunzip(),
      lineSplitter(lib),
      sink.writable,
    );
    expectAllDelivered(sink, rows);
    expect(sink.states).toContain('blocked');
  });

  test('pipe() pauses and resumes the source and ends the writable', async () => {
    const items = range(200).map((n) => ({ n }));
    const sink = recordingSink<{ n: number }>(true);
    const source = lib.Readable.from(items);
    source.pipe(sink.writable);
    await finishedAsync(sink.writable);
    expectAllDelivered(sink, items);
    expect(sink.states).toContain('blocked');
  });

  test('a producer error rejects the pipeline, destroys the writable and hands held items to onDeadLetter', async () => {
    const boom = new Error('producer failed');
    async function* produce(): AsyncGenerator<number> {
      for (let n = 0; n < 10; n++) yield n;
      // Let the first flush settle and the rest be buffered before failing.
      await macrotask();
      await macrotask();
      throw boom;
    }
    const delivered: number[] = [];
    const deadLettered: { items: number[]; error: Error }[] = [];
    let calls = 0;
    const writable = new BackpressureWritable<number>({
      maxBufferSize: 100,
      batchSize: 4,
      minFlushIntervalMs: 1,
      flush: (batch, ctx) => {
        calls++;
        if (calls === 1) {
          delivered.push(...batch);
          return Promise.resolve();
        }
        // A stuck sink that gives up only when the stream aborts the attempt.
        return new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
      },
      onDeadLetter: (items, error) => {
        deadLettered.push({ items, error });
      },
    });
    await expect(pipelineAsync(lib.Readable.from(produce()), writable)).rejects.toBe(boom);
    expect(writable.destroyed).toBe(true);
    expect(writable.state).toBe('closed');
    expect(delivered).toEqual([0, 1, 2, 3]);
    expect(deadLettered).toHaveLength(1);
    expect(deadLettered[0]?.items).toEqual([4, 5, 6, 7, 8, 9]);
    expect(isBackpressureError(deadLettered[0]?.error, ErrorCodes.DESTROYED)).toBe(true);
    expect(deadLettered[0]?.error.cause).toBe(boom);
    const m = writable.getMetrics();
    expectConserved(m);
    expect(m).toMatchObject({
      eventsAccepted: 10,
      eventsFlushed: 4,
      eventsDeadLettered: 6,
      bufferSize: 0,
      inFlight: 0,
    });
  });

  test('a producer error without onDeadLetter hands the held items back in the writable error', async () => {
    const boom = new Error('producer failed');
    async function* produce(): AsyncGenerator<string> {
      for (let n = 0; n < 7; n++) yield `x${n}`;
      await macrotask();
      throw boom;
    }
    const writable = new BackpressureWritable<string>({
      maxBufferSize: 100,
      batchSize: 50,
      minFlushIntervalMs: 20_000, // nothing is due: all seven are held when the producer fails
      flush: () => Promise.reject(new Error('flush must not be called')),
    });
    const writableErrors: unknown[] = [];
    writable.on('error', (err) => writableErrors.push(err));
    await expect(pipelineAsync(lib.Readable.from(produce()), writable)).rejects.toBe(boom);
    expect(writable.destroyed).toBe(true);
    await macrotask();
    expect(writableErrors).toHaveLength(1);
    const err = writableErrors[0];
    expect(isBackpressureError(err, ErrorCodes.DESTROYED)).toBe(true);
    expect((err as BackpressureError<string>).items).toEqual(['x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6']);
    expect((err as BackpressureError).cause).toBe(boom);
    const m = writable.getMetrics();
    expectConserved(m);
    expect(m).toMatchObject({ eventsAccepted: 7, eventsFlushed: 0, eventsDeadLettered: 7, bufferSize: 0, inFlight: 0 });
  });

  test('a flush failure (retries 0, no onDeadLetter) rejects the pipeline with ERR_BACKPRESSURE_FLUSH_FAILED holding exactly the undelivered items', async () => {
    const items = range(100);
    const delivered: number[] = [];
    let calls = 0;
    const sinkDown = new Error('sink down');
    const writable = new BackpressureWritable<number>({
      maxBufferSize: 12,
      batchSize: 5,
      minFlushIntervalMs: 1,
      retry: { retries: 0 },
      flush: async (batch) => {
        await macrotask();
        calls++;
        if (calls === 3) throw sinkDown;
        delivered.push(...batch);
      },
    });
    const source = lib.Readable.from(items);
    const error: unknown = await pipelineAsync(source, writable).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isBackpressureError(error, ErrorCodes.FLUSH_FAILED)).toBe(true);
    const failure = error as BackpressureError<number>;
    expect(failure.cause).toBe(sinkDown);
    expect(writable.destroyed).toBe(true);
    expect(source.destroyed).toBe(true);
    expect(delivered).toEqual(range(10));
    const m = writable.getMetrics();
    expectConserved(m);
    // Everything the writable took in is either delivered or handed back, in order, once.
    expect(failure.items).toEqual(items.slice(10, m.eventsAccepted));
    expect(failure.items?.length).toBeGreaterThanOrEqual(5); // at least the failed batch itself
    expect(m).toMatchObject({
      eventsFlushed: 10,
      eventsDeadLettered: m.eventsAccepted - 10,
      bufferSize: 0,
      inFlight: 0,
    });
    expect(m.eventsAccepted).toBeLessThan(items.length); // the source was stopped, not drained into the void
  });

  test('a writable that errors makes the callback pipeline report the same coded error', async () => {
    const writable = new BackpressureWritable<number>({
      batchSize: 2,
      minFlushIntervalMs: 1,
      retry: { retries: 0 },
      flush: () => Promise.reject(new Error('nope')),
    });
    const error = await new Promise<Error | null | undefined>((resolve) => {
      lib.pipeline(lib.Readable.from([1, 2, 3]), writable, (err) => resolve(err));
    });
    expect(isBackpressureError(error, ErrorCodes.FLUSH_FAILED)).toBe(true);
    const m = writable.getMetrics();
    expectConserved(m);
    expect((error as BackpressureError<number>).items).toEqual([1, 2, 3].slice(0, m.eventsAccepted));
    expect(m.eventsFlushed).toBe(0);
  });
});

test('writable and source interoperate across libraries (readable-stream source, node:stream pipeline)', async () => {
  const items = range(120);
  const sink = recordingSink<number>(true);
  await nodePipelinePromise(rs.Readable.from(items), sink.writable);
  expectAllDelivered(sink, items);
});

test("end() after the last write waits for the tail and then emits 'finish' once", async () => {
  const sink = recordingSink<number>(true, { batchSize: 8, minFlushIntervalMs: 20_000 });
  let finishes = 0;
  sink.writable.on('finish', () => finishes++);
  for (let i = 0; i < 5; i++) expect(sink.writable.write(i)).toBe(true);
  sink.writable.end(5);
  await once(sink.writable, 'close');
  expect(finishes).toBe(1);
  expectAllDelivered(sink, range(6));
});
