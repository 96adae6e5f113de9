import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { createHttpSink } from '../../lib/sinks/http-sink';
import { isSinkError } from '../../lib/sinks/sink-errors';
import { closeServer, listenLocal } from '../helpers/local-server';

// TLS verification stays on: a server with a self-signed certificate is refused
// (no batch reaches it), and the same server is accepted once its certificate is
// trusted through an agent the caller configures. Needs the openssl CLI.
let dir: string;
let server: https.Server;
let url: string;
let cert: Buffer;
const received: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'bp-tls-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  cert = readFileSync(path.join(dir, 'cert.pem'));
  server = https.createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(body);
      res.writeHead(200).end();
    });
  });
  url = `https://127.0.0.1:${await listenLocal(server)}/ingest`;
});

afterAll(async () => {
  await closeServer(server);
  rmSync(dir, { recursive: true, force: true });
});

const ctx = () => ({ signal: new AbortController().signal, attempt: 1 });

test('an untrusted (self-signed) certificate is refused: retryable network error, nothing delivered', async () => {
  const sink = createHttpSink(url);
  const error = await sink.write([Buffer.from('{"a":1}')], ctx()).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isSinkError(error, 'ERR_SINK_HTTP_NETWORK')).toBe(true);
  expect(String((error as Error).message)).toMatch(/self-signed certificate/);
  await sink.close();
  expect(received).toEqual([]);
});

test('the same server is accepted when the caller trusts its certificate', async () => {
  const agent = new https.Agent({ ca: cert, keepAlive: true });
  const sink = createHttpSink(url, { agent });
  await sink.write([Buffer.from('{"a":1}'), Buffer.from('{"b":2}')], ctx());
  await sink.close();
  agent.destroy();
  expect(received).toEqual(['{"a":1}\n{"b":2}\n']);
});
