/**
 * Durable mode, options and bad items: every `durable.*` option is refused up front, synchronously,
 * with a coded TypeError/RangeError naming it as the caller spelled it (`durable.maxBytes`) and the
 * allowed range — through `backpressure()` too. An item the codec cannot encode (it throws, returns
 * something else than bytes, or a record too large for a segment) is refused by the log, nothing
 * half-written: it is dead-lettered with ERR_BACKPRESSURE_ENCODE_FAILED and its write's callback gets
 * that error, while the items around it go on.
 */
import { readdirSync } from 'node:fs';
import {
  backpressure,
  BackpressureWritable,
  bytesCodec,
  DurableErrorCodes,
  ErrorCodes,
  isDurableError,
  jsonCodec,
  type DurableOptions,
} from '../../lib';
import { isOptionError } from '../../lib/util/validate';
import { expectConserved } from '../helpers/core-helpers';
import { removeDir, tempDir } from '../helpers/durable-helpers';
import { closed, durableWritable, endAndFinish, ids, items, type Item } from '../helpers/durable-writable';

let dir: string;
beforeEach(() => {
  dir = tempDir('durable-options-');
});
afterEach(() => removeDir(dir));

const flush = async (): Promise<void> => undefined;
const TYPE = 'ERR_INVALID_ARG_TYPE';
const RANGE = 'ERR_OUT_OF_RANGE';

const CASES: ReadonlyArray<readonly [string, unknown, string, string]> = [
  ['not an object', 'dir', TYPE, 'durable'],
  ['null', null, TYPE, 'durable'],
  ['no dir', {}, TYPE, 'durable.dir'],
  ['an empty dir', { dir: '' }, TYPE, 'durable.dir'],
  ['maxBytes not a number', { dir: 'd', maxBytes: '1g' }, TYPE, 'durable.maxBytes'],
  ['maxBytes too small', { dir: 'd', maxBytes: 1000 }, RANGE, 'durable.maxBytes'],
  ['maxBytes fractional', { dir: 'd', maxBytes: 4096.5 }, RANGE, 'durable.maxBytes'],
  ['maxBytes NaN', { dir: 'd', maxBytes: NaN }, RANGE, 'durable.maxBytes'],
  ['segmentBytes too small', { dir: 'd', segmentBytes: 512 }, RANGE, 'durable.segmentBytes'],
  ['segmentBytes over maxBytes / 2', { dir: 'd', maxBytes: 8192, segmentBytes: 4097 }, RANGE, 'durable.segmentBytes'],
  ['sync unknown', { dir: 'd', sync: 'sometimes' }, RANGE, 'durable.sync'],
  ['sync not a string', { dir: 'd', sync: true }, TYPE, 'durable.sync'],
  ['checkpointIntervalMs negative', { dir: 'd', checkpointIntervalMs: -1 }, RANGE, 'durable.checkpointIntervalMs'],
  [
    'checkpointIntervalMs over 2^31 − 1',
    { dir: 'd', checkpointIntervalMs: 2 ** 31 },
    RANGE,
    'durable.checkpointIntervalMs',
  ],
  ['codec not an object', { dir: 'd', codec: 'json' }, TYPE, 'durable.codec'],
  ['codec without decode', { dir: 'd', codec: { encode: () => new Uint8Array() } }, TYPE, 'durable.codec'],
];

describe.each([
  [
    'new BackpressureWritable',
    (durable: unknown) => new BackpressureWritable({ flush, durable: durable as DurableOptions<unknown> }),
  ],
  [
    'backpressure() with drop-oldest',
    (durable: unknown) => backpressure({ strategy: 'drop-oldest', flush, durable: durable as DurableOptions<unknown> }),
  ],
])('%s', (_name, build) => {
  test.each(CASES)('%s: refused with %#', (_what, durable, code, option) => {
    let error: unknown;
    try {
      build(durable);
    } catch (err) {
      error = err;
    }
    expect(isOptionError(error)).toBe(true);
    expect(error).toMatchObject({ code });
    expect((error as Error).message).toContain(`option "${option}"`);
    expect(readdirSync(dir)).toEqual([]); // nothing opened, nothing created
  });
});

