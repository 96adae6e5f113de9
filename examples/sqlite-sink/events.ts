/** One generated event: what the example stores in SQLite. */
export interface DemoEvent {
  /** 1, 2, 3, … in generation order: the test checks every id arrives exactly once. */
  id: number;
  /** Generation time (ms since epoch). */
  ts: number;
  kind: string;
  payload: string;
}

const KINDS = ['click', 'view', 'purchase', 'signup'] as const;

/**
 * A producer much faster than any disk: it yields as fast as the consumer
 * pulls, with no I/O of its own. `pipeline()` pulls the next event only while
 * `write()` returns true, so BLOCK alone keeps it from running ahead.
 */
export async function* generateEvents(count: number): AsyncGenerator<DemoEvent> {
  for (let id = 1; id <= count; id++) {
    yield {
      id,
      ts: Date.now(),
      kind: KINDS[id % KINDS.length] as string,
      payload: `{"user":${id % 97},"value":${(id * 7919) % 1000}}`,
    };
  }
}
