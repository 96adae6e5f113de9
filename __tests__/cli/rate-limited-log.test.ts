import fc from 'fast-check';
import { RateLimitedLog } from '../../lib/cli/rate-limited-log';

describe('RateLimitedLog', () => {
  afterEach(() => jest.useRealTimers());

  test('prints the first `burst` messages, then one summary per interval, by kind', () => {
    jest.useFakeTimers();
    const out: string[] = [];
    const log = new RateLimitedLog({
      write: (t) => out.push(t),
      noun: 'invalid lines',
      burst: 2,
      summaryIntervalMs: 1000,
    });
    const built: string[] = [];
    const message = (text: string) => () => {
      built.push(text);
      return text;
    };
    log.log('a', message('one'));
    log.log('a', message('two'));
    log.log('a', message('three'));
    log.log('b', message('four'));
    expect(out).toEqual(['backpressure: one\n', 'backpressure: two\n']);
    expect(built).toEqual(['one', 'two']); // suppressed messages are never even built
    jest.advanceTimersByTime(1000);
    expect(out[2]).toBe('backpressure: 2 more invalid lines (a: 1, b: 1)\n');
    jest.advanceTimersByTime(5000);
    expect(out).toHaveLength(3); // quiet: no empty summaries
    log.log('b', message('five'));
    log.close();
    expect(out[3]).toBe('backpressure: 1 more invalid lines (b: 1)\n');
    expect(jest.getTimerCount()).toBe(0);
  });

  test('every message is either printed or counted in exactly one summary (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('x', 'y', 'z'), { maxLength: 200 }),
        fc.integer({ min: 0, max: 20 }),
        (kinds, burst) => {
          jest.useFakeTimers();
          const out: string[] = [];
          const log = new RateLimitedLog({ write: (t) => out.push(t), noun: 'n', burst });
          kinds.forEach((kind, i) => {
            log.log(kind, () => 'msg');
            if (i % 37 === 0) jest.advanceTimersByTime(1000);
          });
          log.close();
          jest.useRealTimers();
          const printed = out.filter((l) => l === 'backpressure: msg\n').length;
          const summarized = out.reduce((sum, l) => sum + Number(/(\d+) more n/.exec(l)?.[1] ?? 0), 0);
          expect(printed).toBe(Math.min(burst, kinds.length));
          expect(printed + summarized).toBe(kinds.length);
        },
      ),
      { numRuns: 100 },
    );
  });
});