test('the defaults: 1 GiB, segments of maxBytes / 8 (at most 64 MiB), sync batch, JSON; accepted as given', async () => {
  const w = new BackpressureWritable<Item>({ flush, durable: { dir } });
  w.write({ id: 1 });
  await endAndFinish(w);
  expect(readdirSync(dir)).toEqual(['checkpoint']);
});

const throwing = (): Uint8Array => {
  throw new Error('no');
};
const ENCODERS: ReadonlyArray<readonly [string, () => unknown, RegExp]> = [
  ['throws', throwing, /could not encode an item: no/],
  ['returns a string', (): unknown => 'text', /returned string, not a Uint8Array/],
  ['returns null', (): unknown => null, /returned null/],
];

test.each(ENCODERS)(
  'a codec that %s: the item is dead-lettered with ERR_BACKPRESSURE_ENCODE_FAILED, its write fails, the others go on',
  async (_what, encode, message) => {
    const taken: Array<{ ids: number[]; code: unknown }> = [];
    const delivered: number[] = [];
    let call = 0;
    const w = durableWritable<Item>(dir, {
      durable: {
        codec: {
          encode: (item: Item) => (item.id === 2 ? (encode() as Uint8Array) : jsonCodec.encode(item)),
          decode: (bytes) => jsonCodec.decode(bytes) as Item,
        },
      },
      onDeadLetter: (batch, error) => {
        expectConserved(w.getMetrics());
        taken.push({ ids: ids(batch), code: (error as { code?: unknown }).code });
        expect(error.message).toMatch(message);
      },
      flush: async (batch) => {
        call++;
        delivered.push(...ids(batch));
      },
    });
    const callbackErrors: Array<unknown> = [];
    for (const item of items(0, 5))
      w.write(item, (err?: Error | null) =>
        callbackErrors.push((err as { code?: unknown } | null | undefined)?.code ?? null),
      );
    await endAndFinish(w);
    expect(delivered).toEqual([0, 1, 3, 4]);
    expect(taken).toEqual([{ ids: [2], code: ErrorCodes.ENCODE_FAILED }]);
    expect(callbackErrors.sort()).toEqual([ErrorCodes.ENCODE_FAILED, null, null, null, null].sort());
    expect(w.getMetrics()).toMatchObject({ eventsAccepted: 5, eventsDeadLettered: 1, eventsFlushed: 4 });
    expect(call).toBeGreaterThan(0);
  },
);

test('a record larger than a segment holds is refused (ERR_BACKPRESSURE_ENCODE_FAILED, cause ERR_DURABLE_RECORD_TOO_LARGE); without onDeadLetter the stream fails with it in items', async () => {
  const w = durableWritable<{ id: number; blob?: string }>(dir, { flush: () => new Promise<void>(() => undefined) });
  await new Promise<void>((resolve) => w.write({ id: 0 }, () => resolve())); // on disk
  w.write({ id: 1, blob: 'b'.repeat(2000) }); // segments of 1 KiB
  const error = await closed(w);
  expect(error).toMatchObject({ code: ErrorCodes.ENCODE_FAILED });
  expect(isDurableError((error as Error).cause, DurableErrorCodes.RECORD_TOO_LARGE)).toBe(true);
  expect((error as unknown as { items: Array<{ id: number }> }).items.map((i) => i.id)).toEqual([1]);
  // Item 0 has its record: it stays on disk for the next open, not in the error.
  const next: number[] = [];
  await endAndFinish(durableWritable<Item>(dir, { flush: async (batch) => void next.push(...ids(batch)) }));
  expect(next).toEqual([0]);
});

test('bytesCodec stores Buffers as they are and hands back owned copies; a non-bytes item is refused', async () => {
  const got: Buffer[] = [];
  const refused: unknown[] = [];
  const w = durableWritable<Uint8Array>(dir, {
    durable: { codec: bytesCodec },
    onDeadLetter: (batch) => void refused.push(...batch),
    flush: async (batch) => void got.push(...(batch as Buffer[])),
  });
  w.write(Buffer.from('line one'));
  w.write(new Uint8Array([0xff, 0x00, 0x0a]));
  w.write('a string' as unknown as Uint8Array);
  await endAndFinish(w);
  expect(got.map((b) => b.toString('hex'))).toEqual([Buffer.from('line one').toString('hex'), 'ff000a']);
  expect(got.every((b) => Buffer.isBuffer(b))).toBe(true);
  expect(refused).toEqual(['a string']);
});
