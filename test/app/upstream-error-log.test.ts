/**
 * A request Vidispine does not answer is logged once, as the `upstream_error` event naming
 * the user it was for and what went wrong: plain requests and WebSocket upgrades alike, and
 * every line the failure writes carries an `event`. The detail is the error's own words,
 * as nginx's error log gives them, never the token the request carried.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createTestCa } from '../support/certificates';
import { tempFolder } from '../support/files';
import { call } from '../support/http';
import { closedPort } from '../support/net';
import { header, startRawUpstream, type RawUpstream } from '../support/raw-upstream';
import { startApp, type AppOptions, type RunningApp } from '../support/app';
import { until } from '../support/wait';

type Line = Record<string, unknown>;

/** The app forwarding to what `forwardTo` gives; closed after the block's tests. */
function appFor(forwardTo: () => Promise<string>, options: () => AppOptions = () => ({})) {
  let app: RunningApp | undefined;
  beforeAll(async () => {
    const url = await forwardTo();
    app = await startApp({ ...options(), forwardTo: url });
  });
  afterAll(() => app?.close());
  return (): RunningApp => {
    if (app === undefined) throw new Error('used outside a test');
    return app;
  };
}

/** The lines `app` writes while `act` runs, its access lines left out. */
async function linesOf(app: RunningApp, act: () => Promise<unknown>): Promise<Line[]> {
  const from = app.logs.length;
  await act();
  return app.logs
    .slice(from)
    .map((text) => JSON.parse(text) as Line)
    .filter((l) => l.event !== 'request');
}

/** One `upstream_error` line for alice with `reason`, its detail matching `detail`, in field and message. */
function expectOneLine(lines: Line[], reason: string, detail: RegExp): void {
  expect(lines).toEqual([
    expect.objectContaining({
      level: 'warn',
      event: 'upstream_error',
      user: 'alice',
      reason,
      detail: expect.stringMatching(detail),
    }),
  ]);
  expect(lines[0].msg).toBe(
    `request of alice to Vidispine failed (${reason}: ${String(lines[0].detail)})`,
  );
}

/** A WebSocket upgrade through the proxy on `port`: the status of the refusal it gets. */
function upgradeRefusal(port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      port,
      host: '127.0.0.1',
      path: '/APIWS/echo',
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version': '13',
      },
    });
    req.once('response', (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode));
    });
    req.once('upgrade', () => reject(new Error('upgraded')));
    req.once('error', reject);
    req.end();
  });
}

describe('upstream errors in the log: a port nobody listens on', () => {
  const app = appFor(async () => `http://127.0.0.1:${await closedPort()}`);
  const REFUSED = /^connect ECONNREFUSED 127\.0\.0\.1:\d+$/;

  it('a plain request: one upstream_error line with the user, the reason and the detail', async () => {
    const lines = await linesOf(app(), async () => {
      expect((await call(app().port(), { path: '/API/whoami' })).status).toBe(502);
    });
    expectOneLine(lines, 'refused', REFUSED);
  });

  it('a WebSocket upgrade: one upstream_error line with the user, the reason and the detail', async () => {
    const lines = await linesOf(app(), async () => {
      expect(await upgradeRefusal(app().port())).toBe(502);
    });
    expectOneLine(lines, 'refused', REFUSED);
    // No access log, and no id of the client's: the line has none.
    expect(lines[0]).toMatchObject({ method: 'GET', path: '/APIWS/echo' });
    expect(lines[0]).not.toHaveProperty('requestId');
  });
});

