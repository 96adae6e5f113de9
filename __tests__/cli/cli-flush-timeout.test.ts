import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { expectBalanced, runCli, seqLines, statsOf, tempDir } from '../helpers/cli';
import { closeServer, listenLocal } from '../helpers/local-server';

// --flush-timeout: a collector that accepts the connection and never answers
// holds each attempt only that long; after the retries the batch is
// dead-lettered, and the run ends (exit 1) instead of hanging for minutes.
test('--flush-timeout aborts hung requests; after --retries the batch is dead-lettered and the CLI exits 1', async () => {
  let requests = 0;
  const server = http.createServer(() => {
    requests++; // never answer
  });
  const port = await listenLocal(server);
  const { dir, cleanup } = tempDir('bp-cli-flush-timeout-');
  try {
    const url = `http://127.0.0.1:${port}/ingest`;
    const dlq = join(dir, 'dead.ndjson');
    const r = await runCli(
      [
        '--sink',
        url,
        '--flush-timeout',
        '200',
        '--retries',
        '1',
        '--batch-size',
        '10',
        '--dead-letter',
        dlq,
        '--stats',
      ],
      seqLines(10),
    );
    const stats = statsOf(r.stderr);
    expectBalanced(stats);
    expect(r.code).toBe(1);
    expect(stats).toMatchObject({ read: 10, flushed: 0, deadLettered: 10, retried: 10 });
    expect(requests).toBe(2); // the first attempt and one retry, each aborted after 200 ms
    const dead = readFileSync(dlq, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { reason: string; record: { seq: number } });
    expect(dead.map((d) => d.record.seq)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(dead[0]?.reason).toBe('undeliverable');
  } finally {
    cleanup();
    await closeServer(server);
  }
});
