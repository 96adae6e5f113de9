import http from 'node:http';
import { createHttpSink } from '../../lib/sinks/http-sink';
import { isSinkError, sinkFailureAction, SinkErrorCodes } from '../../lib/sinks/sink-errors';
import { closeServer, deadPort, listenLocal } from '../helpers/local-server';

interface Received {
  path: string;
  body: string;
  contentType: string | undefined;
  authorization: string | undefined;
}

const received: Received[] = [];
let connections = 0;
let server: http.Server;
let base: string;
let port: number;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      const path = url.split('?')[0] ?? '';
      received.push({
        path: url,
        body: Buffer.concat(chunks).toString(),
        contentType: req.headers['content-type'],
        authorization: req.headers.authorization,
      });
      if (path === '/ok') {
        res.end('ok');
      } else if (path === '/slow') {
        // Never answers: the client's signal must end it.
      } else if (path.startsWith('/status/')) {
        res.statusCode = Number(path.slice('/status/'.length));
        res.end('server says no');
      } else if (path === '/429-seconds') {
        res.writeHead(429, { 'retry-after': '7' }).end();
      } else if (path === '/503-date') {
        res.writeHead(503, { 'retry-after': new Date(Date.now() + 60_000).toUTCString() }).end();
      } else if (path === '/echo-400') {
        res.writeHead(400).end(`rejected request with authorization ${req.headers.authorization ?? ''}`);
      } else if (path === '/destroy') {
        req.socket.destroy();
      }
    });
  });
  server.on('connection', () => connections++);
  port = await listenLocal(server);
  base = `http://127.0.0.1:${port}`;
});

afterAll(() => closeServer(server));

beforeEach(() => {
  received.length = 0;
  connections = 0;
});

const ctx = () => ({ signal: new AbortController().signal, attempt: 1 });
const lines = [Buffer.from('{"a":1}'), Buffer.from('{"b":"é"}')];

describe('http sink: delivery', () => {
  it('POSTs each batch as one application/x-ndjson body over one keep-alive connection', async () => {
    const sink = createHttpSink(`${base}/ok`);
    await sink.write(lines, ctx());
    await sink.write([Buffer.from('{"c":3}')], ctx());
    await sink.close();
    expect(received.map((r) => [r.body, r.contentType])).toEqual([
      ['{"a":1}\n{"b":"é"}\n', 'application/x-ndjson'],
      ['{"c":3}\n', 'application/x-ndjson'],
    ]);
    expect(connections).toBe(1);
    await expect(sink.write(lines, ctx())).rejects.toMatchObject({ code: SinkErrorCodes.CLOSED });
  });
});

describe('http sink: failure classification', () => {
  it.each([500, 503, 408])('HTTP %i is retryable', async (status) => {
    const sink = createHttpSink(`${base}/status/${status}`);
    const err = await sink.write(lines, ctx()).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: SinkErrorCodes.HTTP_STATUS,
      statusCode: status,
      retryable: true,
      retryAfterMs: undefined,
    });
    expect(sinkFailureAction(err)).toBe('retry');
    await sink.close();
  });

  it.each([400, 401, 404, 413])('HTTP %i is not retryable: the caller dead-letters at once', async (status) => {
    const sink = createHttpSink(`${base}/status/${status}`);
    const err = await sink.write(lines, ctx()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: SinkErrorCodes.HTTP_STATUS, statusCode: status, retryable: false });
    expect((err as Error).message).toContain('server says no');
    expect(sinkFailureAction(err)).toBe('dead-letter');
    await sink.close();
  });

  it('429 with Retry-After in seconds carries retryAfterMs', async () => {
    const sink = createHttpSink(`${base}/429-seconds`);
    await expect(sink.write(lines, ctx())).rejects.toMatchObject({
      statusCode: 429,
      retryable: true,
      retryAfterMs: 7000,
    });
    await sink.close();
  });

  it('503 with Retry-After as an HTTP date carries retryAfterMs', async () => {
    const sink = createHttpSink(`${base}/503-date`);
    const err = (await sink.write(lines, ctx()).catch((e: unknown) => e)) as { retryAfterMs: number };
    expect(err).toMatchObject({ statusCode: 503, retryable: true });
    expect(err.retryAfterMs).toBeGreaterThan(50_000);
    expect(err.retryAfterMs).toBeLessThanOrEqual(60_000);
    await sink.close();
  });

  it('a socket destroyed mid-request is a retryable network error', async () => {
    const sink = createHttpSink(`${base}/destroy`);
    const err = await sink.write(lines, ctx()).catch((e: unknown) => e);
    expect(isSinkError(err, SinkErrorCodes.HTTP_NETWORK)).toBe(true);
    expect(err).toMatchObject({ retryable: true });
    await sink.close();
  });

  it('connection refused is a retryable network error', async () => {
    const sink = createHttpSink(`http://127.0.0.1:${await deadPort()}/`);
    await expect(sink.write(lines, ctx())).rejects.toMatchObject({
      code: SinkErrorCodes.HTTP_NETWORK,
      retryable: true,
    });
    await sink.close();
  });

  it('an aborted ctx.signal (the core timing the attempt out) ends a slow request: ERR_SINK_ABORTED, retryable', async () => {
    const sink = createHttpSink(`${base}/slow`);
    const controller = new AbortController();
    const pending = sink.write(lines, { signal: controller.signal, attempt: 2 });
    while (received.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort(new Error('flush timeout'));
    await expect(pending).rejects.toMatchObject({ code: SinkErrorCodes.ABORTED, retryable: true });
    await expect(sink.write(lines, { signal: controller.signal, attempt: 3 })).rejects.toMatchObject({
      code: SinkErrorCodes.ABORTED,
    });
    await sink.close();
  });
});

describe('http sink: credentials', () => {
  const password = 's3cret-Passw0rd';
  const user = 'alice.admin';

  it('sends URL credentials as Basic auth and never shows them in description or errors', async () => {
    const ok = createHttpSink(`http://${user}:${password}@127.0.0.1:${port}/ok?token=abcdef123`);
    expect(ok.description).toBe(`http://***@127.0.0.1:${port}/ok?***`);
    await ok.write(lines, ctx());
    await ok.close();
    expect(received[0]?.authorization).toBe(`Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`);
    expect(received[0]?.path).toBe('/ok?token=abcdef123');

    const echo = createHttpSink(`http://${user}:${password}@127.0.0.1:${port}/echo-400`);
    const err = (await echo.write(lines, ctx()).catch((e: unknown) => e)) as Error;
    await echo.close();
    expect(err).toMatchObject({ code: SinkErrorCodes.HTTP_STATUS, statusCode: 400 });
    const token = Buffer.from(`${user}:${password}`).toString('base64');
    for (const text of [echo.description, err.message, String(err), JSON.stringify(err), String(err.stack)]) {
      expect(text).not.toContain(password);
      expect(text).not.toContain(user);
      expect(text).not.toContain(token);
    }
  });

  it('network errors do not leak credentials either', async () => {
    const sink = createHttpSink(`http://${user}:${password}@127.0.0.1:${await deadPort()}/`);
    const err = (await sink.write(lines, ctx()).catch((e: unknown) => e)) as Error & { cause?: unknown };
    await sink.close();
    for (const text of [err.message, String(err.stack), String(err.cause)]) {
      expect(text).not.toContain(password);
    }
  });
});