describe('upstream errors in the log: answers that are not HTTP', () => {
  let upstream: RawUpstream;
  const app = appFor(async () => {
    upstream = await startRawUpstream();
    return upstream.url;
  });
  afterAll(() => upstream.close());

  /** The token a request carried to the raw upstream. */
  const tokenOf = (request: Parameters<RawUpstream['respond']>[0]): string =>
    (header(request, 'authorization') ?? '').replace(/^token /, '');

  it('a status beyond 599 is named; the client still gets the short reason', async () => {
    upstream.respond = () => 'HTTP/1.1 999 X\r\nContent-Length: 0\r\n\r\n';
    const lines = await linesOf(app(), async () => {
      const reply = await call(app().port(), { path: '/API/whoami' });
      expect(reply.status).toBe(502);
      expect(reply.text).not.toContain('999');
    });
    expectOneLine(lines, 'protocol', /^status 999$/);
  });

  it('a chunk size that is not hex is named as the parser found it, after the head went on', async () => {
    upstream.respond = () => 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n';
    const lines = await linesOf(app(), async () => {
      await call(app().port(), { path: '/API/whoami' }).catch(() => undefined);
    });
    expectOneLine(
      lines,
      'protocol',
      /^Response does not match the HTTP\/1\.1 protocol \(Invalid character in chunk size\)$/,
    );
  });

  it('an answer with a body to send, cut short by a close in order, says so', async () => {
    upstream.respond = (_, socket) => {
      setImmediate(() => socket.end());
      return 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort';
    };
    const lines = await linesOf(app(), async () => {
      await call(app().port(), {
        path: '/API/item',
        method: 'PUT',
        body: 'hello',
        headers: { 'x-request-id': 'client-7' },
      }).catch(() => undefined);
    });
    expectOneLine(lines, 'reset', /^Vidispine closed the connection before the end of its answer$/);
    // Without the access log, the client's own id names the request.
    expect(lines[0]).toMatchObject({ requestId: 'client-7', method: 'PUT', path: '/API/item' });
  });

  it('the token an answer quotes back is blanked out of the detail', async () => {
    let token = '';
    upstream.respond = (request) => {
      token = tokenOf(request);
      return `HTTP/1.1 200 OK\r\nTransfer-Encoding: ${token}, chunked\r\n\r\n0\r\n\r\n`;
    };
    const lines = await linesOf(app(), async () => {
      expect((await call(app().port(), { path: '/API/whoami' })).status).toBe(502);
    });
    expect(token).not.toBe('');
    expectOneLine(lines, 'protocol', /^transfer coding "\[REDACTED\], chunked"$/);
    expect(JSON.stringify(lines)).not.toContain(token);
  });

  it('a WebSocket upgrade: the token an answer quotes back is blanked out too', async () => {
    let token = '';
    upstream.respond = (request) => {
      token = tokenOf(request);
      return `HTTP/1.1 200 OK\r\nTransfer-Encoding: ${token}\r\n\r\n`;
    };
    const lines = await linesOf(app(), async () => {
      expect(await upgradeRefusal(app().port())).toBe(502);
    });
    expect(token).not.toBe('');
    expectOneLine(lines, 'protocol', /^transfer coding "\[REDACTED\]"$/);
    expect(JSON.stringify(lines)).not.toContain(token);
  });
});

