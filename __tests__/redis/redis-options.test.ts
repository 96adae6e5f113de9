import { redisStreamSink, redisStreamSource, RedisStreamErrorCodes } from '../../lib';
import { setModuleLoaderForTests } from '../../lib/redis/redis-client';
import { parseRedisStreamUrl } from '../../lib/redis/redis-url';

afterEach(() => setModuleLoaderForTests(undefined));

// A client that is never connected: validation happens before anything is used.
const fakeClient = {
  call: () => Promise.resolve(null),
  callBuffer: () => Promise.resolve(null),
  pipeline: () => ({ call: () => undefined, exec: () => Promise.resolve([]) }),
  duplicate: () => fakeClient,
  quit: () => Promise.resolve('OK'),
  disconnect: () => undefined,
  on: () => undefined,
  off: () => undefined,
};

const base = { client: fakeClient, stream: 's', group: 'g' };

test.each([
  ['stream', 'ERR_OUT_OF_RANGE', { ...base, stream: '' }],
  ['stream', 'ERR_INVALID_ARG_TYPE', { ...base, stream: 5 }],
  ['group', 'ERR_INVALID_ARG_TYPE', { ...base, group: undefined }],
  ['count', 'ERR_OUT_OF_RANGE', { ...base, count: 0 }],
  ['count', 'ERR_OUT_OF_RANGE', { ...base, count: 1.5 }],
  ['blockMs', 'ERR_OUT_OF_RANGE', { ...base, blockMs: 0 }],
  ['blockMs', 'ERR_OUT_OF_RANGE', { ...base, blockMs: 2 ** 31 }],
  ['claimIdleMs', 'ERR_OUT_OF_RANGE', { ...base, claimIdleMs: Infinity }],
  ['maxDeliveries', 'ERR_OUT_OF_RANGE', { ...base, maxDeliveries: 0 }],
  ['maxUnacknowledged', 'ERR_OUT_OF_RANGE', { ...base, maxUnacknowledged: 10, count: 100 }],
  ['endWhenIdleMs', 'ERR_OUT_OF_RANGE', { ...base, endWhenIdleMs: -1 }],
  ['valueEncoding', 'ERR_OUT_OF_RANGE', { ...base, valueEncoding: 'latin1' }],
  ['onDeadLetter', 'ERR_INVALID_ARG_TYPE', { ...base, onDeadLetter: 'file' }],
  ['client', 'ERR_INVALID_ARG_TYPE', { ...base, client: { call() {} } }],
  ['url', 'ERR_INVALID_ARG_TYPE', { ...base, url: 'redis://localhost' }],
  ['url', 'ERR_INVALID_ARG_TYPE', { stream: 's', group: 'g' }],
])('redisStreamSource refuses a bad %s (%s)', (option, code, options) => {
  const attempt = (): unknown => redisStreamSource(options as never);
  expect(attempt).toThrow(expect.objectContaining({ code }));
  expect(attempt).toThrow(`redisStreamSource(): option "${option}"`);
});

test.each([
  ['stream', { client: fakeClient, stream: '' }],
  ['maxLen', { client: fakeClient, stream: 's', maxLen: 0 }],
  ['field', { client: fakeClient, stream: 's', field: '' }],
  ['url', { stream: 's' }],
])('redisStreamSink refuses a bad %s', (option, options) => {
  expect(() => redisStreamSink(options as never)).toThrow(`redisStreamSink(): option "${option}"`);
});

test('maxDeliveries accepts Infinity (never poison)', () => {
  const source = redisStreamSource({ ...base, maxDeliveries: Infinity });
  source.destroy();
});

test('without ioredis installed: one coded line naming the install command', () => {
  setModuleLoaderForTests((id) => {
    throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
  });
  for (const make of [
    () => redisStreamSource({ url: 'redis://127.0.0.1:1', stream: 's', group: 'g' }),
    () => redisStreamSink({ url: 'redis://127.0.0.1:1', stream: 's' }),
  ]) {
    expect(make).toThrow(expect.objectContaining({ code: RedisStreamErrorCodes.CLIENT_MISSING }));
    expect(make).toThrow(/npm install ioredis$/);
  }
});

test('a client given by the caller needs no ioredis to be loadable', () => {
  setModuleLoaderForTests(() => {
    throw Object.assign(new Error('no'), { code: 'MODULE_NOT_FOUND' });
  });
  redisStreamSource(base).destroy();
  expect(redisStreamSink({ client: fakeClient, stream: 's' }).description).toBe('redis stream s');
});

describe('parseRedisStreamUrl', () => {
  test('the path is the stream, parameters are options, credentials never reach the description', () => {
    const parsed = parseRedisStreamUrl('redis://user:s3cret@127.0.0.1:6380/jobs%2Fa?group=g&consumer=c&db=2', [
      'group',
      'consumer',
    ]);
    expect(parsed.stream).toBe('jobs/a');
    expect(parsed.connectionUrl).toBe('redis://user:s3cret@127.0.0.1:6380/2');
    expect(Object.fromEntries(parsed.params)).toEqual({ group: 'g', consumer: 'c', db: '2' });
    expect(parsed.description).toBe('redis://***@127.0.0.1:6380/jobs%2Fa');
  });

  test.each([
    ['redis://127.0.0.1:6379', /names no stream/],
    ['redis://127.0.0.1:6379/', /names no stream/],
    ['redis://127.0.0.1/s?grup=g', /unknown parameter 'grup'/],
    ['redis://127.0.0.1/s?group=a&group=b', /given twice/],
    ['redis://127.0.0.1/s?db=x', /db must be a database number/],
    ['redis://u:pw@[::1/s', /not a valid URL/],
  ])('%s is refused (%s)', (url, message) => {
    const attempt = (): unknown => parseRedisStreamUrl(url, ['group']);
    expect(attempt).toThrow(expect.objectContaining({ code: RedisStreamErrorCodes.INVALID_URL }));
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (err) {
      expect((err as Error).message).not.toContain('pw');
    }
  });
});
