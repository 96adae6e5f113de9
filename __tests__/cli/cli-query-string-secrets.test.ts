/**
 * Query-string values (`?api_key=…`) are secrets as often as userinfo is. Wherever the CLI quotes
 * its target or what the server said about it — stderr, the dead-letter file — they are scrubbed,
 * however the server echoes them: the whole URL, the request line, URL-encoded, or the key alone.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { queryValues, redactCredentialsInText, scrubQueryParams } from '../../lib/sinks/redact';
import { expectBalanced, runCli, seqLines, statsOf, tempDir } from '../helpers/cli';
import { closeServer, listenLocal } from '../helpers/local-server';

const KEY = 'sk_live_51Hx9QpA/secret+value';
const TOKEN = 'tok3nZ';
const ENCODED_KEY = encodeURIComponent(KEY);

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      // A chatty server: quotes the request line, the decoded key, and the key alone.
      res.writeHead(403, { 'content-type': 'text/plain' });
      res.end(`forbidden: POST ${req.url ?? ''} (api_key=${KEY}); unknown key ${KEY}; token ${TOKEN}`);
    });
  });
  base = `http://127.0.0.1:${await listenLocal(server)}/ingest`;
});

afterAll(() => closeServer(server));

function expectNoSecret(text: string): void {
  expect(text).not.toContain(KEY);
  expect(text).not.toContain(ENCODED_KEY);
  expect(text).not.toContain('sk_live_51Hx9QpA');
  expect(text).not.toContain(TOKEN);
}

describe('backpressure CLI: query-string secrets never reach stderr or the dead-letter file', () => {
  test('an HTTP sink whose server echoes the URL and the key in its error body', async () => {
    const { dir, cleanup } = tempDir();
    try {
      const dlq = join(dir, 'dead.ndjson');
      const url = `${base}?api_key=${ENCODED_KEY}&token=${TOKEN}&v=2`;
      const r = await runCli(['--sink', url, '--retries', '0', '--dead-letter', dlq, '--stats'], seqLines(10));
      expect(r.code).toBe(1);
      const stats = statsOf(r.stderr);
      expectBalanced(stats);
      expect(stats.deadLettered).toBe(10);
      const dead = readFileSync(dlq, 'utf8');
      // The server's words are kept (they say why), the values are not. (A value runs up to `&`,
      // whitespace or a quote: `);` may be part of it, so the scrub takes it too.)
      expect(r.stderr).toMatch(
        /HTTP 403: forbidden: POST \/ingest\?api_key=\*\*\*&token=\*\*\*&v=\*\*\* \(api_key=\*\*\* unknown key \*\*\*; token \*\*\*/,
      );
      expect(r.stderr).toContain(`${base}?***`);
      expectNoSecret(r.stderr);
      expectNoSecret(dead);
      expect(dead.trim().split('\n')).toHaveLength(10);
    } finally {
      cleanup();
    }
  });

  test('an exec: command line with a URL query in it', async () => {
    const r = await runCli(
      ['--sink', `exec:true "https://example.invalid/up?api_key=${ENCODED_KEY}"; exit 3`, '--stats'],
      seqLines(5),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('exec:true "https://example.invalid/up?***"; exit 3');
    expectNoSecret(r.stderr);
  });

  test('an invalid --sink URL is quoted without its query', async () => {
    const r = await runCli(['--sink', `http://[bad/x?api_key=${ENCODED_KEY}`], '');
    expect(r.code).toBe(2);
    expectNoSecret(r.stderr);
  });
});

describe('redact helpers', () => {
  test("scrubQueryParams replaces every value of the URL's parameters, however it is encoded", () => {
    const url = new URL(`https://h/p?api_key=${ENCODED_KEY}&x=1`);
    expect(scrubQueryParams(`a /p?api_key=${ENCODED_KEY}&x=1 b api_key=${KEY} c api_key%3Dabc`, url)).toBe(
      'a /p?api_key=***&x=*** b api_key=*** c api_key%3D***',
    );
    expect(scrubQueryParams('no parameters here', new URL('https://h/p'))).toBe('no parameters here');
  });

  test('queryValues lists each value as written and decoded, long enough to scrub as a literal', () => {
    expect(queryValues(new URL(`https://h/p?api_key=${ENCODED_KEY}&x=1&flag`))).toEqual([ENCODED_KEY, KEY]);
  });

  test('redactCredentialsInText drops userinfo and query strings of URLs in free text', () => {
    expect(redactCredentialsInText("curl 'https://u:p@h/x?k=v&z=1' -d @f")).toBe("curl 'https://***@h/x?***' -d @f");
    expect(redactCredentialsInText('no url ?k=v')).toBe('no url ?k=v');
  });
});
