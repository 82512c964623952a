import { type KeyNames, YAML_NAMES } from '../../src/config/errors';
import { proxyEnvironment } from '../../src/config/env';
import { logTokenEvents } from '../../src/ops/token-log';
import { MINT_FAILURE_REASONS, MINT_FAILURES, mintFailureHint } from '../../src/vidispine/failures';
import { MAY_PASS, OPERATOR_MUST_FIX } from '../support/mint-failures';
import { captureLogs, ScriptedTokens } from '../support/ops';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function setup(names: KeyNames = YAML_NAMES) {
  const capture = captureLogs('info');
  const tokens = new ScriptedTokens(['ingest'], () => T0);
  logTokenEvents(tokens, capture.logger, names);
  return { tokens, lines: capture.lines };
}

describe('token event log', () => {
  it('logs one line per mint with user, endpoint, lifetime, duration and result', () => {
    const { tokens, lines } = setup();
    tokens.minted('ingest', 60, 0.0123);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'info',
        event: 'token_minted',
        user: 'ingest',
        endpoint: 'token',
        result: 'success',
        lifetimeSeconds: 60,
        durationMs: 12,
        expiresAt: '2026-01-01T00:01:00.000Z',
        msg: 'minted a token for ingest via GET /API/token (60 s lifetime, 12 ms)',
      }),
    ]);
  });

  it('logs failures with the reason and what to do; configuration problems as errors', () => {
    const { tokens, lines } = setup();
    tokens.failed('ingest', 'unauthorized', 'HTTP 401 from GET /API/token');
    tokens.failed('ingest', 'network', 'connect ECONNREFUSED 127.0.0.1:1');
    expect(lines[0]).toMatchObject({
      level: 'error',
      event: 'token_mint_failed',
      result: 'failure',
      reason: 'unauthorized',
      error: 'HTTP 401 from GET /API/token',
      retryInMs: 2000,
      hint: expect.stringContaining('access key ID and secret'),
    });
    expect(lines[1]).toMatchObject({
      level: 'warn',
      reason: 'network',
      hint: expect.stringContaining('the Vidispine URL'),
    });
  });

  it('logs failures only an operator can fix as errors, passing ones as warnings', () => {
    const { tokens, lines } = setup();
    for (const reason of MINT_FAILURE_REASONS) tokens.failed('ingest', reason, 'failed');
    expect(lines.filter((l) => l.level === 'error').map((l) => l.reason)).toEqual(
      OPERATOR_MUST_FIX,
    );
    expect(lines.filter((l) => l.level === 'warn').map((l) => l.reason)).toEqual(MAY_PASS);
  });

  it('says that only a secret file picks up a rotated Secret without a restart', () => {
    const { hint } = MINT_FAILURES.unauthorized;
    expect(hint).toContain('a secret file is read again before every attempt');
    expect(hint).toContain('given in an environment variable needs a restart');
    expect(hint).not.toMatch(/file or variable is read again/);
  });

  it('has a hint for every failure reason of the contract', () => {
    expect(MINT_FAILURE_REASONS.filter((reason) => !mintFailureHint(reason, YAML_NAMES))).toEqual(
      [],
    );
  });

  it('logs expiry, invalidation and lifetime learning', () => {
    const { tokens, lines } = setup();
    tokens.expired('ingest');
    tokens.invalidated('ingest');
    tokens.learned('ingest', 3600, 60);
    expect(lines.map((l) => [l.level, l.event])).toEqual([
      ['error', 'token_expired'],
      ['warn', 'token_invalidated'],
      ['warn', 'token_lifetime_learned'],
    ]);
    expect(lines[2]).toMatchObject({
      configuredSeconds: 3600,
      observedSeconds: 60,
      hint: expect.stringContaining('token.seconds'),
    });
  });

  it('says when a dropped token is replaced: at once, when the backoff allows, or already', () => {
    const { tokens, lines } = setup();
    tokens.invalidated('ingest', 0);
    tokens.invalidated('ingest', 4_200);
    tokens.invalidated('ingest', null);
    const said =
      'Vidispine no longer takes the token of ingest (401, confirmed with GET /API/whoami); ';
    expect(lines.map((l) => [l.msg, l.retryInMs])).toEqual([
      [`${said}minting a new one`, 0],
      [`${said}minting a new one in 5 s, when the backoff allows`, 4_200],
      [`${said}a newer token is already in use`, null],
    ]);
  });

  it('says when a 401 could not be checked because the server has no GET /API/whoami', () => {
    const { tokens, lines } = setup();
    tokens.invalidated('ingest', 0, 'unauthorized_unchecked');
    tokens.checked('ingest', 'unavailable', true);
    tokens.checked('ingest', 'unavailable', false);
    expect(lines.map((l) => [l.level, l.event, l.cause ?? l.result])).toEqual([
      ['warn', 'token_invalidated', 'unauthorized_unchecked'],
      ['info', 'token_checked', 'unavailable'],
    ]);
    expect(lines[0].msg).toBe(
      "Vidispine no longer takes the token of ingest (401; the server has no GET /API/whoami to check it, so it is taken as the token's); minting a new one",
    );
    expect(lines[1].hint).toMatch(/no GET \/API\/whoami .* passed on and the token kept/);
  });

  it('says when a token GET /API/whoami calls dead is kept, the replacement budget spent', () => {
    const { tokens, lines } = setup();
    tokens.checked('ingest', 'dead', true);
    tokens.checked('ingest', 'dead', false);
    expect(lines.map((l) => [l.level, l.event, l.result])).toEqual([
      ['info', 'token_checked', 'dead'],
    ]);
    expect(lines[0].msg).toBe(
      'a 401 for ingest was checked: the token is dead by GET /API/whoami, but kept for now',
    );
    expect(lines[0].hint).toMatch(/replacement budget .* passed on and the token kept/);
  });

  it('names settings in hints as an environment-only configuration does', () => {
    const { tokens, lines } = setup(proxyEnvironment.names);
    tokens.learned('ingest', 3600, 60);
    tokens.failed('ingest', 'bad_request', 'HTTP 400 from GET /API/token');
    expect(lines.map((l) => l.hint)).toEqual([
      expect.stringContaining('lower TOKEN_SECONDS for this user'),
      expect.stringContaining('TOKEN_SECONDS may exceed'),
    ]);
    expect(lines.map((l) => l.hint).join()).not.toContain('token.seconds');
  });

  it('says what a bad_request other than a 400 means: a redirect is no reason to lower the seconds', () => {
    const { tokens, lines } = setup(proxyEnvironment.names);
    tokens.failed('ingest', 'bad_request', 'HTTP 302 from GET /API/token');
    expect(lines[0].hint).toMatch(/400: TOKEN_SECONDS may exceed/);
    expect(lines[0].hint).toMatch(/redirect .*VIDISPINE_URL/);
  });

  it('names them as a YAML file does', () => {
    const { tokens, lines } = setup(YAML_NAMES);
    tokens.failed('ingest', 'bad_request', 'HTTP 400 from GET /API/token');
    expect(lines[0].hint).toContain('token.seconds may exceed');
  });
});
