/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  // Jest's default fake timers also freeze process.nextTick and queueMicrotask,
  // which Node streams need to make progress at all.
  fakeTimers: { doNotFake: ['nextTick', 'queueMicrotask'] },
  testTimeout: 30000,
  // Two workers whatever the core count (Jest's default is cores − 1: one on a 2-core machine). Most of
  // the suite's time is spent waiting on child processes, pipes, servers and timers, not on the CPU, so
  // two files at once nearly halve the wall time there; on larger machines it leaves cores for them.
  maxWorkers: 2,
};
