import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFileSink } from '../../lib/sinks/file-sink';
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
});
