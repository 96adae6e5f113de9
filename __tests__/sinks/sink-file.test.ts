import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { createFileSink, FileSink } from '../../lib/sinks/file-sink';
import { StreamSink } from '../../lib/sinks/stream-sink';
import { SinkErrorCodes } from '../../lib/sinks/sink-errors';

const ctx = () => ({ signal: new AbortController().signal, attempt: 1 });
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bp-file-sink-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('file sink', () => {
  it('appends batches (never truncates) and close() flushes and closes the file', async () => {
    const path = join(dir, 'out.ndjson');
    writeFileSync(path, '{"old":true}\n');
    const sink = createFileSink(path);
    expect(sink.description).toBe(`file:${path}`);
    const big = Buffer.from(JSON.stringify({ pad: 'p'.repeat(100_000) })); // larger than the stream's highWaterMark
    await sink.write([Buffer.from('{"a":1}'), Buffer.from('{"b":2}')], ctx());
    await sink.write([big], ctx());
    await sink.close();
    expect(readFileSync(path, 'utf8')).toBe(`{"old":true}\n{"a":1}\n{"b":2}\n${big.toString()}\n`);
    await expect(sink.write([Buffer.from('{}')], ctx())).rejects.toMatchObject({ code: SinkErrorCodes.CLOSED });
  });

  it('a file that cannot be opened rejects writes with ERR_SINK_WRITE_FAILED naming the cause', async () => {
    const sink = createFileSink(join(dir, 'no-such-dir', 'out.ndjson'));
    const err = await sink.write([Buffer.from('{}')], ctx()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: SinkErrorCodes.WRITE_FAILED, retryable: false });
    expect((err as Error).message).toContain('ENOENT');
    await expect(sink.close()).rejects.toMatchObject({ code: SinkErrorCodes.WRITE_FAILED });
  });

  it('a regular file is written with one synchronous write per batch: the bytes are in it when the write resolves', async () => {
    const path = join(dir, 'out.ndjson');
    const sink = createFileSink(path);
    expect(sink).toBeInstanceOf(FileSink);
    await sink.write([Buffer.from('{"a":1}')], ctx());
    await sink.write([Buffer.from('{"b":2}'), Buffer.from('{"c":3}')], ctx());
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n{"b":2}\n{"c":3}\n'); // before close()
    await sink.close();
  });

  it('a FIFO is written through the stream (a write never waits for its reader in the event loop)', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const sink = createFileSink(fifo);
    expect(sink).toBeInstanceOf(StreamSink);
    const read = new Promise<string>((resolve) => {
      let text = '';
      createReadStream(fifo)
        .on('data', (c) => (text += c.toString()))
        .on('end', () => resolve(text));
    });
    await sink.write([Buffer.from('{"a":1}'), Buffer.from('{"b":2}')], ctx());
    await sink.close();
    expect(await read).toBe('{"a":1}\n{"b":2}\n');
  });
});
