import { renewalInWords, type UserSetup } from '../../src/ops/status';

const setup: UserSetup = {
  user: 'alice',
  listen: '127.0.0.1:8080',
  credential: 'own password',
  secretSource: 'VIDISPINE_PASSWORD',
  configuredSeconds: 60,
  autoRefresh: false,
  serverRefreshIntervalSeconds: 10,
};

describe('the mode and lifetime in words', () => {
  it.each([
    [setup, 60, 'renews at ~70 % of 60 s'],
    [setup, 20, 'renews at ~70 % of 20 s (60 s asked, but Vidispine ends them after about 20 s)'],
    [
      { ...setup, autoRefresh: true, configuredSeconds: 3600, serverRefreshIntervalSeconds: 30 },
      3600,
      'kept alive by autoRefresh: each use pushes expiry 3600 s ahead (at most every 30 s); minted again when idle',
    ],
  ])('%#', (user, lifetime, words) => {
    expect(renewalInWords(user, lifetime, 0.7)).toBe(words);
  });
});
