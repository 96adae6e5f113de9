import { FlushAttemptContext } from '../../lib/core/flush-attempt-context';

describe('FlushAttemptContext', () => {
  test('onAbort listeners are called once with the reason; a removed one is not; one added after the abort never is', () => {
    const ctx = new FlushAttemptContext(2);
    const calls: unknown[] = [];
    ctx.onAbort((reason) => calls.push(['a', reason]));
    const off = ctx.onAbort((reason) => calls.push(['b', reason]));
    off();
    expect(ctx.aborted).toBe(false);
    const reason = new Error('timeout');
    ctx.abort(reason);
    ctx.abort(new Error('second'));
    expect(calls).toEqual([['a', reason]]);
    expect(ctx.aborted).toBe(true);
    expect(ctx.abortReason).toBe(reason);
    ctx.onAbort(() => calls.push('late'));
    expect(calls).toHaveLength(1);
  });

  test('the signal, created before or after the abort, agrees with it', () => {
    const before = new FlushAttemptContext(1);
    const signal = before.signal;
    const heard: unknown[] = [];
    before.onAbort((reason) => heard.push(reason));
    before.abort('why');
    expect([signal.aborted, signal.reason, heard]).toEqual([true, 'why', ['why']]);
    const after = new FlushAttemptContext(1);
    after.abort('late');
    expect([after.signal.aborted, after.signal.reason]).toEqual([true, 'late']);
  });
});
