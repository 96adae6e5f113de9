/**
 * `--dead-letter` that cannot be written (a full disk; here /dev/full): what did not reach the file
 * is not counted as dead-lettered but as lost, the run says why, and it exits 1.
 */
import { createServer, type Server } from 'node:http';
import { runCli, seqLines, statsOf } from '../helpers/cli';
import { closeServer, listenLocal } from '../helpers/local-server';

let server: Server;
let url: string;
let requests = 0;

beforeAll(async () => {
  // The first batch is accepted; every later one is refused for good (400: dead-lettered at once).
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(requests === 1 ? 200 : 400).end('bad batch');
    });
  });
  url = `http://127.0.0.1:${await listenLocal(server)}/ingest`;
});

afterAll(() => closeServer(server));

beforeEach(() => {
  requests = 0;
});

describe('backpressure CLI: a dead-letter file that cannot be written', () => {
  test('records the sink gave up on and /dev/full refused are lost, not dead-lettered: exit 1, the reason on stderr', async () => {
    const r = await runCli(
      [
        '--sink',
        url,
        '--batch-size',
        '10',
        '--flush-interval',
        '0',
        '--retries',
        '0',
        '--dead-letter',
        '/dev/full',
        '--stats',
      ],
      seqLines(30),
    );
    expect(r.code).toBe(1);
    const stats = statsOf(r.stderr);
    expect(stats).toMatchObject({ read: 30, valid: 30, flushed: 10, dropped: 0, deadLettered: 0, lost: 20 });
    expect(stats.valid).toBe(stats.flushed + stats.dropped + stats.deadLettered + stats.lost);
    expect(r.stderr).toMatch(/cannot write to --dead-letter file \/dev\/full: ENOSPC/);
    expect(r.stderr).toMatch(/20 records were neither delivered nor dead-lettered/);
    expect(r.stderr).not.toMatch(/records undeliverable, written to/);
  });

  test('a sink that is gone and a full dead-letter file: every record lost, none claimed as dead-lettered', async () => {
    const r = await runCli(
      ['--sink', 'file:/nonexistent-dir/out.ndjson', '--dead-letter', '/dev/full', '--stats'],
      seqLines(30),
    );
    expect(r.code).toBe(1);
    const stats = statsOf(r.stderr);
    expect(stats).toMatchObject({ read: 30, valid: 30, flushed: 0, deadLettered: 0, lost: 30 });
    expect(r.stderr).toMatch(/cannot write to --dead-letter file \/dev\/full/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  test('invalid lines that cannot be dead-lettered fail the run (exit 1), and every valid line is still delivered', async () => {
    const r = await runCli(['--dead-letter', '/dev/full', '--stats'], `${seqLines(5)}not json\n${seqLines(50_000, 5)}`);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(seqLines(50_000));
    expect(statsOf(r.stderr)).toMatchObject({
      read: 50_001,
      valid: 50_000,
      invalid: 1,
      flushed: 50_000,
      deadLettered: 0,
      lost: 0,
    });
    expect(r.stderr).toMatch(/cannot write to --dead-letter file \/dev\/full/);
  });
});
