import { classifyHttpStatus, parseRetryAfter } from '../../lib/sinks/http-classify';
import { SinkError, SinkErrorCodes, sinkFailureAction } from '../../lib/sinks/sink-errors';

describe('HTTP status classification', () => {
  it.each([
    [200, 'success'],
    [204, 'success'],
    [299, 'success'],
    [408, 'retryable'],
    [429, 'retryable'],
    [500, 'retryable'],
    [502, 'retryable'],
    [599, 'retryable'],
    [301, 'permanent'],
    [400, 'permanent'],
    [401, 'permanent'],
    [413, 'permanent'],
    [422, 'permanent'],
    [100, 'permanent'],
  ])('%i → %s', (status, outcome) => {
    expect(classifyHttpStatus(status)).toBe(outcome);
  });
});

describe('Retry-After parsing', () => {
  const now = Date.parse('2024-01-01T00:00:00Z');
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
  });
  it('reads an HTTP date relative to now, never negative', () => {
    expect(parseRetryAfter('Mon, 01 Jan 2024 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Sun, 31 Dec 2023 23:00:00 GMT', now)).toBe(0);
  });
  it('ignores absent or malformed values', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('1.5', now)).toBeUndefined();
  });
});

describe('sinkFailureAction', () => {
  it('retries transient errors, dead-letters permanent HTTP statuses, stops on a gone sink', () => {
    expect(
      sinkFailureAction(new SinkError(SinkErrorCodes.HTTP_STATUS, 'x', { retryable: true, statusCode: 503 })),
    ).toBe('retry');
    expect(sinkFailureAction(new SinkError(SinkErrorCodes.HTTP_NETWORK, 'x', { retryable: true }))).toBe('retry');
    expect(sinkFailureAction(new SinkError(SinkErrorCodes.ABORTED, 'x', { retryable: true }))).toBe('retry');
    expect(
      sinkFailureAction(new SinkError(SinkErrorCodes.HTTP_STATUS, 'x', { retryable: false, statusCode: 400 })),
    ).toBe('dead-letter');
    expect(sinkFailureAction(new SinkError(SinkErrorCodes.CLOSED, 'x'))).toBe('stop');
    expect(sinkFailureAction(new SinkError(SinkErrorCodes.CHILD_EXITED, 'x', { exitCode: 1 }))).toBe('stop');
    expect(sinkFailureAction(new SinkError(SinkErrorCodes.WRITE_FAILED, 'x'))).toBe('stop');
    expect(sinkFailureAction(new Error('unknown'))).toBe('retry');
  });
});
