/**
 * Lets queued nextTicks and microtasks run (the jest config never fakes them), `rounds` turns deep: enough for a
 * write to pass through a stage, the writable and a resolved flush without advancing any timer.
 */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => process.nextTick(resolve));
}

/**
 * Lets microtasks run, and only microtasks, `rounds` deep: a nextTick queued meanwhile has not run when it returns
 * (what a producer running as a chain of microtasks does to Node's pipe() machinery).
 */
export async function microtasks(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}
