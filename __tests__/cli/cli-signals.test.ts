import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chain, consumerReport, expectBalanced, statsOf, tempDir, waitForOutput, whenStalled } from '../helpers/cli';

/** A producer that would write 300k lines, the CLI, and a consumer that does not read until told to. */
function stuckChain(cliArgs: string[]) {
  return chain({
    lines: 300_000,
    cliArgs: ['--stats', '--max-buffer', '1000', ...cliArgs],
    consumer: [process.execPath, require.resolve('../fixtures/consume.js'), '0', '65536'],
    consumerEnv: { WAIT_FOR_SIGNAL: '1', KEEP_SEQS: '1' },
  });
}

describe('backpressure CLI: SIGINT / SIGTERM', () => {
  test('SIGTERM with a stuck sink: stop reading, wait --drain-timeout, dead-letter the rest, exit 143; nothing lost', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const dlq = join(dir, 'dead.ndjson');
      const c = stuckChain(['--drain-timeout', '300', '--dead-letter', dlq]);
      await whenStalled(c.produced); // the CLI is blocked: buffer full, consumer not reading
      c.cli.kill('SIGTERM');
      const cli = await c.cliResult;
      c.consumer.kill('SIGUSR1'); // now let the consumer read what reached the pipe
      const consumer = consumerReport(await c.consumerResult);
      await c.producerExit;

      expect(cli.code).toBe(143);
      expect(cli.stderr).toMatch(/SIGTERM: stopped reading; draining for up to 300 ms/);
      const stats = statsOf(cli.stderr);
      expectBalanced(stats);
      expect(stats.read).toBeLessThan(300_000);
      expect(stats.deadLettered).toBeGreaterThan(0);
      const entries = readFileSync(dlq, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { reason: string; record: { seq: number } });
      const dead = entries.filter((e) => e.reason === 'undeliverable');
      expect(dead).toHaveLength(stats.deadLettered);
      // A line cut in half by the stop is reported as truncated-at-stop (its bytes kept in the
      // dead-letter file), neither lost nor blamed as invalid.
      expect(entries.length - dead.length).toBe(stats.truncated);
      expect(entries.filter((e) => e.reason === 'truncated-at-stop')).toHaveLength(stats.truncated);
      expect(stats.truncated).toBeLessThanOrEqual(1);
      expect(stats.invalid).toBe(0);
      // Nothing vanished: every valid line read reached the consumer or the dead-letter file
      // (a batch cut off mid-write may be in both: at-least-once, never at-most-zero).
      expect(consumer.lines).toBeGreaterThanOrEqual(stats.flushed);
      const seen = new Set([...(consumer.seqs ?? []), ...dead.map((d) => d.record.seq)]);
      for (let seq = 0; seq < stats.valid; seq++) if (!seen.has(seq)) throw new Error(`seq ${seq} was lost`);
    } finally {
      cleanup();
    }
  });

  test('SIGINT with a sink that catches up: stop reading, deliver everything read, exit 130', async () => {
    const c = stuckChain(['--drain-timeout', '60000']);
    await whenStalled(c.produced);
    c.cli.kill('SIGINT');
    await waitForOutput(c.cli.stderr!, /draining/);
    c.consumer.kill('SIGUSR1');
    const [cli, consumerResult] = await Promise.all([c.cliResult, c.consumerResult]);
    await c.producerExit;
    expect(cli.code).toBe(130);
    const stats = statsOf(cli.stderr);
    expectBalanced(stats);
    expect(stats.read).toBeLessThan(300_000); // it stopped reading
    expect(stats).toMatchObject({ deadLettered: 0, dropped: 0, flushed: stats.valid });
    const consumer = consumerReport(consumerResult);
    expect(consumer.lines).toBe(stats.flushed);
    expect(consumer.seqs).toEqual(Array.from({ length: stats.flushed }, (_, i) => i));
  });

  test('a second signal exits without draining, and says how much was left', async () => {
    const c = stuckChain(['--drain-timeout', '60000']);
    await whenStalled(c.produced);
    c.cli.kill('SIGTERM');
    await waitForOutput(c.cli.stderr!, /draining/);
    c.cli.kill('SIGINT');
    const cli = await c.cliResult;
    c.consumer.kill('SIGKILL');
    await Promise.all([c.consumerResult, c.producerExit]);
    expect(cli.code).toBe(130);
    expect(cli.stderr).toMatch(/SIGINT: exiting now without draining; \d+ records neither delivered nor dead-lettered/);
    const stats = statsOf(cli.stderr);
    expect(stats.read).toBe(stats.valid + stats.invalid + stats.truncated);
    expect(stats.lost).toBeGreaterThan(0); // honest: what was held is reported as lost
    expect(stats.valid).toBe(stats.flushed + stats.dropped + stats.deadLettered + stats.lost);
    // A longer timeout: even a forced exit first gives the stuck consumer 5 s to take the rest of the line it was given.
  }, 60_000);
});
