/** What to do on the first and on any later shutdown signal. */
export interface ShutdownHandlers {
  /** First signal: stop reading, drain, report, exit 128+N. */
  graceful: (signal: NodeJS.Signals) => void;
  /** Second signal: the user means it — exit now, without draining. */
  immediate: (signal: NodeJS.Signals) => void;
}

export const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

/**
 * Traps SIGINT/SIGTERM: the first one (of either kind) calls `graceful`, every
 * later one `immediate`. Returns a function that removes the handlers again.
 */
export function trapShutdownSignals(handlers: ShutdownHandlers, signals: readonly NodeJS.Signals[] = SHUTDOWN_SIGNALS): () => void {
  let received = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    received++;
    if (received === 1) handlers.graceful(signal);
    else handlers.immediate(signal);
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
