import { chain, consumerReport, expectBalanced, statsOf, whenStalled } from '../helpers/cli';

/**
 * A producer writing as fast as the pipe takes it, the CLI, and a slow consumer,
 * all separate processes joined by OS pipes.
 */
describe('backpressure CLI: strategies end to end, with a slow consumer', () => {
  test('block: stops reading while the consumer is behind (the producer is held back), then delivers every line in order', async () => {
    const lines = 200_000; // ~12 MB: far more than the pipes and the CLI's buffer can hold
    const c = chain({
      lines,
      cliArgs: ['--stats', '--max-buffer', '1000'],
      consumer: [process.execPath, require.resolve('../fixtures/consume.js'), '0', '65536'],
      consumerEnv: { WAIT_FOR_SIGNAL: '1' },
    });
    // The consumer reads nothing yet. If the CLI kept reading, the producer would finish;
    // with block it must stall once the pipes and the bounded buffer are full.
    const stalledAt = await whenStalled(c.produced);
    expect(stalledAt).toBeGreaterThan(0);
    expect(stalledAt).toBeLessThan(lines / 2);
    c.consumer.kill('SIGUSR1');
    const [cli, consumer, producerCode] = await Promise.all([c.cliResult, c.consumerResult, c.producerExit]);
    expect(producerCode).toBe(0);
    expect(cli.code).toBe(0);
    const stats = statsOf(cli.stderr);
    expect(stats).toMatchObject({ read: lines, valid: lines, flushed: lines, dropped: 0, deadLettered: 0 });
    expectBalanced(stats);
    expect(consumerReport(consumer)).toEqual({ lines, increasing: true });
  });

  test('block with --max-buffer-bytes: the byte bound holds the reader back the same way, nothing dropped', async () => {
    const lines = 30_000;
    const c = chain({
      lines,
      cliArgs: ['--stats', '--max-buffer-bytes', '8192', '--batch-size', '20'],
      consumer: [process.execPath, require.resolve('../fixtures/consume.js'), '1', '4096'],
    });
    const [cli, consumer] = await Promise.all([c.cliResult, c.consumerResult, c.producerExit]);
    expect(cli.code).toBe(0);
    expect(statsOf(cli.stderr)).toMatchObject({ read: lines, flushed: lines, dropped: 0, deadLettered: 0, lost: 0 });
    expect(consumerReport(consumer)).toEqual({ lines, increasing: true });
  });

  test.each([
    ['drop-oldest', [] as string[]],
    ['drop-newest', [] as string[]],
    ['sample', ['--sample-rate', '4']],
    ['priority', ['--priority-field', 'priority']],
  ])('%s: keeps reading at full speed and accounts for every drop', async (strategy, extra) => {
    const lines = 40_000;
    const c = chain({
      lines,
      cliArgs: ['--stats', '--strategy', strategy, '--max-buffer', '200', '--batch-size', '50', ...extra],
      // 4 KiB per read, 2 ms pause: a few MB/s at most, far below what the CLI reads.
      consumer: [process.execPath, require.resolve('../fixtures/consume.js'), '2', '4096'],
      consumerEnv: { KEEP_SEQS: '1' },
    });
    const [cli, consumer, producerCode] = await Promise.all([c.cliResult, c.consumerResult, c.producerExit]);
    expect(producerCode).toBe(0);
    expect(cli.code).toBe(0); // drops under a drop strategy are reported, not failures
    const stats = statsOf(cli.stderr);
    expectBalanced(stats);
    expect(stats.read).toBe(lines);
    expect(stats.dropped).toBeGreaterThan(0);
    expect(stats.deadLettered).toBe(0);
    const report = consumerReport(consumer);
    // What the consumer received is exactly what the CLI counted as flushed, in input order.
    expect(report.lines).toBe(stats.flushed);
    expect(report.increasing).toBe(true);
    if (strategy === 'priority') {
      // Shedding starts with the least important: the top class (priority 3, a quarter of the
      // input) is over-represented in what got through.
      const top = (report.seqs ?? []).filter((seq) => seq % 4 === 3).length;
      expect(top / report.lines).toBeGreaterThan(0.25);
    }
  });
});
