/**
 * Mutation testing of the policy modules (`npm run test:mutation`): the small pure functions
 * that carry the proxy's rules. Every mutant must be killed by their fast unit tests
 * (jest.policy.config.js), which run per mutant, so a run takes minutes; each module must
 * score 95 % or more (scripts/mutation-floor.mjs checks each one; Stryker's break checks the
 * total). A mutant no test can tell from the original carries a `Stryker disable` comment
 * saying why.
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  testRunner: 'jest',
  jest: { projectType: 'custom', configFile: 'jest.policy.config.js' },
  // Only the tests that cover a mutant run against it.
  coverageAnalysis: 'perTest',
  mutate: [
    'src/proxy/headers.ts',
    'src/proxy/target.ts',
    'src/proxy/replay.ts',
    'src/proxy/framing.ts',
    'src/proxy/admission.ts',
    'src/proxy/authority.ts',
    'src/proxy/identity.ts',
    'src/tokens/backoff.ts',
    'src/tokens/renew-policy.ts',
    'src/tokens/sliding-expiry.ts',
    'src/tokens/lifetime-learning.ts',
    'src/vidispine/classify.ts',
    'src/config/secrets.ts',
  ],
  thresholds: { high: 98, low: 95, break: 95 },
  // Each run re-tests only the mutants whose code or covering tests changed since the results
  // committed in this file, and writes it anew (commit it with the change); `--force` runs
  // every mutant, which the committed file should come from: Stryker cannot see every change
  // that matters (a new row in a test table, code outside these modules).
  incremental: true,
  incrementalFile: 'stryker-incremental.json',
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  // The table and every surviving mutant, without the list of tests.
  clearTextReporter: { reportTests: false },
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  // The sandbox holds what the policy tests need, not the whole repository.
  ignorePatterns: [
    '/*',
    '!/src',
    '!/test',
    '!/package.json',
    '!/tsconfig.json',
    '!/.swcrc',
    '!/jest.policy.config.js',
  ],
};
