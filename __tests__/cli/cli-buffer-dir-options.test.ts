/**
 * From --buffer-dir, --max-disk-bytes and --sync to the library's `durable` option: parsed values, the
 * segment size that always holds the longest valid line, and the codec that keeps each line's bytes as
 * they are (no copy on the way in, an owned copy on the way out).
 */
import fc from 'fast-check';
import { durableOptionsOf, minMaxDiskBytes } from '../../lib/cli/buffer-dir';
import { parseCliArgs, UsageError, type CliOptions } from '../../lib/cli/parse-args';
import { resolveDurableOptions } from '../../lib/core/durable-options';
import { ndjsonRecordCodec } from '../../lib';

function options(argv: string[]): CliOptions {
  const parsed = parseCliArgs(argv);
  if (parsed.command !== 'run') throw new Error('not a run');
  return parsed.options;
}

test('the flags land in the options; without --buffer-dir there is no durable option', () => {
  expect(options(['--buffer-dir', '/x', '--max-disk-bytes', '4194304', '--sync', 'always'])).toMatchObject({
    bufferDir: '/x',
    maxDiskBytes: 4194304,
    sync: 'always',
  });
  expect(durableOptionsOf(options([]))).toBeUndefined();
  const durable = durableOptionsOf(options(['--buffer-dir', '/x']));
  expect(durable).toMatchObject({ dir: '/x', maxBytes: 2 ** 30, segmentBytes: 64 * 2 ** 20 });
  expect(durable).not.toHaveProperty('sync'); // the library's default, 'batch'
  expect(durable?.codec).toBe(ndjsonRecordCodec);
});

test('every --max-disk-bytes the parser accepts gives segments the library accepts, each holding the longest valid line', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4 * 2 ** 20 }), fc.integer({ min: 0, max: 2 ** 34 }), (lineBytes, extra) => {
      const maxDisk = minMaxDiskBytes(lineBytes).bytes + extra;
      const o = options([
        '--buffer-dir',
        '/x',
        '--max-line-bytes',
        String(lineBytes),
        '--max-disk-bytes',
        String(maxDisk),
      ]);
      const durable = durableOptionsOf(o);
      const resolved = resolveDurableOptions(durable);
      expect(resolved?.segmentBytes).toBe(durable?.segmentBytes);
      expect((resolved?.segmentBytes as number) - 24).toBeGreaterThanOrEqual(lineBytes);
    }),
  );
});

test('one byte below the least --max-disk-bytes is a usage error naming why', () => {
  const least = minMaxDiskBytes(5000).bytes;
  expect(least).toBe(2 * (5000 + 24));
  expect(() =>
    options(['--buffer-dir', '/x', '--max-line-bytes', '5000', '--max-disk-bytes', String(least - 1)]),
  ).toThrow(UsageError);
  expect(
    options(['--buffer-dir', '/x', '--max-line-bytes', '5000', '--max-disk-bytes', String(least)]).maxDiskBytes,
  ).toBe(least);
});

test('ndjsonRecordCodec: the line bytes go to the log as they are, and come back as an owned copy with no line number', () => {
  const bytes = Buffer.from('{"a":1}');
  expect(ndjsonRecordCodec.encode({ line: 7, bytes })).toBe(bytes);
  const view = Buffer.from('xx{"a":1}yy').subarray(2, 9);
  const record = ndjsonRecordCodec.decode(view);
  expect(record).toEqual({ line: 0, bytes });
  view[0] = 0x20; // the view is the log's read buffer, reused: the record must not see it change
  expect(record.bytes.toString()).toBe('{"a":1}');
});
