import { isNdjsonError, NdjsonErrorCodes } from '../../lib/ndjson/ndjson-errors';
import { NdjsonSplitter, type InvalidLine, type NdjsonRecord } from '../../lib/ndjson/ndjson-splitter';
import { PassThrough, pipeline, Readable, Writable } from '../../lib/util/stream-classes';

function collector(): { stream: InstanceType<typeof Writable>; records: NdjsonRecord[] } {
  const records: NdjsonRecord[] = [];
  const stream = new Writable({
    objectMode: true,
    highWaterMark: 1,
    write(record: NdjsonRecord, _enc, cb) {
      // Asynchronous and slow-ish: records must still be buffered in the splitter when it stops.
      setImmediate(() => {
        records.push(record);
        cb();
      });
    },
  });
  return { stream, records };
}

describe("ndjson splitter: onInvalid 'fail'", () => {
  it('delivers every valid record before the invalid line, ends cleanly, and exposes a coded failure', async () => {
    const valid = Array.from({ length: 100 }, (_, i) => `{"n":${i}}\n`).join('');
    const input = Readable.from([
      Buffer.from(valid),
      Buffer.from('{broken\n{"after":1}\n'),
      Buffer.from('{"more":2}\n'),
    ]);
    const splitter = new NdjsonSplitter({ onInvalid: 'fail' });
    const invalid: InvalidLine[] = [];
    const errors: unknown[] = [];
    splitter.on('invalid', (e: InvalidLine) => invalid.push(e));
    splitter.on('error', (e) => errors.push(e));
    const { stream, records } = collector();
    await new Promise<void>((resolve, reject) =>
      pipeline(input, splitter, stream, (err) => (err ? reject(err) : resolve())),
    );
    expect(records.map((r) => r.line)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(invalid.map((i) => [i.line, i.reason])).toEqual([[101, 'invalid-json']]);
    expect(errors).toEqual([]);
    const failure = splitter.failure;
    expect(isNdjsonError(failure, NdjsonErrorCodes.INVALID_LINE)).toBe(true);
    expect(failure).toMatchObject({ line: 101, reason: 'invalid-json' });
    const metrics = splitter.getMetrics();
    expect(metrics).toMatchObject({ lines: 101, valid: 100, invalid: 1 });
    // '{"after":1}\n' (12 bytes) in the failing chunk plus the whole next chunk (11 bytes).
    expect(metrics.discardedBytes).toBe(23);
  });

  it('ends its output at the failure even while the input stays open, so downstream finishes', async () => {
    const input = new PassThrough();
    const splitter = new NdjsonSplitter({ onInvalid: 'fail' });
    const { stream, records } = collector();
    input.pipe(splitter).pipe(stream);
    input.write('{"a":1}\n{"b":2}\n');
    input.write('oops\n');
    input.write('{"c":3}\n'); // the input is never ended
    await new Promise((resolve) => stream.on('finish', resolve));
    expect(records.map((r) => r.bytes.toString())).toEqual(['{"a":1}', '{"b":2}']);
    expect(splitter.failure?.line).toBe(3);
    input.destroy();
  });

  it('stops at a too-long line as soon as it crosses the limit', async () => {
    const splitter = new NdjsonSplitter({ onInvalid: 'fail', maxLineBytes: 16 });
    const records: NdjsonRecord[] = [];
    splitter.on('data', (r: NdjsonRecord) => records.push(r));
    splitter.write('{"a":1}\n');
    splitter.write('x'.repeat(17));
    expect(splitter.failure).toMatchObject({ code: 'ERR_NDJSON_INVALID_LINE', line: 2, reason: 'line-too-long' });
    splitter.write('x'.repeat(1000));
    expect(splitter.heldBytes).toBe(0);
    splitter.end();
    await new Promise((resolve) => splitter.on('end', resolve));
    expect(records.map((r) => r.line)).toEqual([1]);
    expect(splitter.getMetrics().discardedBytes).toBe(1000);
  });

  it('skip mode (the default) never sets failure', async () => {
    const splitter = new NdjsonSplitter();
    splitter.on('data', () => undefined);
    splitter.end('nope\n{"a":1}\n');
    await new Promise((resolve) => splitter.on('end', resolve));
    expect(splitter.failure).toBeUndefined();
    expect(splitter.getMetrics()).toMatchObject({ valid: 1, invalid: 1 });
  });

  it('rejects an unknown onInvalid policy with a coded error', () => {
    expect(() => new NdjsonSplitter({ onInvalid: 'explode' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_NDJSON_INVALID_OPTION' }),
    );
  });
});
