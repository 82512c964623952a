import {
  errorForNetworkFailure,
  type MintContext,
  timeoutError,
  tokenFromAnswer,
} from '../../src/vidispine/classify';

const ctx: MintContext = {
  user: 'alice',
  endpoint: 'token',
  caller: 'alice',
  secretSource: 'file /run/secrets/alice',
  seconds: 60,
  origin: 'http://vidispine:8080',
  timeoutSeconds: 10,
};
const admin: MintContext = { ...ctx, endpoint: 'user_token', caller: 'admin' };
const answer = (status: number, body = '') => ({ status, body, truncated: false });
const failure = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err as { reason: string; message: string; status?: number };
  }
  throw new Error('expected a failure');
};

describe('tokenFromAnswer', () => {
  it('trims the token', () => {
    expect(tokenFromAnswer(answer(200, '  VX-token-1\r\n'), ctx)).toBe('VX-token-1');
  });

  it.each([
    [answer(200, ' \n'), 'empty_token', /empty body/],
    [answer(200, '<html>\n<body>hi</body>'), 'empty_token', /not a token.*vidispine\.url/],
    [{ status: 200, body: 'x', truncated: true }, 'empty_token', /not a token/],
    [answer(401), 'unauthorized', /credentials of user "alice".*file \/run\/secrets\/alice/],
    [answer(403), 'forbidden', /refused user "alice" a token/],
    [answer(409), 'user_disabled', /"alice" is disabled/],
    [answer(400), 'bad_request', /60-second token.*userTokenMaxInterval/],
    [answer(404), 'bad_request', /points at VidiCore/],
    [answer(302), 'bad_request', /points at VidiCore/],
    [answer(500), 'server_error', /server-side problem/],
    [answer(503), 'server_error', /HTTP 503/],
  ])('classifies %j', (a, reason, message) => {
    const err = failure(() => tokenFromAnswer(a, ctx));
    expect(err.reason).toBe(reason);
    expect(err.message).toMatch(message);
    if (a.status !== 200) expect(err.status).toBe(a.status);
  });

  it('speaks of the admin credential for admin-minted tokens', () => {
    expect(failure(() => tokenFromAnswer(answer(401), admin)).message).toMatch(
      /admin credential "admin"/,
    );
    expect(failure(() => tokenFromAnswer(answer(403), admin)).message).toMatch(
      /"admin" may not create tokens for "alice".*_administrator/,
    );
    expect(failure(() => tokenFromAnswer(answer(404), admin)).message).toMatch(
      /"alice" does not exist/,
    );
  });
});

describe('network failures', () => {
  const coded = (code: string) => Object.assign(new Error('boom'), { code });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN'])('%s → network', (code) => {
    const err = errorForNetworkFailure(coded(code), ctx);
    expect(err.reason).toBe('network');
    expect(err.message).toContain(`cannot reach Vidispine at http://vidispine:8080 (${code})`);
  });

  it.each([
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'CERT_HAS_EXPIRED',
  ])('%s → network with a caFile hint', (code) => {
    expect(errorForNetworkFailure(coded(code), ctx).message).toMatch(
      /TLS with .* failed.*vidispine\.caFile/,
    );
  });

  it('names the mint timeout', () => {
    expect(timeoutError(ctx)).toMatchObject({
      reason: 'timeout',
      message: expect.stringContaining('within 10 s (vidispine.mintTimeoutSeconds)'),
    });
  });
});
