import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type KeyNames, YAML_NAMES } from '../../src/config/errors';
import { proxyEnvironment } from '../../src/config/env';
import { RecentRequests } from '../../src/ops/recent-requests';
import { renewalInWords, statusReport, type UserSetup } from '../../src/ops/status';
import { ScriptedTokens, scriptedSetup } from '../support/ops';

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
    [setup, 60, 5, 'renews at ~70 % of the usable 55 s (60 s lifetime − 5 s margin)'],
    [
      setup,
      10,
      0.5,
      'renews at ~70 % of the usable 9.5 s (10 s lifetime − 0.5 s margin; 60 s asked, but Vidispine ends them after about 10 s)',
    ],
    [
      { ...setup, autoRefresh: true, configuredSeconds: 3600, serverRefreshIntervalSeconds: 30 },
      3600,
      5,
      'kept alive by autoRefresh: each use pushes expiry 3600 s ahead (at most every 30 s); minted again when idle',
    ],
  ])('%#', (user, seconds, marginSeconds, words) => {
    expect(renewalInWords(user, { seconds, marginSeconds }, 0.7)).toBe(words);
  });
});

it("is worded as the README's examples of /status", () => {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8').replace(
    /\s+/g,
    ' ',
  );
  expect(readme).toContain(renewalInWords(setup, { seconds: 60, marginSeconds: 5 }, 0.7));
  expect(readme).toContain(renewalInWords(setup, { seconds: 20, marginSeconds: 2 }, 0.7));
});

describe('the hint of the last error', () => {
  it('names settings as the configuration does: TOKEN_SECONDS from the environment, token.seconds in a file', () => {
    const hintWith = (names: KeyNames): string | undefined => {
      const tokens = new ScriptedTokens(['alice'], () => 0);
      tokens.failed('alice', 'bad_request', 'HTTP 400 from GET /API/token');
      const report = statusReport(
        { ...scriptedSetup(['alice']), names },
        { tokens, recent: new RecentRequests() },
        { ok: false, shuttingDown: false },
        0,
      );
      return report.users[0].lastError?.hint;
    };
    expect(hintWith(proxyEnvironment.names)).toContain('TOKEN_SECONDS may exceed');
    expect(hintWith(proxyEnvironment.names)).not.toContain('token.seconds');
    expect(hintWith(YAML_NAMES)).toContain('token.seconds may exceed');
  });
});
