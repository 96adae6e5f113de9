import { FlushAttemptContext } from '../../lib/core/flush-attempt-context';
import { isSinkError, SinkErrorCodes } from '../../lib/sinks/sink-errors';
import { createStdoutSink } from '../../lib/sinks/stdout-sink';
import { createStreamSink } from '../../lib/sinks/stream-sink';
import { Writable } from '../../lib/util/stream-classes';

/** A Writable whose writes complete only when the test says so. */
function gatedWritable(highWaterMark = 16) {
  const chunks: string[] = [];
  const gates: Array<(err?: Error) => void> = [];
  const stream = new Writable({
    highWaterMark,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      gates.push(cb);
    },
  });
  const release = (err?: Error): void => {
    const gate = gates.shift();
    if (gate === undefined) throw new Error('nothing to release');
    gate(err);
  };
  return { stream, chunks, release, pending: () => gates.length };
}

const ctx = () => ({ signal: new AbortController().signal, attempt: 1 });
const lines = (...items: string[]) => items.map((s) => Buffer.from(s));
const ticks = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('stream sink: one write per batch, backpressure respected', () => {
  it('writes a batch as one newline-joined chunk and resolves only once the stream took it', async () => {
    const { stream, chunks, release } = gatedWritable(4);
    const sink = createStreamSink(stream, { description: 'test' });
    let done = false;
    const p = sink.write(lines('{"a":1}', '{"b":2}', '{"c":3}'), ctx()).then(() => (done = true));
    await ticks();
    expect(chunks).toEqual(['{"a":1}\n{"b":2}\n{"c":3}\n']);
    expect(done).toBe(false); // write() returned false (over highWaterMark): waiting for 'drain'
    release();
    await p;
    expect(done).toBe(true);
  });

  it('serializes batches: the next one reaches the stream only after the previous completed', async () => {
    const { stream, chunks, release } = gatedWritable();
    const sink = createStreamSink(stream);
    const first = sink.write(lines('1'), ctx());
    const second = sink.write(lines('2'), ctx());
    await ticks();
    expect(chunks).toEqual(['1\n']);
    release();
    await first;
    await ticks();
    expect(chunks).toEqual(['1\n', '2\n']);
    release();
    await second;
  });

  it('an abort cancels a queued batch (never written) and rejects a started one while keeping order', async () => {
    const { stream, chunks, release } = gatedWritable();
    const sink = createStreamSink(stream);
    const started = new AbortController();
    const queued = new AbortController();
    const p1 = sink.write(lines('started'), { signal: started.signal, attempt: 1 });
    const p2 = sink.write(lines('queued'), { signal: queued.signal, attempt: 1 });
    const p3 = sink.write(lines('third'), ctx());
    queued.abort();
    started.abort();
    await expect(p1).rejects.toMatchObject({ code: SinkErrorCodes.ABORTED, retryable: true });
    await expect(p2).rejects.toMatchObject({ code: SinkErrorCodes.ABORTED });
    await ticks();
    expect(chunks).toEqual(['started\n']); // 'third' waits until the stream is done with 'started'
    release();
    await ticks();
    expect(chunks).toEqual(['started\n', 'third\n']);
    release();
    await p3;
  });

  it("with the core's own contexts, an abort reaches the sink without an AbortSignal ever being made", async () => {
    const { stream, chunks, release } = gatedWritable();
    const sink = createStreamSink(stream);
    // The contexts the core passes to flush: reading `signal` would create an AbortController per batch.
    const coreContext = (): FlushAttemptContext => {
      const c = new FlushAttemptContext(1);
      Object.defineProperty(c, 'signal', {
        get: () => {
          throw new Error('signal read');
        },
      });
      return c;
    };
    const started = coreContext();
    const queued = coreContext();
    const p1 = sink.write(lines('started'), started);
    const p2 = sink.write(lines('queued'), queued);
    const reason = new Error('flush timeout');
    queued.abort(reason);
    started.abort(reason);
    await expect(p1).rejects.toMatchObject({ code: SinkErrorCodes.ABORTED, cause: reason });
    await expect(p2).rejects.toMatchObject({ code: SinkErrorCodes.ABORTED, cause: reason });
    // Already aborted when written: rejected at once, never queued.
    await expect(sink.write(lines('late'), started)).rejects.toMatchObject({ code: SinkErrorCodes.ABORTED });
    release();
    await ticks();
    expect(chunks).toEqual(['started\n']);
  });

  it('a stream error rejects the pending batch and every later one with a coded, non-retryable error', async () => {
    const { stream, release } = gatedWritable();
    const sink = createStreamSink(stream, { description: 'test' });
    const pending = sink.write(lines('x'), ctx());
    await ticks();
    release(Object.assign(new Error('disk full'), { code: 'ENOSPC' }));
    await expect(pending).rejects.toMatchObject({ code: SinkErrorCodes.WRITE_FAILED, retryable: false });
    await expect(sink.write(lines('y'), ctx())).rejects.toMatchObject({ code: SinkErrorCodes.WRITE_FAILED });
    await expect(sink.close()).rejects.toMatchObject({ code: SinkErrorCodes.WRITE_FAILED });
  });

  it('EPIPE or the stream being destroyed under it is ERR_SINK_CLOSED', async () => {
    const a = gatedWritable();
    const sinkA = createStreamSink(a.stream);
    const pa = sinkA.write(lines('x'), ctx());
    await ticks();
    a.release(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    await expect(pa).rejects.toMatchObject({ code: SinkErrorCodes.CLOSED });

    const b = gatedWritable();
    const sinkB = createStreamSink(b.stream);
    const pb = sinkB.write(lines('x'), ctx());
    b.stream.destroy();
    const err = await pb.catch((e: unknown) => e);
    expect(isSinkError(err, SinkErrorCodes.CLOSED)).toBe(true);
  });

  it('close() waits for pending batches, ends the stream, and later writes reject ERR_SINK_CLOSED', async () => {
    const { stream, chunks, release } = gatedWritable();
    const sink = createStreamSink(stream);
    const write = sink.write(lines('last'), ctx());
    let closed = false;
    const close = sink.close().then(() => (closed = true));
    await ticks();
    expect(closed).toBe(false);
    release();
    await write;
    await close;
    expect(chunks).toEqual(['last\n']);
    expect(stream.writableFinished).toBe(true);
    await expect(sink.write(lines('late'), ctx())).rejects.toMatchObject({ code: SinkErrorCodes.CLOSED });
  });

  it('the stdout sink never ends its stream on close()', async () => {
    const { stream, chunks, release } = gatedWritable();
    const sink = createStdoutSink({ stream });
    expect(sink.description).toBe('stdout');
    const p = sink.write(lines('a'), ctx());
    await ticks();
    release();
    await p;
    await sink.close();
    expect(chunks).toEqual(['a\n']);
    expect(stream.writableEnded).toBe(false);
  });
});
