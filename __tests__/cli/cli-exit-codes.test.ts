import { outcomeOf } from '../../lib/cli/outcome';
import { summarize } from '../../lib/cli/stats';

function summary(counts: {
  valid: number;
  invalid?: number;
  flushed: number;
  dropped?: number;
  deadLettered?: number;
}) {
  return summarize(
    { valid: counts.valid, invalid: counts.invalid ?? 0 },
    {
      eventsFlushed: counts.flushed,
      eventsDropped: counts.dropped ?? 0,
      droppedByReason: counts.dropped ? { 'evicted-oldest': counts.dropped } : {},
      eventsDeadLettered: counts.deadLettered ?? 0,
      eventsRetried: 0,
    },
    0,
    1000,
  );
}

describe('exit codes (outcomeOf)', () => {
  test('0: everything delivered, or dropped by the strategy, invalid lines skipped', () => {
    expect(outcomeOf({ summary: summary({ valid: 10, flushed: 10 }) })).toEqual({ messages: [], exitCode: 0 });
    expect(outcomeOf({ summary: summary({ valid: 10, invalid: 3, flushed: 4, dropped: 6 }) }).exitCode).toBe(0);
  });

  test('1: records dead-lettered, with or without a file, and says where they went', () => {
    const written = outcomeOf({
      summary: summary({ valid: 10, flushed: 7, deadLettered: 3 }),
      deadLetterPath: '/tmp/d',
    });
    expect(written).toEqual({ messages: ['3 records undeliverable, written to /tmp/d'], exitCode: 1 });
    const discarded = outcomeOf({ summary: summary({ valid: 10, flushed: 7, deadLettered: 3 }) });
    expect(discarded.messages).toEqual(['3 records undeliverable and discarded (no --dead-letter given)']);
    expect(discarded.exitCode).toBe(1);
  });

  test('1: --invalid fail stop, sink gone, runtime error, records lost', () => {
    const ok = summary({ valid: 5, flushed: 5 });
    expect(outcomeOf({ summary: ok, invalidStop: { line: 42, reason: 'invalid-json' } })).toEqual({
      messages: ['stopped at line 42: invalid-json (--invalid fail)'],
      exitCode: 1,
    });
    expect(outcomeOf({ summary: ok, sinkGone: { sink: 'stdout', message: 'EPIPE' } }).exitCode).toBe(1);
    expect(outcomeOf({ summary: ok, runtimeError: 'EIO' }).exitCode).toBe(1);
    const lost = outcomeOf({ summary: summary({ valid: 5, flushed: 3 }) });
    expect(lost).toEqual({ messages: ['2 records were neither delivered nor dead-lettered'], exitCode: 1 });
  });

  test('128+N after a signal, whatever else happened', () => {
    expect(outcomeOf({ summary: summary({ valid: 5, flushed: 5 }), signal: 'SIGINT' }).exitCode).toBe(130);
    expect(outcomeOf({ summary: summary({ valid: 5, flushed: 2, deadLettered: 3 }), signal: 'SIGTERM' }).exitCode).toBe(
      143,
    );
  });
});
