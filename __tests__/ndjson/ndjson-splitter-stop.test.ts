import {
  NdjsonSplitter,
  type InvalidLine,
  type NdjsonRecord,
  type TruncatedLine,
} from '../../lib/ndjson/ndjson-splitter';

/** Writes `chunks`, then ends the splitter with `stop()` (or `end()`), and collects what it produced. */
async function run(chunks: readonly (string | Buffer)[], how: 'stop' | 'end') {
  const splitter = new NdjsonSplitter();
  const records: NdjsonRecord[] = [];
  const invalid: InvalidLine[] = [];
  const truncated: TruncatedLine[] = [];
  splitter.on('data', (r: NdjsonRecord) => records.push(r));
  splitter.on('invalid', (e: InvalidLine) => invalid.push(e));
  splitter.on('truncated', (e: TruncatedLine) => truncated.push(e));
  const ended = new Promise<void>((resolve) => splitter.on('end', resolve));
  for (const chunk of chunks) splitter.write(chunk);
  if (how === 'stop') splitter.stop();
  else splitter.end();
  await ended;
  return { records, invalid, truncated, metrics: splitter.getMetrics() };
}

describe('ndjson splitter: stop() is not EOF', () => {
  test('the line reading stopped in is truncated-at-stop: neither parsed nor counted as invalid', async () => {
    const { records, invalid, truncated, metrics } = await run(['{"a":1}\n{"b":2}\n{"c":', '3'], 'stop');
    expect(records.map((r) => r.line)).toEqual([1, 2]);
    expect(invalid).toEqual([]);
    expect(truncated).toEqual([
      { line: 3, reason: 'truncated-at-stop', excerpt: '{"c":3', bytes: Buffer.from('{"c":3') },
    ]);
    expect(metrics).toMatchObject({ lines: 3, valid: 2, invalid: 0, truncated: 1 });
  });

  test('even a cut-off line that happens to be valid JSON, or one cut inside a multi-byte character', async () => {
    const valid = await run(['{"a":1}\n{"b":2}'], 'stop');
    expect(valid.records.map((r) => r.line)).toEqual([1]);
    expect(valid.truncated.map((t) => t.line)).toEqual([2]);
    const euro = Buffer.from('{"s":"€"}\n{"s":"€');
    const cut = await run([euro.subarray(0, euro.length - 1)], 'stop');
    expect(cut.truncated).toHaveLength(1);
    expect(cut.truncated[0]?.bytes).toEqual(euro.subarray(euro.indexOf(0x0a) + 1, euro.length - 1));
    expect(cut.metrics).toMatchObject({ valid: 1, invalid: 0, truncated: 1 });
  });

  test('at a line boundary nothing is truncated', async () => {
    const { truncated, metrics } = await run(['{"a":1}\n{"b":2}\n'], 'stop');
    expect(truncated).toEqual([]);
    expect(metrics).toMatchObject({ valid: 2, truncated: 0 });
  });

  test('end() is EOF: a last line without newline is a line like any other', async () => {
    const { records, invalid, truncated } = await run(['{"a":1}\n{"c":'], 'end');
    expect(records.map((r) => r.line)).toEqual([1]);
    expect(invalid.map((i) => [i.line, i.reason])).toEqual([[2, 'invalid-json']]);
    expect(truncated).toEqual([]);
  });
});
