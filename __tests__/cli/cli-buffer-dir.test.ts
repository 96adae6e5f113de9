/**
 * `--buffer-dir`: records go through a crash-safe log on disk before they are delivered. Every line
 * arrives, in order, under each --sync mode; a run that cannot deliver leaves what it holds in the
 * directory, and the next run on it delivers that backlog first (with empty input, only that, exit 0);
 * records that come back damaged are counted, reported and kept in --dead-letter as raw bytes; bad
 * flag values are usage errors before anything is created; a directory in use is a one-line error
 * that reads nothing. --stats balances: valid + recovered === flushed + dropped + deadLettered +
 * corrupt + leftOnDisk.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collect, expectBalanced, runCli, seqLines, seqsOf, spawnCli, statsOf, tempDir } from '../helpers/cli';
import { damageRecord, deliveredSeqs, segmentFiles, span, until } from '../helpers/cli-buffer-dir';

let dir: string;
let cleanup: () => void;
let buf: string;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('bp-bufdir-'));
  buf = join(dir, 'buf');
});
afterEach(() => cleanup());

/**
 * A first run whose sink goes away after `take` lines (`head` exits): it stops reading and leaves
 * what it had not delivered in the directory. Returns its stats.
 */
/**
 * Lines padded to ~330 bytes: 1,000 of them are far more than a pipe (64 KiB) and `head`'s one read can take,
 * so the sink is gone before the CLI has written them all, however the processes are scheduled (with bare
 * `{"seq":n}` lines the whole input fitted in the pipe, and a slow `head` let every line be "delivered").
 */
function paddedLines(to: number): string {
  const pad = 'x'.repeat(300);
  let out = '';
  for (let i = 0; i < to; i++) out += `{"seq":${i},"pad":"${pad}"}\n`;
  return out;
}

async function leaveBacklog(lines: number, take: number): Promise<ReturnType<typeof statsOf>> {
  const out = join(dir, 'first.ndjson');
  const r = await runCli(
    ['--buffer-dir', buf, '--sink', `exec:head -n ${take} > ${out}`, '--batch-size', '10', '--stats'],
    paddedLines(lines),
  );
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/is gone/);
  const stats = statsOf(r.stderr);
  expectBalanced(stats);
  expect(stats.leftOnDisk).toBeGreaterThan(0);
  expect(stats.itemsOnDisk).toBe(stats.leftOnDisk);
  expect(r.stderr).toContain(`${stats.leftOnDisk} records left in --buffer-dir ${buf}`);
  expect(deliveredSeqs(out)).toEqual(span(0, take));
  return stats;
}

