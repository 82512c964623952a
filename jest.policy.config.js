/**
 * The fast unit tests of the policy modules: small pure functions, no sockets, no child
 * processes, no build. Mutation testing (stryker.config.json) runs these per mutant; the
 * full suite (jest.config.js) runs them too.
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
  ],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
};
