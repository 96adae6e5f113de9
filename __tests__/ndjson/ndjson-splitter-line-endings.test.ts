import { bytewise, split } from '../helpers/ndjson-helpers';

describe('ndjson splitter: CRLF', () => {
  it('strips the CR of CRLF even when CR and LF arrive in different chunks', async () => {
    const { records } = await split(['{"a":1}\r', '\n{"b":2}\r', '\n']);
    expect(records.map((r) => r.bytes.toString())).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('strips a trailing CR on a last line without newline', async () => {
    const { records } = await split(['{"a":1}\r\n{"b":2}\r']);
    expect(records.map((r) => r.bytes.toString())).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('keeps a CR inside a line (JSON whitespace) in the bytes', async () => {
    const { records } = await split(['{"a":\r1}\n']);
    expect(records.map((r) => r.bytes.toString())).toEqual(['{"a":\r1}']);
  });
});

describe('ndjson splitter: BOM', () => {
  it('drops a UTF-8 BOM at the start of the input', async () => {
    const { records, metrics } = await split([Buffer.from('\uFEFF{"a":1}\n', 'utf8')]);
    expect(records.map((r) => r.bytes.toString('hex'))).toEqual([Buffer.from('{"a":1}').toString('hex')]);
    expect(metrics.invalid).toBe(0);
  });

  it('drops a BOM split byte by byte across chunks', async () => {
    const { records } = await split(bytewise(Buffer.from('\uFEFF{"a":1}\n', 'utf8')));
    expect(records.map((r) => r.bytes.toString())).toEqual(['{"a":1}']);
  });

  it('a BOM later in the input is not stripped: that line is invalid JSON', async () => {
    const { records, invalid } = await split([Buffer.from('{"a":1}\n\uFEFF{"b":2}\n', 'utf8')]);
    expect(records.map((r) => r.line)).toEqual([1]);
    expect(invalid.map((i) => [i.line, i.reason])).toEqual([[2, 'invalid-json']]);
  });

  it('input that is only a partial BOM is data (invalid UTF-8), not silently dropped', async () => {
    const { invalid, metrics } = await split([Buffer.from([0xef, 0xbb])]);
    expect(invalid.map((i) => i.reason)).toEqual(['invalid-utf8']);
    expect(metrics.lines).toBe(1);
  });
});

describe('ndjson splitter: empty lines and the last line', () => {
  it('skips empty and whitespace-only lines but counts them in line numbers', async () => {
    const { records, metrics } = await split(['\n  \n{"a":1}\n\t\r\n\r\n{"b":2}\n']);
    expect(records.map((r) => r.line)).toEqual([3, 6]);
    expect(metrics).toMatchObject({ lines: 6, valid: 2, emptySkipped: 4, invalid: 0 });
  });

  it('a last line without newline counts; a final newline adds no line', async () => {
    expect((await split(['{"a":1}\n{"b":2}'])).records.map((r) => r.line)).toEqual([1, 2]);
    expect((await split(['{"a":1}\n{"b":2}\n'])).metrics.lines).toBe(2);
    expect((await split([])).metrics.lines).toBe(0);
  });

  it('accepts string chunks too', async () => {
    const { records } = await split(['{"a":', '1}\n']);
    expect(records.map((r) => r.bytes.toString())).toEqual(['{"a":1}']);
  });
});
