import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { expectBalanced, runCli, seqLines, seqsOf, statsOf, tempDir } from '../helpers/cli';
import { range } from '../helpers/core-helpers';
import { closeServer, listenLocal } from '../helpers/local-server';

interface Received {
  method: string | undefined;
  contentType: string | undefined;
  body: string;
}

/** What the server does with request number `n` (1-based): answer, or destroy the socket. */
type Behaviour = (n: number, req: IncomingMessage, res: ServerResponse) => void;

let server: Server;
let url: string;
let behaviour: Behaviour;
let requests = 0;
/** Bodies of the requests the server answered with 2xx. */
let accepted: Received[] = [];
/** Status (or 'reset') of every request, in order. */
let outcomes: (number | 'reset')[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      const n = requests;
      const original = res.writeHead.bind(res);
      res.writeHead = ((status: number, ...rest: unknown[]) => {
        outcomes.push(status);
        if (status >= 200 && status < 300) {
          accepted.push({
            method: req.method,
            contentType: req.headers['content-type'],
            body: Buffer.concat(chunks).toString('utf8'),
          });
        }
        return (original as (...a: unknown[]) => ServerResponse)(status, ...rest);
      }) as typeof res.writeHead;
      behaviour(n, req, res);
    });
  });
  url = `http://127.0.0.1:${await listenLocal(server)}/ingest`;
});

afterAll(() => closeServer(server));

beforeEach(() => {
  requests = 0;
  accepted = [];
  outcomes = [];
});

const ok: Behaviour = (_n, _req, res) => {
  res.writeHead(200).end();
};

function reset(req: IncomingMessage): void {
  outcomes.push('reset');
  req.socket.destroy();
}

function deliveredSeqs(): number[] {
  return accepted.flatMap((r) => seqsOf(r.body));
}

describe('backpressure CLI: --sink http://', () => {
  test('a slow server: every line POSTed as NDJSON, in order, nothing retried', async () => {
    behaviour = (_n, _req, res) => setTimeout(() => res.writeHead(200).end(), 20);
    const r = await runCli(['--sink', url, '--batch-size', '100', '--stats'], seqLines(2000));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(deliveredSeqs()).toEqual(range(2000));
    expect(accepted.every((a) => a.method === 'POST' && a.contentType === 'application/x-ndjson')).toBe(true);
    const stats = statsOf(r.stderr);
    expect(stats).toMatchObject({ flushed: 2000, retried: 0, deadLettered: 0 });
    expectBalanced(stats);
  });

  test('--concurrency 4: up to 4 requests in flight, every line delivered once', async () => {
    let inFlight = 0;
    let most = 0;
    behaviour = (_n, _req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight--;
        res.writeHead(200).end();
      }, 20);
    };
    const r = await runCli(['--sink', url, '--batch-size', '100', '--concurrency', '4', '--stats'], seqLines(2000));
    expect(r.code).toBe(0);
    expect(most).toBe(4);
    // Requests complete in any order; each line arrives exactly once.
    expect(deliveredSeqs().sort((a, b) => a - b)).toEqual(range(2000));
    expect(statsOf(r.stderr)).toMatchObject({ flushed: 2000, retried: 0, deadLettered: 0 });
  });

  test('--adaptive: the loop runs against a real sink and every line is delivered once', async () => {
    behaviour = (_n, _req, res) => setTimeout(() => res.writeHead(200).end(), 2);
    const r = await runCli(['--sink', url, '--adaptive', '--stats'], seqLines(5000));
    expect(r.code).toBe(0);
    expect(deliveredSeqs().sort((a, b) => a - b)).toEqual(range(5000));
    expectBalanced(statsOf(r.stderr));
  });

  test('5xx answers and reset connections are retried until delivered', async () => {
    behaviour = (n, req, res) => {
      if (n === 1 || n === 3) res.writeHead(503).end('busy');
      else if (n === 2 || n === 4) reset(req);
      else ok(n, req, res);
    };
    const r = await runCli(['--sink', url, '--batch-size', '100', '--retries', '6', '--stats'], seqLines(500));
    expect(r.code).toBe(0);
    expect(outcomes.slice(0, 4)).toEqual([503, 'reset', 503, 'reset']);
    expect(deliveredSeqs()).toEqual(range(500));
    const stats = statsOf(r.stderr);
    expect(stats.retried).toBeGreaterThanOrEqual(400); // four failed attempts at 100-line batches
    expect(stats).toMatchObject({ flushed: 500, deadLettered: 0 });
    expectBalanced(stats);
  });

  test('429 with Retry-After: the batch comes back and is delivered', async () => {
    behaviour = (n, req, res) => {
      if (n === 1) res.writeHead(429, { 'retry-after': '1' }).end();
      else ok(n, req, res);
    };
    const r = await runCli(['--sink', url, '--stats'], seqLines(50));
    expect(r.code).toBe(0);
    expect(outcomes).toEqual([429, 200]);
    expect(deliveredSeqs()).toEqual(range(50));
    expect(statsOf(r.stderr)).toMatchObject({ flushed: 50, retried: 50, deadLettered: 0 });
  });

  test('4xx (not 429): dead-lettered at once without retries, to --dead-letter; exit 1', async () => {
    behaviour = (_n, _req, res) => res.writeHead(400).end('bad request');
    const { dir, cleanup } = tempDir();
    try {
      const dlq = join(dir, 'dead.ndjson');
      const r = await runCli(
        ['--sink', url, '--batch-size', '100', '--retries', '5', '--dead-letter', dlq, '--stats'],
        seqLines(250),
      );
      expect(r.code).toBe(1);
      expect(outcomes).toEqual([400, 400, 400]); // one request per batch: no retries
      const stats = statsOf(r.stderr);
      expect(stats).toMatchObject({ flushed: 0, retried: 0, deadLettered: 250 });
      expectBalanced(stats);
      expect(r.stderr).toMatch(/250 records undeliverable, written to /);
      const entries = readFileSync(dlq, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(entries).toHaveLength(250);
      expect(entries.map((e) => (e['record'] as { seq: number }).seq)).toEqual(range(250));
      expect(entries[0]).toMatchObject({ line: 1, reason: 'undeliverable' });
      expect(String(entries[0]?.['error'])).toMatch(/400/);
    } finally {
      cleanup();
    }
  });

  test('a server that keeps failing: retries run out, the batch is dead-lettered, the rest still delivered', async () => {
    behaviour = (n, req, res) => {
      if (n <= 2) res.writeHead(500).end();
      else ok(n, req, res);
    };
    const r = await runCli(['--sink', url, '--batch-size', '10', '--retries', '1', '--stats'], seqLines(30));
    expect(r.code).toBe(1); // records were not delivered
    const stats = statsOf(r.stderr);
    expect(stats).toMatchObject({ flushed: 20, deadLettered: 10, retried: 10 });
    expectBalanced(stats);
    expect(deliveredSeqs()).toEqual(range(30).slice(10));
    expect(r.stderr).toMatch(/10 records undeliverable and discarded \(no --dead-letter given\)/);
  });
});
