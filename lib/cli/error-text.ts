/** The code a report groups an error under: its cause's, else its own, else 'error'. */
export function errorCode(error: Error): string {
  const cause = error.cause;
  const code = (cause as { code?: unknown } | undefined)?.code ?? (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'error';
}

/** The message, plus the cause's when there is one ("flush failed after 3 attempt(s): ..." already includes it). */
export function describeError(error: Error): string {
  const cause = error.cause;
  if (cause instanceof Error && !error.message.includes(cause.message)) return `${error.message}: ${cause.message}`;
  return error.message;
}
