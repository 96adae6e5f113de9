import { fieldPriority, LOWEST_PRIORITY } from '../../lib/ndjson/field-priority';

describe('fieldPriority', () => {
  test('reads a numeric field by dotted path', () => {
    expect(fieldPriority('priority')({ value: { priority: 3 } })).toBe(3);
    expect(fieldPriority('meta.level')({ value: { meta: { level: -2.5 } } })).toBe(-2.5);
    expect(fieldPriority('a.b.c')({ value: { a: { b: { c: 0 } } } })).toBe(0);
  });

  test.each([
    ['missing field', { value: { other: 1 } }],
    ['string', { value: { priority: '3' } }],
    ['null', { value: { priority: null } }],
    ['NaN-like', { value: { priority: Number.NaN } }],
    ['through a primitive', { value: { priority: 5 } }, 'priority.x'],
    ['non-object record', { value: 42 }],
    ['no value', {}],
  ])(
    '%s ranks lowest (finite, so it is shed first rather than dropped as invalid)',
    (_name, record, path = 'priority') => {
      const p = fieldPriority(path)(record);
      expect(p).toBe(LOWEST_PRIORITY);
      expect(Number.isFinite(p)).toBe(true);
      expect(p).toBeLessThan(-1e300);
    },
  );

  test('rejects an empty path segment', () => {
    expect(() => fieldPriority('a..b')).toThrow(RangeError);
    expect(() => fieldPriority('')).toThrow(RangeError);
  });
});
