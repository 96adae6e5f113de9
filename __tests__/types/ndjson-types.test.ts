/**
 * Type tests of the NDJSON splitter's public surface (`lib/index.ts`): its options, the records it
 * produces, its `'invalid'` payload and metrics. `npm run typecheck` checks the types; Jest runs the
 * file, checking that the records and payloads the splitter really emits have those shapes.
 */
import { Readable } from 'node:stream';
import { expectTypeOf } from 'expect-type';
import {
  createNdjsonSplitter,
  InvalidPolicies,
  InvalidReasons,
  NdjsonSplitter,
  type InvalidLine,
  type InvalidPolicy,
  type InvalidReason,
  type NdjsonRecord,
  type NdjsonSplitterMetrics,
  type NdjsonSplitterOptions,
} from '../../lib';

test('records, invalid lines and metrics have the documented types', () => {
  expectTypeOf<NdjsonRecord>().toEqualTypeOf<{ line: number; bytes: Buffer; value?: unknown }>();
  expectTypeOf<InvalidLine>().toEqualTypeOf<{
    line: number;
    reason: InvalidReason;
    excerpt: string;
    bytes?: Buffer;
  }>();
  expectTypeOf<InvalidReason>().toEqualTypeOf<'invalid-json' | 'line-too-long' | 'invalid-utf8'>();
  expectTypeOf<InvalidPolicy>().toEqualTypeOf<'skip' | 'fail'>();
  expectTypeOf(InvalidPolicies.FAIL).toEqualTypeOf<'fail'>();
  expectTypeOf(InvalidReasons.LINE_TOO_LONG).toEqualTypeOf<'line-too-long'>();
  expectTypeOf<NdjsonSplitterMetrics['invalidByReason']>().toEqualTypeOf<Record<InvalidReason, number>>();
  expectTypeOf(createNdjsonSplitter).returns.toEqualTypeOf<NdjsonSplitter>();
  expectTypeOf(createNdjsonSplitter).parameter(0).toEqualTypeOf<NdjsonSplitterOptions | undefined>();
  // @ts-expect-error not a policy
  const badPolicy: NdjsonSplitterOptions = { onInvalid: 'explode' };
  // @ts-expect-error maxLineBytes is a number
  const badMax: NdjsonSplitterOptions = { maxLineBytes: '1mb' };
  for (const options of [badPolicy, badMax]) expect(() => createNdjsonSplitter(options)).toThrow();
});

test('the splitter emits records and invalid lines of those shapes', async () => {
  const splitter = createNdjsonSplitter({ keepValue: true, maxLineBytes: 64 });
  const invalid: InvalidLine[] = [];
  splitter.on('invalid', (event: InvalidLine) => invalid.push(event));
  const records: NdjsonRecord[] = [];
  Readable.from([Buffer.from('{"a":1}\nnot json\n\n[2]\n')]).pipe(splitter);
  for await (const record of splitter) records.push(record as NdjsonRecord);
  expect(records.map(({ line, bytes, value }) => ({ line, text: bytes.toString(), value }))).toEqual([
    { line: 1, text: '{"a":1}', value: { a: 1 } },
    { line: 4, text: '[2]', value: [2] },
  ]);
  expect(invalid).toEqual([
    { line: 2, reason: InvalidReasons.INVALID_JSON, excerpt: 'not json', bytes: Buffer.from('not json') },
  ]);
  const m: NdjsonSplitterMetrics = splitter.getMetrics();
  expect(m).toMatchObject({ lines: 4, valid: 2, invalid: 1, emptySkipped: 1 });
});