describe('backpressure --buffer-dir', () => {
  test.each([
    ['batch', 5000],
    ['none', 5000],
    ['always', 300],
  ])('--sync %s: every line delivered byte for byte, in order; the directory is left empty', async (sync, lines) => {
    const input = seqLines(lines);
    const r = await runCli(['--buffer-dir', buf, '--sync', sync, '--max-buffer', '200', '--stats'], input);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(input);
    const stats = statsOf(r.stderr);
    expectBalanced(stats);
    expect(stats).toMatchObject({
      read: lines,
      flushed: lines,
      recovered: 0,
      corrupt: 0,
      leftOnDisk: 0,
      itemsOnDisk: 0,
      bytesOnDisk: 0,
    });
    expect(segmentFiles(buf)).toEqual([]);
  });

  test('without --buffer-dir the summary has no --buffer-dir keys', async () => {
    const r = await runCli(['--stats'], seqLines(3));
    const stats = statsOf(r.stderr);
    for (const key of ['recovered', 'corrupt', 'leftOnDisk', 'itemsOnDisk', 'bytesOnDisk']) {
      expect(stats).not.toHaveProperty(key);
    }
  });

  test('a sink that goes away leaves the rest on disk; the next run delivers that backlog first, then its own input', async () => {
    const first = await leaveBacklog(3000, 5);
    const backlog = first.leftOnDisk as number;
    // What it read and neither delivered nor left on disk: the records the dead pipe had taken. (It may stop
    // reading before the end of its input once the sink is gone: what it read is `valid`.)
    const read = first.valid;
    expect(first.flushed + backlog).toBe(read);

    const r = await runCli(['--buffer-dir', buf, '--stats'], seqLines(4000, 3000));
    expect(r.code).toBe(0);
    expect(seqsOf(r.stdout)).toEqual([...span(read - backlog, read), ...span(3000, 4000)]);
    const stats = statsOf(r.stderr);
    expectBalanced(stats);
    expect(stats).toMatchObject({ read: 1000, recovered: backlog, flushed: backlog + 1000, itemsOnDisk: 0 });

    const again = await runCli(['--buffer-dir', buf, '--stats'], '');
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('');
    expect(statsOf(again.stderr)).toMatchObject({ read: 0, recovered: 0, flushed: 0 });
  });

  test('with empty input (< /dev/null) it delivers just the backlog and exits 0', async () => {
    const first = await leaveBacklog(2000, 3);
    const r = await runCli(['--buffer-dir', buf, '--stats'], '');
    expect(r.code).toBe(0);
    expect(seqsOf(r.stdout)).toEqual(span(first.valid - (first.leftOnDisk as number), first.valid));
    const stats = statsOf(r.stderr);
    expectBalanced(stats);
    expect(stats).toMatchObject({ read: 0, recovered: first.leftOnDisk, leftOnDisk: 0, itemsOnDisk: 0 });
    expect(segmentFiles(buf)).toEqual([]);
  });

  test('a record damaged on disk is counted, reported, kept in --dead-letter as raw bytes, and the rest delivered in order (exit 1)', async () => {
    const first = await leaveBacklog(2000, 3);
    const backlog = first.leftOnDisk as number;
    const damagedSeq = first.valid - Math.floor(backlog / 2); // a record in the middle of the backlog
    const original = damageRecord(buf, damagedSeq);
    expect(original).toBe(paddedLines(damagedSeq + 1).split('\n')[damagedSeq]);

    const dlq = join(dir, 'dead.ndjson');
    const r = await runCli(['--buffer-dir', buf, '--dead-letter', dlq, '--stats'], '');
    expect(r.code).toBe(1);
    expect(seqsOf(r.stdout)).toEqual(span(first.valid - backlog, first.valid).filter((seq) => seq !== damagedSeq));
    const stats = statsOf(r.stderr);
    expectBalanced(stats);
    expect(stats).toMatchObject({ recovered: backlog, corrupt: 1, flushed: backlog - 1, deadLettered: 0 });
    expect(r.stderr).toMatch(/--buffer-dir: 1 damaged record\(s\) skipped: .*\(raw bytes in .*dead\.ndjson\)/);
    expect(r.stderr).toContain(`1 records in --buffer-dir were damaged, their raw bytes written to ${dlq}`);
    const entries = readFileSync(dlq, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ reason: 'corrupt', code: 'ERR_DURABLE_CORRUPT_RECORD', count: 1 });
    // The bytes as found on disk: the line with its one changed digit.
    expect(String(entries[0]?.['raw'])).not.toBe(original);
    expect(String(entries[0]?.['raw'])).toHaveLength(original.length);
    // Skipped for good: the next run finds nothing.
    const again = await runCli(['--buffer-dir', buf, '--stats'], '');
    expect(again.code).toBe(0);
    expect(statsOf(again.stderr)).toMatchObject({ recovered: 0, corrupt: 0 });
  });

  test('without --dead-letter a damaged record is counted and reported as skipped', async () => {
    const first = await leaveBacklog(1000, 2);
    damageRecord(buf, 999);
    const r = await runCli(['--buffer-dir', buf, '--stats'], '');
    expect(r.code).toBe(1);
    const stats = statsOf(r.stderr);
    expectBalanced(stats);
    expect(stats).toMatchObject({ recovered: first.leftOnDisk, corrupt: 1 });
    expect(r.stderr).toContain('1 records in --buffer-dir were damaged and skipped (no --dead-letter given)');
  });

  test.each([
    [['--max-disk-bytes', '10000000'], /--max-disk-bytes only applies with --buffer-dir DIR/],
    [['--sync', 'always'], /--sync only applies with --buffer-dir DIR/],
    [['--buffer-dir', '@', '--sync', 'sometimes'], /--sync must be one of always\|batch\|none, got 'sometimes'/],
    [['--buffer-dir', ''], /--buffer-dir must not be empty/],
    [
      ['--buffer-dir', '@', '--max-disk-bytes', '100000'],
      /--max-disk-bytes is out of range: must be an integer >= 2097200 \(two segments of --max-line-bytes \+ 24\), got '100000'/,
    ],
    [
      ['--buffer-dir', '@', '--max-disk-bytes', '-5'],
      /--max-disk-bytes is out of range: must be an integer >= 2097200 .*got '-5'/,
    ],
    [['--buffer-dir', '@', '--max-disk-bytes', '1e9'], /--max-disk-bytes must be an integer >= 2097200/],
    [
      ['--buffer-dir', '@', '--max-line-bytes', '100', '--max-disk-bytes', '2000'],
      /--max-disk-bytes is out of range: must be an integer >= 2048/,
    ],
    [
      ['--buffer-dir', '@', '--max-line-bytes', '900000000'],
      /--max-line-bytes 900000000 needs --max-disk-bytes of at least 1800000048 .* the default is 1073741824/,
    ],
  ])('%j: one line, exit 2, no directory, sink or dead-letter file created', async (args, message) => {
    const out = join(dir, 'out.ndjson');
    const dlq = join(dir, 'dead.ndjson');
    const withDir = args.map((arg) => (arg === '@' ? buf : arg));
    const r = await runCli([...withDir, '--sink', `file:${out}`, '--dead-letter', dlq, '--stats'], seqLines(10));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.split('\n')).toHaveLength(2);
    expect(existsSync(buf)).toBe(false);
    expect(existsSync(out)).toBe(false);
    expect(existsSync(dlq)).toBe(false);
  });

  test('--max-line-bytes 100 lets --max-disk-bytes go down to 2048 (two 1 KiB segments), and lines still arrive', async () => {
    const input = seqLines(500);
    const r = await runCli(
      ['--buffer-dir', buf, '--max-line-bytes', '100', '--max-disk-bytes', '2048', '--stats'],
      input,
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(input);
    expectBalanced(statsOf(r.stderr));
  });

  test('a directory in use by another run: one line naming the holder, exit 1, no sink or dead-letter file created, nothing read', async () => {
    const holder = spawnCli(['--buffer-dir', buf]);
    const holderResult = collect(holder);
    try {
      holder.stdin?.write('{"seq":0}\n');
      let holderOut = '';
      holder.stdout?.on('data', (chunk: Buffer) => (holderOut += chunk.toString()));
      await until(() => holderOut === '{"seq":0}\n', 'the first run to deliver its first line');

      const out = join(dir, 'out.ndjson');
      const dlq = join(dir, 'dead.ndjson');
      // Its stdin is a file the test shares the open file description of: where the offset stands after it
      // exited says how much it read.
      const inputPath = join(dir, 'input.ndjson');
      writeFileSync(inputPath, seqLines(3));
      const input = openSync(inputPath, 'r');
      const second = spawnCli(['--buffer-dir', buf, '--sink', `file:${out}`, '--dead-letter', dlq, '--stats'], {
        stdio: [input, 'pipe', 'pipe'],
      });
      const r = await collect(second);
      const unread = Buffer.alloc(1024);
      const left = readSync(input, unread, 0, unread.length, null);
      closeSync(input);
      expect(unread.toString('utf8', 0, left)).toBe(seqLines(3)); // nothing was read
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `^backpressure: --buffer-dir: log directory .* is locked by process ${holder.pid}\\b.*; one backpressure per directory\\n$`,
        ),
      );
      expect(r.stdout).toBe('');
      expect(existsSync(out)).toBe(false);
      expect(existsSync(dlq)).toBe(false);

      // The holder is untouched: it goes on and finishes normally.
      holder.stdin?.end('{"seq":1}\n');
      const h = await holderResult;
      expect(h.code).toBe(0);
      expect(seqsOf(h.stdout)).toEqual([0, 1]);
    } finally {
      if (holder.exitCode === null && holder.signalCode === null) holder.kill('SIGKILL'); // a failure half-way must not leave it running
    }
  });

  test('a directory that cannot be created is one line, exit 1, and no sink is created', async () => {
    const out = join(dir, 'out.ndjson');
    const notADir = join(dir, 'file');
    await runCli(['--sink', `file:${notADir}`], '{"a":1}\n'); // a regular file where the directory would go
    const r = await runCli(['--buffer-dir', join(notADir, 'buf'), '--sink', `file:${out}`], seqLines(3));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^backpressure: cannot open --buffer-dir .*ENOTDIR.*\n$/);
    expect(existsSync(out)).toBe(false);
  });

  test('a priority composition through --buffer-dir: every line delivered, the summary balances', async () => {
    const input = seqLines(3000)
      .split('\n')
      .filter((l) => l !== '')
      .map((l, i) => l.replace('}', `,"priority":${i % 3}}`))
      .join('\n');
    const r = await runCli(
      ['--buffer-dir', buf, '--strategy', 'priority', '--priority-field', 'priority', '--stats'],
      `${input}\n`,
    );
    expect(r.code).toBe(0);
    const stats = statsOf(r.stderr);
    expectBalanced(stats);
    expect(stats.flushed + stats.dropped).toBe(3000);
    expect(seqsOf(r.stdout)).toEqual([...seqsOf(r.stdout)].sort((a, b) => a - b));
  });
});
