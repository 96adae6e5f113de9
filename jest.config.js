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
};
