import type { MintEndpoint } from '../../src/vidispine/endpoints';
import {
  errorForNetworkFailure,
  type MintContext,
  retryAfterMs,
  timeoutError,
  tokenFromAnswer,
  withoutSecrets,
} from '../../src/vidispine/classify';
import { CutAnswerError, type HttpAnswer } from '../../src/vidispine/transport';

const ctx: MintContext = {
  user: 'alice',
  mode: 'own',
  credential: { username: 'alice', kind: 'password', basicUser: 'alice' },
  secretSource: 'file /run/secrets/alice (VIDISPINE_PASSWORD_FILE)',
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
const admin: MintContext = {
  ...ctx,
  mode: 'admin',
  credential: { username: 'admin', kind: 'password', basicUser: 'admin' },
};
const runAs: MintContext = {
  ...ctx,
  mode: 'runAs',
  credential: { username: 'svc', kind: 'accessKey', basicUser: 'VSIDSVC0000000000001' },
};
const answer = (status: number, body = '', extra: Partial<HttpAnswer> = {}): HttpAnswer => ({
  status,
  body,
  truncated: false,
  ...extra,
});
const failure = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err as { reason: string; message: string; status?: number; retryAfterMs?: number };
  }
  throw new Error('expected a failure');
};
const token = (a: HttpAnswer, c = ctx, endpoint: MintEndpoint = 'token') =>
  tokenFromAnswer(a, endpoint, c);

