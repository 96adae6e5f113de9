/**
 * What users install is the packed tarball, not this checkout: pack it,
 * install it into a scratch package (pulling readable-stream from the
 * registry like a user would), and use it from CommonJS, from ESM with named
 * imports, and from TypeScript through the published type declarations.
 * `npm test` builds dist/ first (pretest); run `npm run build` before running
 * this file alone. It packs with --ignore-scripts: `prepare` would rebuild
 * dist/ while other test files run the CLI from it. Packing a fresh clone,
 * where `prepare` does the build, is `package-from-git-clone.test.ts`.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { npmChildEnv } from '../helpers/npm';

const run = promisify(execFile);
const repo = path.resolve(__dirname, '..', '..');

async function sh(file: string, args: string[], cwd: string): Promise<string> {
  const { stdout } = await run(file, args, { cwd, env: npmChildEnv(), maxBuffer: 16 * 1024 * 1024, timeout: 100_000 });
  return stdout;
}

/** Pipes five items through the installed package and prints what was delivered and the metrics. */
const cjsScript = `
const { BackpressureWritable, ErrorCodes, isBackpressureError } = require('backpressure');
const { Readable, pipeline } = require('node:stream');
const delivered = [];
const w = new BackpressureWritable({ batchSize: 2, maxBufferSize: 4, flush: async (batch) => { delivered.push(...batch); } });
pipeline(Readable.from([1, 2, 3, 4, 5]), w, (err) => {
  if (err) throw err;
  const m = w.getMetrics();
  console.log(JSON.stringify({ delivered, state: w.state, eventsAccepted: m.eventsAccepted, eventsFlushed: m.eventsFlushed,
    bufferSize: m.bufferSize, inFlight: m.inFlight, code: ErrorCodes.FLUSH_FAILED, guard: typeof isBackpressureError }));
});
`;

const esmScript = `
import { BackpressureWritable, ErrorCodes, BackpressureError } from 'backpressure';
import defaultExport from 'backpressure';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
const delivered = [];
const w = new BackpressureWritable({ batchSize: 3, flush: async (batch) => { delivered.push(...batch); } });
await pipeline(Readable.from(['a', 'b', 'c', 'd']), w);
const m = w.getMetrics();
const failing = new BackpressureWritable({ batchSize: 1, retry: { retries: 0 }, flush: async () => { throw new Error('down'); } });
const error = await pipeline(Readable.from(['x']), failing).then(() => null, (err) => err);
console.log(JSON.stringify({ delivered, state: w.state, eventsAccepted: m.eventsAccepted, eventsFlushed: m.eventsFlushed,
  bufferSize: m.bufferSize, inFlight: m.inFlight, errorCode: error && error.code, errorItems: error && error.items,
  isClass: error instanceof BackpressureError, sameAsDefault: defaultExport.BackpressureWritable === BackpressureWritable,
  codes: ErrorCodes.FLUSH_FAILED }));
`;

const tsConsumer = `
import {
  backpressure,
  BackpressureWritable,
  ErrorCodes,
  redisStreamSink,
  redisStreamSource,
  type BackpressureMetrics,
  type FlushResult,
  type RedisClientLike,
  type RedisStreamEntry,
} from 'backpressure';
const w = new BackpressureWritable<{ id: number }>({
  flush: async (batch): Promise<FlushResult<{ id: number }>> => ({ success: batch.length, failed: 0, errors: [] }),
  maxBufferSize: 10,
});
const m: BackpressureMetrics = w.getMetrics();
const ok: boolean = w.write({ id: 1 });
const code: 'ERR_BACKPRESSURE_FLUSH_FAILED' = ErrorCodes.FLUSH_FAILED;
// @ts-expect-error items are typed: a string is not { id: number }
new BackpressureWritable<{ id: number }>({ flush: async (batch: string[]) => undefined });
// The Redis Streams types are structural: they compile without ioredis (an optional peer, not installed here).
function worker(client: RedisClientLike) {
  const source = redisStreamSource({ client, stream: 's', group: 'g' });
  const output = backpressure<RedisStreamEntry>({ flush: async () => undefined, onSettled: source.onSettled });
  return { source, output, sink: redisStreamSink({ client, stream: 'out', maxLen: 1000 }) };
}
export { m, ok, code, worker };
`;

/** Without ioredis installed, the Redis parts fail on use with one coded line; everything else works. */
const withoutIoredisScript = `
const lib = require('backpressure');
let error;
try { lib.redisStreamSource({ url: 'redis://127.0.0.1:1', stream: 's', group: 'g' }); } catch (err) { error = err; }
console.log(JSON.stringify({ code: error && error.code, message: error && error.message }));
`;

