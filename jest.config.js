/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  reporters: [
    'default',
    '<rootDir>/test/support/summary-reporter.js',
    '<rootDir>/test/support/exit-watchdog.js',
  ],
  testTimeout: 30000,
  // Concurrent tests mostly wait in real time (tokens running out, backoffs). With 8 at a time
  // instead of jest's 5, the seven faults of test/reliability/faults-token-short.test.ts and
  // the six tests of faults-token-config.test.ts each run in one wave instead of two.
  maxConcurrency: 8,
};