describe('upstream errors in the log: a certificate for another name', () => {
  let server: https.Server;
  let caFile = '';
  const app = appFor(
    async () => {
      const ca = await createTestCa();
      const pair = await ca.issue({ dns: ['elsewhere.example'], ips: ['127.0.0.2'] });
      caFile = tempFolder('upstream-error-log').file(ca.certPem);
      server = https.createServer({ key: pair.keyPem, cert: pair.certPem }, (_, res) =>
        res.end('not reached'),
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    () => ({ vidispine: { caFile } }),
  );
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('names the names the certificate is for', async () => {
    const lines = await linesOf(app(), async () => {
      expect((await call(app().port(), { path: '/API/whoami' })).status).toBe(502);
    });
    expectOneLine(
      lines,
      'tls',
      /^Hostname\/IP does not match certificate's altnames: IP: 127\.0\.0\.1 is not in the cert's list: 127\.0\.0\.2 \(ERR_TLS_CERT_ALTNAME_INVALID\)$/,
    );
  });
});

describe('upstream errors in the log: a certificate no configured CA vouches for', () => {
  let server: https.Server;
  const app = appFor(async () => {
    const pair = await (await createTestCa('a CA nobody configured')).issue({ ips: ['127.0.0.1'] });
    server = https.createServer({ key: pair.keyPem, cert: pair.certPem }, (_, res) =>
      res.end('not reached'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  // A certificate changed while the proxy runs fails forwarded requests while the token is
  // still good: their line is all the operator sees until the next mint, and must say what to
  // do, as the token_mint_failed line of the same failure does.
  it('says what to do: the CA file, the clock, the host name, what Vidispine serves', async () => {
    const lines = await linesOf(app(), async () => {
      expect((await call(app().port(), { path: '/API/whoami' })).status).toBe(502);
    });
    expectOneLine(lines, 'tls', /\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)$/);
    expect(lines[0].hint).toBe(
      "the TLS handshake failed as the detail says. A certificate that is not trusted (UNABLE_TO_…, SELF_SIGNED_CERT_IN_CHAIN, DEPTH_ZERO_SELF_SIGNED_CERT): put the CA that issued it in vidispine.caFile, or have VidiCore send its intermediate certificates. CERT_HAS_EXPIRED or CERT_NOT_YET_VALID: check this machine's clock (date -u) against the certificate's dates, or renew the certificate. ERR_TLS_CERT_ALTNAME_INVALID: use in vidispine.url a name the certificate lists. An alert or a wrong version number: check that vidispine.url names VidiCore's TLS port, and what it serves (openssl s_client -connect host:port)",
    );
  });
});

describe('upstream errors in the log: an answer cut after its head, traced to its request', () => {
  let upstream: RawUpstream;
  const app = appFor(
    async () => {
      upstream = await startRawUpstream();
      return upstream.url;
    },
    () => ({ raw: { proxy: { accessLog: true } } }),
  );
  afterAll(() => upstream.close());

  const PATH = '/API/item/VX-1?token=CUTSECRET1&x=1';
  const SCRUBBED = '/API/item/VX-1?token=[REDACTED]&x=1';
  const cuts: readonly (readonly [string, string, (socket: Socket) => void])[] = [
    ['100 bytes long, then a close', 'Content-Length: 100\r\n\r\nhalf', (s) => s.end()],
    ['100 bytes long, then a reset', 'Content-Length: 100\r\n\r\nhalf', (s) => s.resetAndDestroy()],
    [
      'chunked, then a close before its last chunk',
      'Transfer-Encoding: chunked\r\n\r\n4\r\nhalf\r\n',
      (s) => s.end(),
    ],
  ];
  // A bodiless GET goes by the pooled engine (undici), a PUT with a body by `node:http`.
  it.each(
    cuts.flatMap(([cut, rest, end]) =>
      (['GET', 'PUT'] as const).map((method) => [method, cut, rest, end] as const),
    ),
  )(
    '%s, %s: the warning names the request (id, method, scrubbed path), its access line says cut',
    async (method, _, rest, end) => {
      upstream.respond = (_request, socket) => {
        setImmediate(() => end(socket));
        return `HTTP/1.1 200 OK\r\n${rest}`;
      };
      const reset = (): Promise<number> =>
        app().metric('vidispine_auth_proxy_upstream_errors_total', { reason: 'reset' });
      const before = { reset: await reset(), lines: app().logs.length };
      await call(app().port(), {
        path: PATH,
        method,
        ...(method === 'PUT' && { body: 'hello' }),
      }).catch(() => undefined);
      await until(
        () =>
          app()
            .logs.slice(before.lines)
            .some((l) => l.includes('"event":"request"')),
        5000,
        'the access line',
      );
      const lines = app()
        .logs.slice(before.lines)
        .map((text) => JSON.parse(text) as Line);
      const access = lines.filter((l) => l.event === 'request');
      expect(access).toEqual([
        expect.objectContaining({
          method,
          path: SCRUBBED,
          status: 200,
          cut: true,
          msg: `${method} ${SCRUBBED} 200 (cut)`,
        }),
      ]);
      expect(lines.filter((l) => l.event === 'upstream_error')).toEqual([
        expect.objectContaining({
          level: 'warn',
          user: 'alice',
          reason: 'reset',
          requestId: access[0].requestId,
          method,
          path: SCRUBBED,
          msg: expect.stringContaining(`request of alice to Vidispine failed (reset: `) as unknown,
        }),
      ]);
      expect(JSON.stringify(lines)).not.toContain('CUTSECRET1');
      expect(await reset()).toBe(before.reset + 1);
    },
  );

  it('an answer that went out whole has no cut on its access line', async () => {
    upstream.respond = () => 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nwhol';
    const from = app().logs.length;
    expect((await call(app().port(), { path: PATH })).text).toBe('whol');
    await until(
      () =>
        app()
          .logs.slice(from)
          .some((l) => l.includes('"event":"request"')),
      5000,
      'the access line',
    );
    const access = app()
      .logs.slice(from)
      .map((text) => JSON.parse(text) as Line)
      .filter((l) => l.event === 'request');
    expect(access).toEqual([expect.objectContaining({ status: 200, msg: `GET ${SCRUBBED} 200` })]);
    expect(access[0]).not.toHaveProperty('cut');
  });
});
