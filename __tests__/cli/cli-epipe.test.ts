import { spawn } from 'node:child_process';
import { CLI, chain, collect, expectBalanced, PRODUCE, statsOf, tempDir } from '../helpers/cli';

describe('backpressure CLI: the consumer goes away (EPIPE)', () => {
  test('| head -n 5: stops reading, reports the closed sink, accounts for every line, exit 1 — no crash, no hang', async () => {
    const c = chain({ lines: 100_000, cliArgs: ['--stats'], consumer: ['head', '-n', '5'] });
    const [cli, head] = await Promise.all([c.cliResult, c.consumerResult]);
    await c.producerExit;
    expect(head.code).toBe(0);
    expect(head.stdout.trim().split('\n')).toHaveLength(5);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/sink stdout is gone: .*EPIPE/);
    expect(cli.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const stats = statsOf(cli.stderr);
    expectBalanced(stats);
    expect(stats.flushed).toBeGreaterThanOrEqual(1);
    expect(stats.deadLettered).toBeGreaterThan(0);
    expect(stats.read).toBeLessThan(100_000); // it stopped reading
  });

  test('via a shell pipeline, as users run it', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const script = `node "${PRODUCE}" 50000 | node "${CLI}" --stats 2>stats.txt | head -n 5 >/dev/null; cat stats.txt`;
      const r = await collect(spawn('sh', ['-c', script], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }));
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/sink stdout is gone/);
      expectBalanced(statsOf(r.stdout));
    } finally {
      cleanup();
    }
  });

  test('a consumer that closes its stdin mid-stream', async () => {
    const cli = spawn(process.execPath, [CLI, '--stats'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    cli.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    let received = 0;
    cli.stdout.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > 10_000) cli.stdout.destroy(); // read a little, then hang up
    });
    cli.stdin.on('error', () => undefined);
    let i = 0;
    const write = (): void => {
      while (i < 200_000) {
        if (!cli.stdin.write(`{"seq":${i++}}\n`)) {
          cli.stdin.once('drain', write);
          return;
        }
      }
      cli.stdin.end();
    };
    write();
    const code = await new Promise<number | null>((resolve) => cli.on('close', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr).toMatch(/sink stdout is gone/);
    expectBalanced(statsOf(stderr));
  });
});
