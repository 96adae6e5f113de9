/** What to do on the first and on any later shutdown signal. */
export interface ShutdownHandlers {
  /** First graceful signal: stop reading, drain, report, exit 128+N. */
  graceful: (signal: NodeJS.Signals) => void;
  /** A later signal, or an immediate one (SIGQUIT): the user means it — exit now, without draining. */
  immediate: (signal: NodeJS.Signals) => void;
}

/**
 * Signals that stop the CLI gracefully. SIGHUP is one of them: closing the terminal of
 * `tail -F … | backpressure` must drain and report like Ctrl-C, not kill it with records held.
 */
export const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Signals that mean "quit now" from the start: SIGQUIT (Ctrl-\). Handled like a second Ctrl-C —
 * no draining, but the record being written is finished and the summary says what was lost —
 * rather than left to the default action, which would end the process with no account at all.
 */
export const IMMEDIATE_SIGNALS: readonly NodeJS.Signals[] = ['SIGQUIT'];

/**
 * Traps the shutdown signals: the first graceful one (of any kind) calls `graceful`, every later
 * one — and any immediate one — `immediate`. Returns a function that removes the handlers again.
 */
export function trapShutdownSignals(
  handlers: ShutdownHandlers,
  signals: readonly NodeJS.Signals[] = SHUTDOWN_SIGNALS,
  immediateSignals: readonly NodeJS.Signals[] = IMMEDIATE_SIGNALS,
): () => void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    received++;
    if (received === 1) handlers.graceful(signal);
    else handlers.immediate(signal);
  };
  const onImmediate = (signal: NodeJS.Signals): void => {
    received++;
    handlers.immediate(signal);
  };
  for (const signal of signals) process.on(signal, onSignal);
  for (const signal of immediateSignals) process.on(signal, onImmediate);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
    for (const signal of immediateSignals) process.off(signal, onImmediate);
  };
}