let tmp: string;
let tarball: string;
let consumer: string;

beforeAll(async () => {
  expect(fs.existsSync(path.join(repo, 'dist', 'index.js'))).toBe(true); // built by pretest
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bp-consumer-'));
  const packed = JSON.parse(
    await sh('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], repo),
  ) as { filename: string }[];
  tarball = path.join(tmp, packed[0]?.filename ?? 'missing.tgz');
  consumer = path.join(tmp, 'consumer');
  fs.mkdirSync(consumer);
  fs.writeFileSync(
    path.join(consumer, 'package.json'),
    JSON.stringify({ name: 'scratch-consumer', version: '0.0.0', private: true }),
  );
  await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--prefix', consumer, tarball], consumer);
}, 120_000);

afterAll(() => {
  if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the tarball holds the CommonJS build, the ESM wrapper and the type declarations, and no sources or tests', async () => {
  const files = (await sh('tar', ['-tzf', tarball], tmp)).split('\n').filter(Boolean);
  expect(files).toEqual(
    expect.arrayContaining([
      'package/package.json',
      'package/dist/index.js',
      'package/dist/index.mjs',
      'package/dist/index.d.ts',
    ]),
  );
  expect(files.filter((f) => /^package\/(lib|__tests__|node_modules)\//.test(f))).toEqual([]);
  expect(fs.existsSync(path.join(consumer, 'node_modules', 'readable-stream', 'package.json'))).toBe(true);
}, 120_000);

test('require() from CommonJS pipes items through and reports the metrics', async () => {
  const out = JSON.parse(await sh('node', ['-e', cjsScript], consumer)) as Record<string, unknown>;
  expect(out).toEqual({
    delivered: [1, 2, 3, 4, 5],
    state: 'closed',
    eventsAccepted: 5,
    eventsFlushed: 5,
    bufferSize: 0,
    inFlight: 0,
    code: 'ERR_BACKPRESSURE_FLUSH_FAILED',
    guard: 'function',
  });
}, 120_000);

test('import from ESM with named exports pipes items through, and errors carry their code and items', async () => {
  const out = JSON.parse(await sh('node', ['--input-type=module', '-e', esmScript], consumer)) as Record<
    string,
    unknown
  >;
  expect(out).toEqual({
    delivered: ['a', 'b', 'c', 'd'],
    state: 'closed',
    eventsAccepted: 4,
    eventsFlushed: 4,
    bufferSize: 0,
    inFlight: 0,
    errorCode: 'ERR_BACKPRESSURE_FLUSH_FAILED',
    errorItems: ['x'],
    isClass: true,
    sameAsDefault: true,
    codes: 'ERR_BACKPRESSURE_FLUSH_FAILED',
  });
}, 120_000);

/**
 * Preloaded so that `ioredis` cannot be found even when a directory above the scratch project happens to
 * hold a node_modules with it (a machine's /tmp/node_modules): what a user without it sees, wherever we run.
 */
const hideIoredis = `
const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'ioredis') throw Object.assign(new Error("Cannot find module 'ioredis'"), { code: 'MODULE_NOT_FOUND' });
  return resolve.call(this, request, ...rest);
};
`;

test('without ioredis installed, redisStreamSource names the install command in one coded line', async () => {
  expect(fs.existsSync(path.join(consumer, 'node_modules', 'ioredis'))).toBe(false); // an optional peer: not installed
  const preload = path.join(tmp, 'hide-ioredis.js');
  fs.writeFileSync(preload, hideIoredis);
  const out = JSON.parse(await sh('node', ['--require', preload, '-e', withoutIoredisScript], consumer)) as Record<
    string,
    unknown
  >;
  expect(out).toEqual({
    code: 'ERR_REDIS_CLIENT_MISSING',
    message: 'Redis Streams need the ioredis package, which is not installed: npm install ioredis',
  });
}, 120_000);

test('TypeScript resolves the published types through the exports map (node16 resolution)', async () => {
  fs.writeFileSync(path.join(consumer, 'consumer.ts'), tsConsumer);
  const tsc = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  const args = [
    tsc,
    '--noEmit',
    '--strict',
    '--module',
    'node16',
    '--moduleResolution',
    'node16',
    '--target',
    'es2022',
  ];
  args.push('--typeRoots', path.join(repo, 'node_modules', '@types'), '--types', 'node', 'consumer.ts');
  await expect(sh('node', args, consumer)).resolves.toBe('');
}, 120_000);
