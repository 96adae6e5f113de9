import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createSink } from '../../lib/sinks/create-sink';
import { ExecSink } from '../../lib/sinks/exec-sink';
import { HttpSink } from '../../lib/sinks/http-sink';
import { isSinkError, SinkErrorCodes } from '../../lib/sinks/sink-errors';
import { StreamSink } from '../../lib/sinks/stream-sink';
import { PassThrough } from '../../lib/util/stream-classes';

const ctx = () => ({ signal: new AbortController().signal, attempt: 1 });

function specError(spec: string): unknown {
  try {
    createSink(spec);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('createSink: parsing --sink specs', () => {
  it.each(['stdout', 'STDOUT', '-', '', '  stdout  '])('%p is stdout', async (spec) => {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c.toString()));
    const sink = createSink(spec, { stdout: stream });
    expect(sink).toBeInstanceOf(StreamSink);
    expect(sink.description).toBe('stdout');
    await sink.write([Buffer.from('{"a":1}')], ctx());
    expect(chunks).toEqual(['{"a":1}\n']);
    await sink.close();
  });

  it('file:PATH and file:///abs/path append to that file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bp-create-sink-'));
    try {
      const path = join(dir, 'out.ndjson');
      const plain = createSink(`file:${path}`);
      await plain.write([Buffer.from('1')], ctx());
      await plain.close();
      const url = createSink(pathToFileURL(path).href);
      await url.write([Buffer.from('2')], ctx());
      await url.close();
      expect(readFileSync(path, 'utf8')).toBe('1\n2\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('http(s):// URLs make an HTTP sink with a redacted description', async () => {
    const http = createSink('http://u:secretpw@127.0.0.1:9/ingest');
    expect(http).toBeInstanceOf(HttpSink);
    expect(http.description).toBe('http://***@127.0.0.1:9/ingest');
    await http.close();
    const https = createSink('HTTPS://example.invalid/x');
    expect(https.description).toBe('https://example.invalid/x');
    await https.close();
  });

  it('exec:COMMAND makes an exec sink', async () => {
    const sink = createSink('exec:cat > /dev/null');
    expect(sink).toBeInstanceOf(ExecSink);
    expect(sink.description).toBe('exec:cat > /dev/null');
    await sink.close();
  });

  it.each(['file:', 'exec:', 'exec:   ', 'ftp://host/x', 'http://', 'kafka:topic', 'stdout2'])(
    '%p is ERR_SINK_INVALID_SPEC',
    (spec) => {
      const err = specError(spec);
      expect(isSinkError(err, SinkErrorCodes.INVALID_SPEC)).toBe(true);
    },
  );

  it('an invalid spec message never echoes credentials', () => {
    const err = specError('htp://user:topsecret@host/x') as Error;
    expect(isSinkError(err, SinkErrorCodes.INVALID_SPEC)).toBe(true);
    expect(err.message).not.toContain('topsecret');
    const bad = specError('http://user:topsecret@[bad/x') as Error;
    expect(isSinkError(bad, SinkErrorCodes.INVALID_SPEC)).toBe(true);
    expect(bad.message).not.toContain('topsecret');
  });
});
