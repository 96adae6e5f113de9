import { oneOfList, optionMessage } from '../util/validate';
import { NdjsonError, NdjsonErrorCodes } from './ndjson-errors';
import {
  DEFAULT_MAX_LINE_BYTES,
  INVALID_POLICY_VALUES,
  InvalidPolicies,
  type NdjsonSplitterOptions,
} from './ndjson-types';

/** A splitter's options, checked and with their defaults applied. */
export interface SplitterSettings {
  maxLineBytes: number;
  keepValue: boolean;
  failOnInvalid: boolean;
  /** sharedBytes as it applies: never with keepValue (a parsed record owns its bytes). */
  sharedBytes: boolean;
}

/** Checks the options once, at construction: a bad one throws ERR_NDJSON_INVALID_OPTION naming it. */
export function resolveSplitterOptions(options: NdjsonSplitterOptions): SplitterSettings {
  const max = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  if (!Number.isSafeInteger(max) || max < 1) {
    throw new NdjsonError(
      NdjsonErrorCodes.INVALID_OPTION,
      optionMessage('NdjsonSplitter', 'maxLineBytes', 'an integer >= 1', max),
    );
  }
  const policy = options.onInvalid ?? InvalidPolicies.SKIP;
  if (!INVALID_POLICY_VALUES.includes(policy)) {
    throw new NdjsonError(
      NdjsonErrorCodes.INVALID_OPTION,
      optionMessage('NdjsonSplitter', 'onInvalid', `one of ${oneOfList(INVALID_POLICY_VALUES)}`, policy),
    );
  }
  const keepValue = options.keepValue === true;
  return {
    maxLineBytes: max,
    keepValue,
    failOnInvalid: policy === InvalidPolicies.FAIL,
    sharedBytes: options.sharedBytes === true && !keepValue,
  };
}