describe('tokenFromAnswer', () => {
  it('names where the rejected password is set', () => {
    expect(failure(() => token(answer(401))).message).toBe(
      'Vidispine rejected the password of user "alice" (in file /run/secrets/alice (VIDISPINE_PASSWORD_FILE)): check it (HTTP 401 to GET /API/token)',
    );
  });

  it('gives a 404 its own reason: the URL is not the server root', () => {
    expect(failure(() => token(answer(404)))).toMatchObject({
      reason: 'not_found',
      status: 404,
      message:
        'Vidispine has neither GET /API/token nor GET /API/user/{user}/token under http://vidispine:8080: is VIDISPINE_URL the server root, without /API (e.g. http://vidispine:8080)? (HTTP 404 to GET /API/token)',
    });
  });

  it('trims the token', () => {
    expect(token(answer(200, '  VX-token-1\r\n'))).toBe('VX-token-1');
    expect(token(answer(200, 'a.b-c_d~e+f/g==', { contentType: 'text/plain;charset=utf-8' }))).toBe(
      'a.b-c_d~e+f/g==',
    );
    expect(token(answer(200, 'VX-1', { contentType: 'Text/Plain ; charset=utf-8' }))).toBe('VX-1');
  });

  it('takes a token only when the whole body has its shape', () => {
    for (const body of ['<b>VX-1', 'VX-1<br>', 'VX 1', `${'a'.repeat(4097)}`]) {
      expect(failure(() => token(answer(200, body)))).toMatchObject({
        reason: 'empty_token',
        message: expect.stringContaining('a body that is not a token'),
      });
    }
    expect(token(answer(200, 'a'.repeat(4096)))).toHaveLength(4096);
  });

  it('takes a token only from a 2xx answer', () => {
    for (const status of [199, 300]) {
      expect(failure(() => token(answer(status, 'VX-1')))).toMatchObject({
        reason: 'bad_request',
        status,
        message: expect.stringContaining('unexpected answer to the token request'),
      });
    }
    expect(token(answer(299, 'VX-1'))).toBe('VX-1');
  });

  it.each([
    [answer(200, ' \n'), 'empty_token', /empty body/],
    [answer(200, '<html>\n<body>hi</body>'), 'empty_token', /not a token.*VIDISPINE_URL points/],
    [answer(200, '{"token":"abc"}'), 'empty_token', /not a token/],
    [
      answer(200, '{"token":"abc"}', { contentType: 'application/json' }),
      'empty_token',
      /application\/json/,
    ],
    [
      answer(200, '<AuthenticationTokenDocument><token>t</token></AuthenticationTokenDocument>', {
        contentType: 'application/xml',
      }),
      'empty_token',
      /application\/xml instead of a token/,
    ],
    [answer(200, 'abc', { contentType: 'text/html' }), 'empty_token', /text\/html/],
    [{ status: 200, body: 'x', truncated: true }, 'empty_token', /not a token/],
    [answer(401), 'unauthorized', /password of user "alice" \(in file \/run\/secrets\/alice/],
    [answer(403), 'forbidden', /refused user "alice" a token/],
    [
      answer(409),
      'user_disabled',
      /^user "alice" is disabled in Vidispine: enable it, or remove it from the configuration \(HTTP 409/,
    ],
    [answer(400), 'bad_request', /60-second token.*userTokenMaxInterval/],
    [answer(404), 'not_found', /server root, without \/API/],
    [answer(429), 'rate_limited', /limiting requests/],
    [answer(302), 'bad_request', /VIDISPINE_URL points at VidiCore/],
    [answer(500), 'server_error', /server-side problem/],
    [answer(503), 'server_error', /unavailable, e\.g\. "No server available".*HTTP 503/],
  ])('classifies %j', (a, reason, message) => {
    const err = failure(() => token(a));
    expect(err.reason).toBe(reason);
    expect(err.message).toMatch(message);
    if (a.status !== 200) expect(err.status).toBe(a.status);
  });

  it('speaks of the admin account for admin-minted tokens', () => {
    const asAdmin = (a: HttpAnswer) => failure(() => token(a, admin, 'user_token')).message;
    expect(asAdmin(answer(401))).toMatch(
      /the password of the admin account "admin" .*, or refused it a token for "alice".*_administrator role \(HTTP 401/,
    );
    expect(asAdmin(answer(409))).toMatch(
      /^user "alice" is disabled in Vidispine, or the admin account "admin" that mints its tokens is .*enable whichever is \(HTTP 409/,
    );
    expect(asAdmin(answer(403))).toMatch(
      /"admin" may not create tokens for "alice".*_administrator/,
    );
    expect(asAdmin(answer(404))).toBe(
      'Vidispine has no GET /API/user/alice/token under http://vidispine:8080: is VIDISPINE_URL the server root, without /API (e.g. http://vidispine:8080)? If it is, user "alice" does not exist in Vidispine (HTTP 404 to GET /API/user/alice/token)',
    );
  });

  it('speaks of the RunAs account and its access key, and of a refused RunAs', () => {
    const asRunAs = (a: HttpAnswer) => failure(() => token(a, runAs, 'token_runas')).message;
    expect(asRunAs(answer(401))).toMatch(
      /access key VSIDSVC0000000000001 of the RunAs account "svc".*refused it RunAs "alice"/,
    );
    expect(asRunAs(answer(403))).toMatch(/"svc" may not run as "alice".*_runas/);
    expect(asRunAs(answer(409))).toMatch(/^user "alice" is disabled in Vidispine, or .*"svc"/);
    expect(asRunAs(answer(401))).toContain('GET /API/token (RunAs: alice)');
  });

  it.each<[string, string | undefined, RegExp]>([
    [
      'to https: the base URL it points at',
      'https://vidispine.example.com/API/token?seconds=60',
      /redirected the token request for "alice" to https:\/\/vidispine\.example\.com\/API\/token: the proxy follows no redirect.*set VIDISPINE_URL to https:\/\/vidispine\.example\.com if that is VidiCore.*\(HTTP 301 to GET \/API\/token\)$/,
    ],
    [
      'relative, under a path prefix',
      '/vs/API/token',
      /to http:\/\/vidispine:8080\/vs\/API\/token: .*set VIDISPINE_URL to http:\/\/vidispine:8080\/vs if/,
    ],
    [
      'to a login page, its query and credentials left out',
      'https://sso:hunter2@login.example.com/auth?ticket=SECRET123',
      /to https:\/\/login\.example\.com\/auth: .*set VIDISPINE_URL to https:\/\/login\.example\.com\/auth if/,
    ],
    [
      'at the root',
      '/API/token',
      /to http:\/\/vidispine:8080\/API\/token: .*set VIDISPINE_URL to http:\/\/vidispine:8080 if/,
    ],
    ['with no Location', undefined, /unexpected answer to the token request.*HTTP 301/],
    ['to another scheme', 'ftp://files.example.com/x', /unexpected answer to the token request/],
  ])('names where a redirect points, %s', (_what, location, message) => {
    const err = failure(() => token(answer(301, '', location === undefined ? {} : { location })));
    expect(err.reason).toBe('bad_request');
    expect(err.message).toMatch(message);
    expect(err.message).not.toMatch(/hunter2|SECRET123/);
  });

  it.each([
    [300, 'bad_request', /redirected the token request/],
    [304, 'bad_request', /redirected the token request/],
    [399, 'bad_request', /redirected the token request/],
    [400, 'bad_request', /60-second token/],
    [401, 'unauthorized', /rejected the password/],
    [429, 'rate_limited', /limiting requests/],
    [500, 'server_error', /server-side problem/],
    [199, 'bad_request', /unexpected answer/],
    [200, 'empty_token', /empty body/],
  ])('takes a Location for a redirect only on a 3xx: %i', (status, reason, message) => {
    const err = failure(() => token(answer(status, '', { location: 'https://vs.example.com/' })));
    expect(err.reason).toBe(reason);
    expect(err.message).toMatch(message);
  });

  it("quotes Vidispine's Reason header, one line", () => {
    const err = failure(() => token(answer(401, '', { reason: 'User was not found: alice\r\nX' })));
    expect(err.message).toContain('Vidispine says: "User was not found: alice??X"');
    const long = failure(() => token(answer(401, '', { reason: 'y'.repeat(300) })));
    expect(long.message).toContain(`Vidispine says: "${'y'.repeat(200)}…")`);
    const whole = failure(() => token(answer(401, '', { reason: 'y'.repeat(200) })));
    expect(whole.message).toContain(`Vidispine says: "${'y'.repeat(200)}")`);
  });

  it("quotes another media type one line, at most 200 characters: a front end's may be any length", () => {
    const shown = (contentType: string) =>
      failure(() => token(answer(200, '<html>', { contentType }))).message;
    expect(shown(`text/html\u0085${'x'.repeat(300)}; charset=utf-8`)).toContain(
      `with text/html?${'x'.repeat(190)}… instead of a token`,
    );
    expect(shown(`a/${'b'.repeat(198)}`)).toContain(`with a/${'b'.repeat(198)} instead of a token`);
  });

  it('quotes where a redirect points and the base URL it implies at most 200 characters each', () => {
    const path = `/vs/${'p'.repeat(300)}/API/token`;
    const err = failure(() => token(answer(302, '', { location: path })));
    const base = `http://vidispine:8080/vs/${'p'.repeat(300)}`.slice(0, 200);
    expect(err.message).toContain(`to ${base}…: the proxy follows no redirect`);
    expect(err.message).toContain(`set VIDISPINE_URL to ${base}… if that is VidiCore`);
  });

  it('carries Retry-After', () => {
    expect(failure(() => token(answer(503, '', { retryAfter: '3600' }))).retryAfterMs).toBe(
      3_600_000,
    );
    expect(failure(() => token(answer(429, '', { retryAfter: '7' }))).retryAfterMs).toBe(7_000);
  });
});

describe('withoutSecrets', () => {
  it('blanks each secret out of the Reason, in the order given', () => {
    const refused = answer(401, 'body stays', {
      reason: 'sent Basic YWxpY2U6cHc=, i.e. YWxpY2U6cHc= with pw, pw',
    });
    expect(withoutSecrets(refused, ['Basic YWxpY2U6cHc=', 'YWxpY2U6cHc=', 'pw'])).toEqual({
      ...refused,
      reason: 'sent [REDACTED], i.e. [REDACTED] with [REDACTED], [REDACTED]',
    });
  });

  it('leaves an answer without a Reason or a Location as it is', () => {
    const ok = answer(200, 'tok');
    expect(withoutSecrets(ok, ['tok'])).toBe(ok);
  });

  it('blanks each secret out of a Location, percent-encoded in any case of hex or not', () => {
    const moved = answer(302, '', { location: '/login/Basic%20YWxpY2U6cHc%3d/pw?to=Basic+x' });
    expect(withoutSecrets(moved, ['Basic YWxpY2U6cHc=', 'YWxpY2U6cHc=', 'pw'])).toEqual({
      ...moved,
      reason: undefined,
      location: '/login/[REDACTED]/[REDACTED]?to=Basic+x',
    });
  });

  it('decodes a character of several bytes whole, and keeps escapes that decode to none', () => {
    const moved = answer(302, '', { location: '/%FF/p%C3%A4ss%E2%82%AC/%C3' });
    expect(withoutSecrets(moved, ['päss€', 'not in it'])).toEqual({
      ...moved,
      reason: undefined,
      location: '/%FF/[REDACTED]/%C3',
    });
  });

  it('quotes a Location that carries no secret as sent, escapes and all', () => {
    const moved = answer(302, '', { location: '/log%20in/%2Fx', reason: 'moved' });
    expect(withoutSecrets(moved, ['pw'])).toEqual({ ...moved });
  });

  it('blanks a Reason of an answer without a Location, and leaves it without one', () => {
    const refused = answer(401, '', { reason: 'bad pw' });
    expect(withoutSecrets(refused, ['pw'])).toEqual({
      ...refused,
      reason: 'bad [REDACTED]',
      location: undefined,
    });
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates, and nothing else', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('120', now)).toBe(120_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:01:00 GMT', now)).toBe(60_000);
    expect(retryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(' 120 ', now)).toBe(120_000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs('12 seconds', now)).toBeUndefined();
    expect(retryAfterMs('x1', now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });

  it("measures an HTTP date from the answer's own Date: Vidispine's clock, not this one", () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    // Vidispine's clock 10 min ahead of ours, then 10 min behind: 5 s either way.
    const ahead = retryAfterMs(
      'Thu, 01 Jan 2026 00:10:05 GMT',
      now,
      'Thu, 01 Jan 2026 00:10:00 GMT',
    );
    expect(ahead).toBe(5_000);
    const behind = retryAfterMs(
      'Wed, 31 Dec 2025 23:50:05 GMT',
      now,
      'Wed, 31 Dec 2025 23:50:00 GMT',
    );
    expect(behind).toBe(5_000);
    // A date already past on Vidispine's clock: no wait of its own.
    expect(
      retryAfterMs('Thu, 01 Jan 2026 00:09:00 GMT', now, 'Thu, 01 Jan 2026 00:10:00 GMT'),
    ).toBe(0);
    // No Date, or one that is not a date: this clock is all there is.
    expect(retryAfterMs('Thu, 01 Jan 2026 00:01:00 GMT', now, 'soon')).toBe(60_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:01:00 GMT', now, undefined)).toBe(60_000);
    // Seconds are seconds, whatever the Date.
    expect(retryAfterMs('120', now, 'Thu, 01 Jan 2026 00:10:00 GMT')).toBe(120_000);
  });

  it("reads HTTP's three date formats, the Retry-After's and the Date's", () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const date = 'Thu, 01 Jan 2026 00:10:00 GMT';
    expect(retryAfterMs('Thu Jan  1 00:10:05 2026', now, date)).toBe(5_000);
    expect(retryAfterMs('Thursday, 01-Jan-26 00:10:05 GMT', now, date)).toBe(5_000);
    const asctime = 'Thu Jan  1 00:10:00 2026';
    expect(retryAfterMs('Thu, 01 Jan 2026 00:10:05 GMT', now, asctime)).toBe(5_000);
    expect(retryAfterMs('Thu Jan  1 00:01:00 2026', now)).toBe(60_000);
    expect(retryAfterMs('Thu Jan 12 00:00:30 2026', now, 'Mon Jan 12 00:00:00 2026')).toBe(30_000);
  });

  it('takes no other text for a date, however Date.parse would read it', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const at = 'Thu, 01 Jan 2026 00:01:00 GMT';
    // Date.parse makes 2001 of "1" and "soon 1": a wait of 25 years, cut to the backoff's cap.
    expect(retryAfterMs(at, now, '1')).toBe(60_000);
    expect(retryAfterMs(at, now, 'soon 1')).toBe(60_000);
    // Not an HTTP-date: a time with no zone (this machine's to Date.parse), an offset.
    expect(retryAfterMs(at, now, '2026-01-01 00:10:00')).toBe(60_000);
    expect(retryAfterMs(at, now, 'Thu, 01 Jan 2026 00:10:00 GMT+0100')).toBe(60_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:01:00 GMT+0100', now)).toBeUndefined();
    expect(retryAfterMs('2.5', now)).toBeUndefined();
    expect(retryAfterMs('-1', now, at)).toBeUndefined();
    // Two Dates, as Node joins them: neither is taken.
    expect(retryAfterMs(at, now, `${at}, Thu, 01 Jan 2026 00:00:30 GMT`)).toBe(60_000);
  });
});

describe('network failures', () => {
  const coded = (code: string) => Object.assign(new Error('boom'), { code });
  const https = { ...ctx, origin: 'https://vidispine:8080' };

  it.each(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'])('%s → network', (code) => {
    const err = errorForNetworkFailure(coded(code), ctx);
    expect(err.reason).toBe('network');
    expect(err.message).toContain(`cannot reach Vidispine at http://vidispine:8080 (${code})`);
  });

  const chainCodes = [
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'UNABLE_TO_GET_ISSUER_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  ];

  it.each(chainCodes)('%s → network with a caFile hint', (code) => {
    expect(errorForNetworkFailure(coded(code), ctx)).toMatchObject({
      reason: 'network',
      message: `TLS with http://vidispine:8080 failed (${code}): if VidiCore's certificate is signed by a private CA, set VIDISPINE_CA_FILE`,
    });
  });

  it.each(chainCodes)('%s with a CA file set → the file does not cover the chain', (code) => {
    const withCa = { ...ctx, caFile: '/etc/ssl/ca.pem' };
    expect(errorForNetworkFailure(coded(code), withCa).message).toBe(
      `TLS with http://vidispine:8080 failed (${code}): VIDISPINE_CA_FILE (/etc/ssl/ca.pem) does not cover this certificate's chain; put the CA that issued VidiCore's certificate in it (or have VidiCore send its intermediate certificates)`,
    );
  });

  it.each([{}, { caFile: '/etc/ssl/ca.pem' }])(
    'a certificate for another host → its own message, never the CA hint (%j)',
    (extra) => {
      const err = Object.assign(coded('ERR_TLS_CERT_ALTNAME_INVALID'), {
        cert: { subjectaltname: 'IP Address:10.0.0.5, DNS:vidispine\u0000x' },
      });
      expect(errorForNetworkFailure(err, { ...ctx, ...extra }).message).toBe(
        'TLS with http://vidispine:8080 failed (ERR_TLS_CERT_ALTNAME_INVALID): the certificate is not valid for host vidispine (it names IP Address:10.0.0.5, DNS:vidispine?x); use in VIDISPINE_URL the host name it was issued for, or reissue it with vidispine among its names',
      );
    },
  );

  it.each(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH'])(
    '%s → network, the host mismatch',
    (code) => {
      expect(errorForNetworkFailure(coded(code), ctx)).toMatchObject({
        reason: 'network',
        message: `TLS with http://vidispine:8080 failed (${code}): the certificate is not valid for host vidispine; use in VIDISPINE_URL the host name it was issued for, or reissue it with vidispine among its names`,
      });
    },
  );

  it('a host mismatch on an IPv6 URL names the address as a certificate would, unbracketed', () => {
    const err = Object.assign(coded('ERR_TLS_CERT_ALTNAME_INVALID'), {
      cert: { subjectaltname: 'DNS:localhost' },
    });
    expect(errorForNetworkFailure(err, { ...ctx, origin: 'https://[::1]:8443' }).message).toBe(
      'TLS with https://[::1]:8443 failed (ERR_TLS_CERT_ALTNAME_INVALID): the certificate is not valid for host ::1 (it names DNS:localhost); use in VIDISPINE_URL the host name it was issued for, or reissue it with ::1 among its names',
    );
  });

  // What a certificate's subjectaltname can be, and what the message makes of it.
  const long = `DNS:${'a'.repeat(300)}`;
  it.each<[string, unknown, string]>([
    ['no certificate', undefined, ''],
    ['a certificate without names', {}, ''],
    ['names that are not text', { subjectaltname: ['DNS:vidispine'] }, ''],
    ['no names', { subjectaltname: '' }, ''],
    [
      'control characters, and a name in another script',
      { subjectaltname: 'DNS:a\r\n\u009bDNS:b\u00e9' },
      ' (it names DNS:a???DNS:b\u00e9)',
    ],
    ['more than 200 characters', { subjectaltname: long }, ` (it names ${long.slice(0, 200)}…)`],
  ])('a host mismatch with %s', (_case, cert, names) => {
    const err = Object.assign(coded('HOSTNAME_MISMATCH'), cert === undefined ? {} : { cert });
    expect(errorForNetworkFailure(err, ctx).message).toBe(
      `TLS with http://vidispine:8080 failed (HOSTNAME_MISMATCH): the certificate is not valid for host vidispine${names}; use in VIDISPINE_URL the host name it was issued for, or reissue it with vidispine among its names`,
    );
  });

  it('another TLS failure gets neither hint', () => {
    expect(errorForNetworkFailure(coded('ERR_SSL_WRONG_VERSION_NUMBER'), ctx)).toMatchObject({
      reason: 'network',
      message:
        "TLS with http://vidispine:8080 failed (ERR_SSL_WRONG_VERSION_NUMBER): VidiCore's certificate or TLS setup was refused; check what it serves (openssl s_client -connect host:port)",
    });
  });

  it.each(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID'])('%s → network, check the clock', (code) => {
    expect(errorForNetworkFailure(coded(code), ctx)).toMatchObject({
      reason: 'network',
      message: `TLS with http://vidispine:8080 failed (${code}): the certificate is outside its validity period; check this machine's clock (date -u) against the certificate's dates, or renew the certificate`,
    });
  });

  it('says when an https URL meets a server without TLS', () => {
    const wrongVersion = Object.assign(
      new Error(
        'write EPROTO 80CC53A30D7F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/openssl/ssl/record/ssl3_record.c:355:\n',
      ),
      { code: 'EPROTO' },
    );
    expect(errorForNetworkFailure(wrongVersion, https)).toMatchObject({
      reason: 'network',
      message:
        'no TLS handshake with https://vidispine:8080 (EPROTO): the server does not speak TLS there; if VidiCore serves plain HTTP on that port, use http:// in VIDISPINE_URL',
    });
    // EPROTO over plain HTTP, the kernel's EPROTO (an ICMP parameter problem, no OpenSSL
    // line) over https, or another failure over https, is not that.
    expect(errorForNetworkFailure(wrongVersion, ctx).message).toMatch(/^cannot reach Vidispine/);
    expect(errorForNetworkFailure(coded('EPROTO'), https).message).toMatch(
      /^cannot reach Vidispine/,
    );
    expect(errorForNetworkFailure(coded('ECONNRESET'), https).message).toMatch(
      /^cannot reach Vidispine/,
    );
  });

  it('tells an alert the server ended the handshake with from a server without TLS', () => {
    const line = (reason: string, data: string) =>
      `write EPROTO 80CC53A30D7F0000:error:0A000410:SSL routines:ssl3_read_bytes:${reason}:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:${data}\n`;
    const alert = Object.assign(
      new Error(line('sslv3 alert handshake failure', 'SSL alert number 40')),
      {
        code: 'EPROTO',
      },
    );
    expect(errorForNetworkFailure(alert, https)).toMatchObject({
      reason: 'network',
      message:
        'TLS with https://vidispine:8080 failed (sslv3 alert handshake failure, SSL alert number 40): VidiCore refused the handshake; check the TLS versions and cipher suites it accepts and whether it asks for a client certificate (openssl s_client -connect host:port)',
    });
    const plain = Object.assign(new Error(line('wrong version number', '')), { code: 'EPROTO' });
    expect(errorForNetworkFailure(plain, https).message).toMatch(/^no TLS handshake with /);
  });

  // unrecognized_name (112): the server speaks TLS and serves no name like the one sent in SNI.
  // OpenSSL's reason for it ("tlsv1 unrecognized name") has no "alert" in it: told as a port
  // without TLS, it sent the operator to switch to http://.
  it('tells an unrecognized_name alert as the host name, not as a port without TLS', () => {
    const err = Object.assign(
      new Error(
        'write EPROTO 40ED8C60A57F0000:error:0A000458:SSL routines:ssl3_read_bytes:tlsv1 unrecognized name:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:918:SSL alert number 112\n',
      ),
      { code: 'EPROTO' },
    );
    expect(errorForNetworkFailure(err, https)).toMatchObject({
      reason: 'network',
      message:
        'TLS with https://vidispine:8080 failed (tlsv1 unrecognized name, SSL alert number 112): VidiCore serves no TLS for the host name in VIDISPINE_URL, which it is sent as the server name (SNI); use there a name VidiCore is set up for (openssl s_client -connect host:port -servername name)',
    });
  });

  // Other alerts whose reason lacks the word, told by OpenSSL's data alone.
  it.each([
    ['tlsv1 unsupported extension', 110],
    ['tlsv1 certificate unobtainable', 111],
    ['tlsv1 bad certificate status response', 113],
  ])('tells %s as an alert', (reason, n) => {
    const err = Object.assign(
      new Error(
        `write EPROTO 80CC53A30D7F0000:error:0A000000:SSL routines:ssl3_read_bytes:${reason}:../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1601:SSL alert number ${n}\n`,
      ),
      { code: 'EPROTO' },
    );
    expect(errorForNetworkFailure(err, https).message).toBe(
      `TLS with https://vidispine:8080 failed (${reason}, SSL alert number ${n}): VidiCore refused the handshake; check the TLS versions and cipher suites it accepts and whether it asks for a client certificate (openssl s_client -connect host:port)`,
    );
  });

  // Node's parser refuses a TLS record where a status line belongs: an alert, or a handshake.
  const refused = (bytes: number[] | string) =>
    Object.assign(coded('HPE_INVALID_CONSTANT'), { rawPacket: Buffer.from(bytes as string) });

  it.each([
    ['an alert', [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46]],
    ['a handshake', [0x16, 0x03, 0x01, 0x00, 0x05]],
  ])('says when an http URL meets a server that answers TLS: %s', (_case, bytes) => {
    expect(errorForNetworkFailure(refused(bytes), ctx)).toMatchObject({
      reason: 'network',
      message:
        'Vidispine answered TLS at http://vidispine:8080 (HPE_INVALID_CONSTANT): use https:// in VIDISPINE_URL',
    });
    // Over https, that is not it: the handshake was done, and the HTTP after it is not HTTP.
    expect(errorForNetworkFailure(refused(bytes), https).message).toBe(
      "Vidispine at https://vidispine:8080 answered, but not in HTTP (HPE_INVALID_CONSTANT): check that VIDISPINE_URL names VidiCore's HTTP port, and any gateway in front of it",
    );
  });

  it.each([
    ['other bytes', 'SSH-2.0-OpenSSH\r\n'],
    ['a first byte alone', [0x16]],
    ['another second byte', [0x16, 0x02, 0x00]],
    ['another first byte', [0x17, 0x03, 0x03]],
  ])('takes %s for no TLS record, but for an answer in no HTTP', (_case, bytes) => {
    expect(errorForNetworkFailure(refused(bytes), ctx)).toMatchObject({
      reason: 'network',
      message:
        "Vidispine at http://vidispine:8080 answered, but not in HTTP (HPE_INVALID_CONSTANT): check that VIDISPINE_URL names VidiCore's HTTP port, and any gateway in front of it",
    });
  });

  it('takes only a parser error for an answer in no HTTP', () => {
    expect(errorForNetworkFailure(coded('HPE_HEADER_OVERFLOW'), ctx).message).toMatch(
      /^Vidispine at http:\/\/vidispine:8080 answered, but not in HTTP \(HPE_HEADER_OVERFLOW\)/,
    );
    expect(errorForNetworkFailure(coded('EHPE'), ctx).message).toMatch(/^cannot reach/);
  });

  it('says a reset over http may be a TLS port', () => {
    // A TLS server that closes at the plain request (Node's, Java's) leaves no more than that.
    expect(errorForNetworkFailure(coded('ECONNRESET'), ctx)).toMatchObject({
      reason: 'network',
      message:
        'Vidispine at http://vidispine:8080 closed the connection without an answer (ECONNRESET): if it serves https on that port, use https:// in VIDISPINE_URL; else check that VidiCore is running',
    });
    expect(errorForNetworkFailure(coded('ECONNREFUSED'), ctx).message).toMatch(/^cannot reach/);
  });

  it('says an answer cut off mid-body was cut off, whatever the scheme', () => {
    // It answered, so the scheme is right: no hint at https.
    for (const c of [ctx, https]) {
      expect(errorForNetworkFailure(new CutAnswerError(200, coded('ECONNRESET')), c)).toEqual(
        expect.objectContaining({
          reason: 'network',
          message: `Vidispine at ${c.origin} answered HTTP 200 but closed the connection before the answer ended (ECONNRESET): check VidiCore's log, and that of any gateway in front of it; usually temporary`,
        }),
      );
    }
  });

  it('names a failure without a code by its class, or as an error', () => {
    expect(errorForNetworkFailure(new TypeError('bad'), ctx).message).toContain('(TypeError)');
    expect(errorForNetworkFailure('thrown text', ctx).message).toBe(
      'cannot reach Vidispine at http://vidispine:8080 (error): check VIDISPINE_URL and that VidiCore is running',
    );
  });

  it('names the mint timeout', () => {
    expect(timeoutError(ctx, true)).toMatchObject({
      reason: 'timeout',
      message:
        'no answer from Vidispine at http://vidispine:8080 within 10 s (VIDISPINE_MINT_TIMEOUT_SECONDS): is it overloaded?',
    });
  });

  it('names an answer whose rest did not arrive within the mint timeout as slow, not missing', () => {
    expect(timeoutError(ctx, true, 200)).toMatchObject({
      reason: 'timeout',
      message:
        'Vidispine at http://vidispine:8080 answered HTTP 200 but the rest of the answer did not arrive within 10 s (VIDISPINE_MINT_TIMEOUT_SECONDS): is it overloaded, or is a gateway in front of it holding the answer back?',
    });
  });

  it('names a connection that never opened within the mint timeout as dropped on the way', () => {
    expect(timeoutError(ctx, false)).toMatchObject({
      reason: 'timeout',
      message:
        "the connection to Vidispine at http://vidispine:8080 did not open within 10 s (VIDISPINE_MINT_TIMEOUT_SECONDS): nothing answered it, as when a firewall or a Kubernetes NetworkPolicy drops it (the Helm chart's networkPolicy.vidispine must admit where Vidispine runs); check VIDISPINE_URL and that the network lets the proxy reach it",
    });
  });
});
