import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeadLetterFile, DeadLetterWriteError } from '../../lib/sinks/dead-letter-file';
import { tempDir } from '../helpers/cli';

describe('DeadLetterFile', () => {
  test('appends undeliverable records (original JSON embedded) and invalid lines as JSON lines', () => {
    const { dir, cleanup } = tempDir();
    try {
      const path = join(dir, 'dlq.ndjson');
      const file = new DeadLetterFile(path);
      file.writeUndeliverable(
        [
          { line: 4, bytes: Buffer.from('{"a":"é"}') },
          { line: 9, bytes: Buffer.from('[1,2]') },
        ],
        new Error('HTTP 400 "bad"'),
      );
      file.writeInvalid({ line: 5, reason: 'invalid-json', excerpt: '{oops', bytes: Buffer.from('{oops') });
      file.writeInvalid({ line: 6, reason: 'invalid-utf8', excerpt: '?', bytes: Buffer.from([0xff]) });
      file.writeInvalid({ line: 7, reason: 'line-too-long', excerpt: 'xxxx…' });
      expect(file.written).toBe(5);
      file.close();
      new DeadLetterFile(path).close(); // reopening appends, never truncates
      const entries = readFileSync(path, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown);
      expect(entries).toEqual([
        { line: 4, reason: 'undeliverable', error: 'HTTP 400 "bad"', record: { a: 'é' } },
        { line: 9, reason: 'undeliverable', error: 'HTTP 400 "bad"', record: [1, 2] },
        { line: 5, reason: 'invalid-json', excerpt: '{oops', raw: '{oops' },
        { line: 6, reason: 'invalid-utf8', excerpt: '?', rawBase64: '/w==' },
        { line: 7, reason: 'line-too-long', excerpt: 'xxxx…' },
      ]);
    } finally {
      cleanup();
    }
  });

  test('an unopenable path throws at construction (the CLI reports it before reading)', () => {
    expect(() => new DeadLetterFile('/nonexistent-dir/x/y.ndjson')).toThrow(/ENOENT/);
  });
});

describe('DeadLetterFile: a file that cannot take the entries', () => {
  test('/dev/full: throws DeadLetterWriteError saying none of the entries were written, and counts none', () => {
    const file = new DeadLetterFile('/dev/full');
    try {
      let error: unknown;
      try {
        file.writeUndeliverable(
          [
            { line: 1, bytes: Buffer.from('{"a":1}') },
            { line: 2, bytes: Buffer.from('{"a":2}') },
          ],
          new Error('HTTP 500'),
        );
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(DeadLetterWriteError);
      expect(error).toMatchObject({ code: 'ENOSPC', written: 0 });
      expect((error as Error).message).toMatch(/^cannot write to --dead-letter file \/dev\/full: ENOSPC/);
      expect(() =>
        file.writeInvalid({ line: 3, reason: 'invalid-json', excerpt: 'x', bytes: Buffer.from('x') }),
      ).toThrow(DeadLetterWriteError);
      expect(file.written).toBe(0);
    } finally {
      file.close();
    }
  });
});
