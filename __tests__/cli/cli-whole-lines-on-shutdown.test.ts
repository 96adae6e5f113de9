/**
 * An NDJSON consumer only ever receives whole lines from the CLI, even when the CLI is stopped
 * (SIGTERM, SIGINT, SIGHUP) while the consumer is slow and a batch is half-way into the pipe.
 *
 * Setup: stdin is a file of multi-byte-character-heavy records (far more than can be delivered
 * before the signal), stdout is a socket pair to a slow reader (fixtures/fault-consumer.js, reading
 * 1 KiB every 20 ms), `--drain-timeout 1000`. After the signal the CLI drains for 1 s, gives up on
 * the rest and exits; then the reader is let go at full speed and reads whatever the pipe still
 * holds. Every byte it got must split into lines that parse as JSON — no record cut off, none cut
 * inside a character — and every record read is in its output or in the dead-letter file.
 * SIGHUP (the terminal went away) is handled like SIGTERM; SIGQUIT exits at once, like a second
 * signal, but still finishes the line being written.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, collect, expectBalanced, statsOf, tempDir, type CliResult } from '../helpers/cli';
import { FAULT_CONSUMER, lineCount, waitUntil } from '../helpers/faults';

const RECORDS = 20_000;
/** 5 characters of 2, 3, 4, 3 and 3 bytes: a cut at a random byte lands inside a character 4 times in 5. */
const CHARS = 'ü€😀漢字';

function record(seq: number): string {
  return `${JSON.stringify({ seq, text: CHARS.repeat(40 + (seq % 50)) })}\n`;
}

interface DeadEntry {
  line: number;
  reason: string;
  record?: { seq: number };
}

interface SlowRun {
  r: CliResult;
  /** Records the consumer got, in order; each checked to be a whole record, byte for byte. */
  consumed: number[];
  dead: DeadEntry[];
}

/**
 * The CLI between a file of RECORDS multi-byte records and a slow consumer; `signal` once the
 * consumer has read 50 lines. Returns once the CLI has exited and the consumer has read everything
 * the pipe still held.
 */
async function stopWithSlowConsumer(dir: string, signal: NodeJS.Signals): Promise<SlowRun> {
  const out = join(dir, 'consumed.ndjson');
  const inputPath = join(dir, 'input.ndjson');
  let text = '';
  for (let seq = 0; seq < RECORDS; seq++) text += record(seq);
  writeFileSync(inputPath, text);
  const dlq = join(dir, 'dead.ndjson');
  writeFileSync(`${out}.slow`, '');
  try {
    const consumer = spawn(process.execPath, [FAULT_CONSUMER, out, '20', '1024'], {
      stdio: ['pipe', 'ignore', 'inherit'],
    });
    const consumerExit = new Promise<void>((resolve) => consumer.on('close', () => resolve()));
    const inputFd = openSync(inputPath, 'r');
    const cli = spawn(process.execPath, [CLI, '--drain-timeout', '1000', '--stats', '--dead-letter', dlq], {
      stdio: [inputFd, consumer.stdin!, 'pipe'],
    });
    closeSync(inputFd);
    consumer.stdin!.destroy(); // the test holds no end of the pipe: the consumer sees EOF when the CLI is gone
    const result = collect(cli);

    await waitUntil('the consumer to have read 50 lines', () => lineCount(out) >= 50);
    cli.kill(signal);
    const r = await result;
    rmSync(`${out}.slow`, { force: true }); // now read what the pipe still holds, at full speed
    await consumerExit;

    // No partial last line: the consumer saw EOF right after a newline.
    expect(existsSync(`${out}.partial`)).toBe(false);
    // Every line it read is a whole record, byte for byte.
    const lines = readFileSync(out, 'utf8').split('\n');
    expect(lines.pop()).toBe('');
    const consumed = lines.map((line, i) => {
      const seq = (JSON.parse(line) as { seq: number }).seq;
      if (`${line}\n` !== record(seq)) throw new Error(`record ${seq} arrived changed`);
      if (seq !== i) throw new Error(`line ${i} holds record ${seq}: out of order or a gap`);
      return seq;
    });
    const dead = existsSync(dlq)
      ? readFileSync(dlq, 'utf8')
          .trim()
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as DeadEntry)
      : [];
    return { r, consumed, dead };
  } finally {
    rmSync(`${out}.slow`, { force: true });
  }
}

describe('backpressure CLI: the consumer only ever gets whole lines', () => {
  test.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
    ['SIGHUP', 129],
  ] as const)(
    '%s with a slow consumer: exit %i, every line the consumer read parses, every record accounted for',
    async (signal, exitCode) => {
      const { dir, cleanup } = tempDir('bp-whole-lines-');
      try {
        const { r, consumed, dead } = await stopWithSlowConsumer(dir, signal);
        expect(r.code).toBe(exitCode);
        expect(r.stderr).toMatch(new RegExp(`${signal}: stopped reading; draining for up to 1000 ms`));
        const stats = statsOf(r.stderr);
        expectBalanced(stats);
        expect(stats.read).toBeLessThan(RECORDS); // it stopped reading
        expect(stats.deadLettered).toBeGreaterThan(0); // the drain deadline passed with records still to deliver
        expect(consumed.length).toBeGreaterThanOrEqual(stats.flushed);

        // Every record read is delivered or dead-lettered; the only overlap is the batch the deadline cut off.
        const undeliverable = dead.filter((e) => e.reason === 'undeliverable').map((e) => e.record!.seq);
        expect(undeliverable).toHaveLength(stats.deadLettered);
        expect(dead.filter((e) => e.reason === 'truncated-at-stop')).toHaveLength(stats.truncated);
        expect(stats.invalid).toBe(0);
        const seen = new Set([...consumed, ...undeliverable]);
        for (let seq = 0; seq < stats.valid; seq++) if (!seen.has(seq)) throw new Error(`record ${seq} was lost`);
      } finally {
        cleanup();
      }
    },
  );

  test('SIGQUIT (Ctrl-\\): exits at once without draining (131), reports what it leaves behind — and still cuts no line', async () => {
    const { dir, cleanup } = tempDir('bp-whole-lines-');
    try {
      const { r, consumed } = await stopWithSlowConsumer(dir, 'SIGQUIT');
      expect(r.code).toBe(131);
      expect(r.stderr).not.toMatch(/stopped reading; draining/);
      const stats = statsOf(r.stderr);
      expect(r.stderr).toMatch(
        new RegExp(`SIGQUIT: exiting now without draining; ${stats.lost} records neither delivered nor dead-lettered`),
      );
      expect(stats.lost).toBeGreaterThan(0); // the buffer was full: it is reported, not silently dropped
      expect(stats.valid).toBe(stats.flushed + stats.dropped + stats.deadLettered + stats.lost);
      expect(consumed.length).toBeGreaterThanOrEqual(stats.flushed);
    } finally {
      cleanup();
    }
  });
});
