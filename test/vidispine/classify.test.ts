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
  settings: {
    url: 'VIDISPINE_URL',
    seconds: 'TOKEN_SECONDS',
    caFile: 'VIDISPINE_CA_FILE',
    mintTimeout: 'VIDISPINE_MINT_TIMEOUT_SECONDS',
  },
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
  it('names where the rejected password is set, and nothing about re-reading it', () => {
    expect(failure(() => tokenFromAnswer(answer(401), ctx)).message).toBe(
      'Vidispine rejected the credentials of user "alice": check the password in file /run/secrets/alice (HTTP 401)',
    );
  });

  it('gives a 404 its own reason: the URL is not the server root', () => {
    expect(failure(() => tokenFromAnswer(answer(404), ctx))).toMatchObject({
      reason: 'not_found',
      status: 404,
      message:
        'Vidispine has no GET /API/token under http://vidispine:8080: is VIDISPINE_URL the server root, without /API (e.g. http://vidispine:8080)? (HTTP 404)',
    });
  });

  it('trims the token', () => {
    expect(tokenFromAnswer(answer(200, '  VX-token-1\r\n'), ctx)).toBe('VX-token-1');
  });

  it.each([
    [answer(200, ' \n'), 'empty_token', /empty body/],
    [answer(200, '<html>\n<body>hi</body>'), 'empty_token', /not a token.*VIDISPINE_URL points/],
    [{ status: 200, body: 'x', truncated: true }, 'empty_token', /not a token/],
    [answer(401), 'unauthorized', /credentials of user "alice".*file \/run\/secrets\/alice/],
    [answer(403), 'forbidden', /refused user "alice" a token/],
    [answer(409), 'user_disabled', /"alice" is disabled/],
    [answer(400), 'bad_request', /60-second token.*userTokenMaxInterval/],
    [answer(404), 'not_found', /server root, without \/API/],
    [answer(302), 'bad_request', /VIDISPINE_URL points at VidiCore/],
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
    expect(failure(() => tokenFromAnswer(answer(404), admin)).message).toBe(
      'Vidispine has no GET /API/user/alice/token under http://vidispine:8080: is VIDISPINE_URL the server root, without /API (e.g. http://vidispine:8080)? If it is, user "alice" does not exist in Vidispine (HTTP 404)',
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
  ])('%s → network with a caFile hint', (code) => {
    expect(errorForNetworkFailure(coded(code), ctx).message).toBe(
      `TLS with http://vidispine:8080 failed (${code}): if VidiCore's certificate is signed by a private CA, set VIDISPINE_CA_FILE`,
    );
  });

  it.each(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID'])('%s → network, check the clock', (code) => {
    expect(errorForNetworkFailure(coded(code), ctx).message).toBe(
      `TLS with http://vidispine:8080 failed (${code}): the certificate is outside its validity period; check this machine's clock (date -u) against the certificate's dates, or renew the certificate`,
    );
  });

  it('says when an https URL meets a server without TLS', () => {
    const https = { ...ctx, origin: 'https://vidispine:8080' };
    expect(errorForNetworkFailure(coded('EPROTO'), https).message).toBe(
      'no TLS handshake with https://vidispine:8080 (EPROTO): the server does not speak TLS there; if VidiCore serves plain HTTP on that port, use http:// in VIDISPINE_URL',
    );
  });

  it('names the mint timeout', () => {
    expect(timeoutError(ctx)).toMatchObject({
      reason: 'timeout',
      message: expect.stringContaining('within 10 s (VIDISPINE_MINT_TIMEOUT_SECONDS)'),
    });
  });
});
