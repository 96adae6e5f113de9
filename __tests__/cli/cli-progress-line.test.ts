import { fitToWidth, ProgressLine, renderProgress, type ProgressSnapshot } from '../../lib/cli/progress';
import { runCli, seqLines } from '../helpers/cli';

const SNAPSHOT: ProgressSnapshot = {
  lines: 12_345,
  state: 'critical',
  bufferSize: 8000,
  bufferUtilization: 0.8,
  dropped: 1_234,
  deadLettered: 56,
};

const ESC = String.fromCharCode(0x1b);
const FRAME = new RegExp(`\r([^\r${ESC}]*)${ESC}\\[K`, 'g');

/** The frames written: the text between each `\r` and the erase-to-end-of-line that follows it. */
function frames(output: string): string[] {
  return [...output.matchAll(FRAME)].map((m) => m[1] as string);
}

describe('progress line', () => {
  test('every frame is cut to one column less than the terminal width, read at each redraw', () => {
    jest.useFakeTimers();
    try {
      let columns: number | undefined = 40;
      let written = '';
      let now = 0;
      const snapshot = { ...SNAPSHOT };
      const line = new ProgressLine({
        write: (t) => (written += t),
        snapshot: () => snapshot,
        columns: () => columns,
        now: () => now,
      });
      line.start();
      now += 250;
      snapshot.lines += 1000;
      jest.advanceTimersByTime(250);
      columns = 20; // the terminal was made narrower
      now += 250;
      jest.advanceTimersByTime(250);
      columns = undefined; // no width known: not cut
      now += 250;
      jest.advanceTimersByTime(250);
      line.stop();
      const drawn = frames(written);
      expect(drawn).toHaveLength(4);
      expect(drawn[0]).toBe(renderProgress(snapshot, 4000).slice(0, 39));
      expect(drawn[1]).toHaveLength(19);
      expect(drawn[2]).toBe(renderProgress(snapshot, 0));
      expect(written.endsWith('\n')).toBe(true);
    } finally {
      jest.useRealTimers();
    }
  });

  test('the final frame shows the average rate of the whole run, not the last (idle) interval', () => {
    jest.useFakeTimers();
    try {
      let written = '';
      let now = 1_000;
      const snapshot = { ...SNAPSHOT, lines: 0 };
      const line = new ProgressLine({ write: (t) => (written += t), snapshot: () => snapshot, now: () => now });
      line.start();
      snapshot.lines = 5_000;
      now += 250;
      jest.advanceTimersByTime(250); // 20k/s in this interval
      now += 2_250; // then nothing more arrives for 2.25 s
      jest.advanceTimersByTime(2_250);
      line.stop();
      const drawn = frames(written);
      expect(drawn[drawn.length - 2]).toContain('  0/s  '); // the idle interval itself
      expect(drawn[drawn.length - 1]).toContain('5,000 lines  2.0k/s  '); // 5000 lines in 2.5 s
    } finally {
      jest.useRealTimers();
    }
  });

  test('a slow trickle is shown with one decimal, not rounded to 0/s', () => {
    expect(renderProgress(SNAPSHOT, 0.4)).toContain('  0.4/s  ');
    expect(renderProgress(SNAPSHOT, 0)).toContain('  0/s  ');
  });

  test('fitToWidth leaves the last column free and ignores unusable widths', () => {
    expect(fitToWidth('abcdef', 4)).toBe('abc');
    expect(fitToWidth('abc', 4)).toBe('abc');
    expect(fitToWidth('abcdef', undefined)).toBe('abcdef');
    expect(fitToWidth('abcdef', 0)).toBe('abcdef');
  });

  test('the real CLI in a 40-column terminal (COLUMNS): every frame fits, the last one has a non-zero average rate', async () => {
    const r = await runCli(['--progress'], seqLines(2000), { env: { ...process.env, COLUMNS: '40' } });
    expect(r.code).toBe(0);
    const drawn = frames(r.stderr);
    expect(drawn.length).toBeGreaterThan(0);
    for (const frame of drawn) expect(frame.length).toBeLessThanOrEqual(39);
    const last = drawn[drawn.length - 1] as string;
    expect(last).toMatch(/^2,000 lines {2}\S+\/s/);
    const rate = /^2,000 lines {2}(\S+)\/s/.exec(last)?.[1] as string;
    expect(rate).not.toBe('0');
    expect(r.stderr.endsWith('\n')).toBe(true);
  });
});
