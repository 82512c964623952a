/**
 * The fast unit tests of the policy modules: small pure functions (and the secret reader,
 * over temporary files), no sockets, no servers, no build. Mutation testing
 * (stryker.config.mjs) runs these per mutant; the full suite (jest.config.js) runs them too.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  rootDir: '.',
  roots: ['<rootDir>/test'],
  testMatch: [
    '<rootDir>/test/proxy/policy.test.ts',
    '<rootDir>/test/proxy/headers.test.ts',
    '<rootDir>/test/proxy/admission.test.ts',
    '<rootDir>/test/tokens/policies.test.ts',
    '<rootDir>/test/vidispine/classify.test.ts',
    '<rootDir>/test/config/secrets.test.ts',
  ],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
};
