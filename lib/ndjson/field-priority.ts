import { invalidOption } from '../util/validate';

/**
 * Builds a `priority(item)` function for the priority strategy that reads a
 * numeric field of a parsed NDJSON record by dotted path (`"priority"`,
 * `"meta.level"`). Anything that is not a finite number — a missing field, a
 * string, `null` — ranks lowest, so unlabelled records are shed first rather
 * than dropped as invalid.
 *
 * The path is split once here, not per record.
 */
export function fieldPriority(path: string): (record: { value?: unknown }) => number {
  if (typeof path !== 'string') throw invalidOption('type', 'fieldPriority()', 'path', 'a string', path);
  const keys = path.split('.');
  if (keys.some((key) => key === '')) {
    throw invalidOption(
      'range',
      'fieldPriority()',
      'path',
      'a dotted path of non-empty field names (e.g. priority or meta.level)',
      path,
    );
  }
  return function priorityOf(record) {
    let current: unknown = record.value;
    for (let i = 0; i < keys.length; i++) {
      if (current === null || typeof current !== 'object') return LOWEST_PRIORITY;
      current = (current as Record<string, unknown>)[keys[i] as string];
    }
    return typeof current === 'number' && Number.isFinite(current) ? current : LOWEST_PRIORITY;
  };
}

/**
 * What a record without a usable priority ranks as. Finite on purpose: the
 * priority stage drops non-finite priorities with reason 'invalid-priority',
 * and a missing label is not an error, just the least important kind of record.
 */
export const LOWEST_PRIORITY = -Number.MAX_VALUE;
