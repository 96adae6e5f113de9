import { MAX_TIMER_MS } from '../../lib';
import { parseCliArgs, UsageError } from '../../lib/cli/parse-args';
import { runCli } from '../helpers/cli';

// The CLI flags that end up in a timer are bounded by what a Node timer can wait (MAX_TIMER_MS):
// a larger value is a usage error (exit 2, one line), never a 1 ms timer nor a stack trace.

const TIMER_FLAGS = ['--flush-interval', '--flush-timeout', '--drain-timeout'];

test.each(TIMER_FLAGS)('%s above MAX_TIMER_MS is a one-line usage error naming the bound', (flag) => {
  expect(() => parseCliArgs([flag, String(MAX_TIMER_MS + 1)])).toThrow(UsageError);
  expect(() => parseCliArgs([flag, '3000000000'])).toThrow(`${flag} is out of range: must be an integer from `);
  expect(() => parseCliArgs([flag, '3000000000'])).toThrow(` to ${MAX_TIMER_MS}, got '3000000000'`);
});

test.each(TIMER_FLAGS)('%s at MAX_TIMER_MS is accepted', (flag) => {
  expect(() => parseCliArgs([flag, String(MAX_TIMER_MS)])).not.toThrow();
});

test('the built CLI exits 2 with the usage line, no stack trace', async () => {
  const result = await runCli(['--flush-timeout', '3000000000'], '{"a":1}\n');
  expect(result.code).toBe(2);
  expect(result.stderr).toMatch(
    /^backpressure: --flush-timeout is out of range: must be an integer from 1 to 2147483647, got '3000000000'/,
  );
  expect(result.stderr).not.toContain('    at ');
  expect(result.stdout).toBe('');
});
