import { once } from 'node:events';
import * as net from 'node:net';
import { CLOSE_GRACE_MS, createOpsServer, type OpsServer } from '../../src/ops/server';
import { Health } from '../../src/ops/health';
import { OpsMetrics, recordTokenEvents } from '../../src/ops/metrics';
import { parseExposition, value } from '../support/prom-parse';
import { RecentRequests } from '../../src/ops/recent-requests';
import { MINT_FAILURES } from '../../src/vidispine/failures';
import { call } from '../support/http';
import { rawRequest } from '../support/raw-client';
import { rawExchange } from '../support/net';
import { captureLogs, ScriptedTokens, scriptedSetup } from '../support/ops';

const T0 = Date.parse('2026-01-01T12:00:00Z');

interface Harness {
  tokens: ScriptedTokens;
  health: Health;
  advance(ms: number): void;
  get(
    path: string,
    init?: RequestInit,
  ): Promise<{ status: number; type: string; body: string; json: () => unknown }>;
}

let server: OpsServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(users = ['ingest', 'reporting']): Promise<Harness> {
  let now = T0;
  const clock = () => now;
  const tokens = new ScriptedTokens(users, clock);
  const health = new Health(tokens, clock);
  const metrics = new OpsMetrics({ users, tokens, now: clock, defaultMetrics: false });
  recordTokenEvents(tokens, metrics);
  server = createOpsServer({
    health,
    metrics,
    tokens,
    recent: new RecentRequests(clock),
    logger: captureLogs().logger,
    setup: scriptedSetup(users, { startedAt: T0 }),
    now: clock,
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const port = server.address()?.port;
  return {
    tokens,
    health,
    advance: (ms) => {
      now += ms;
    },
    async get(path, init) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
      const body = await res.text();
      return {
        status: res.status,
        type: res.headers.get('content-type') ?? '',
        body,
        json: () => JSON.parse(body) as unknown,
      };
    },
  };
}

async function probes(h: Harness) {
  const [live, startup, ready] = await Promise.all([
    h.get('/livez'),
    h.get('/startupz'),
    h.get('/readyz'),
  ]);
  return {
    live: live.status,
    startup: startup.status,
    ready: ready.status,
    readyBody: ready.json(),
  };
}

describe('ops endpoints under each token state', () => {
  it('no token yet: live, not started, not ready naming every user', async () => {
    const h = await start();
    h.tokens.failed('reporting', 'forbidden', 'HTTP 403 from GET /API/user/reporting/token');
    const p = await probes(h);
    expect([p.live, p.startup, p.ready]).toEqual([200, 503, 503]);
    expect(p.readyBody).toEqual({
      status: 'not ready',
      ok: false,
      shuttingDown: false,
      users: [
        { user: 'ingest', state: 'pending', ok: false, reason: 'no_token_yet', lastFailure: null },
        {
          user: 'reporting',
          state: 'pending',
          ok: false,
          reason: 'no_token_yet',
          lastFailure: 'forbidden',
        },
      ],
    });
    const startup = (await h.get('/startupz')).json();
    expect(startup).toMatchObject({
      ok: false,
      users: [
        { user: 'ingest', ok: false },
        { user: 'reporting', ok: false },
      ],
    });
  });

  it('one user minted: started still waits for the other', async () => {
    const h = await start();
    h.tokens.minted('ingest');
    const p = await probes(h);
    expect([p.live, p.startup, p.ready]).toEqual([200, 503, 503]);
    expect(p.readyBody).toMatchObject({
      users: [
        { user: 'ingest', state: 'valid', ok: true, reason: null },
        { user: 'reporting', state: 'pending', ok: false, reason: 'no_token_yet' },
      ],
    });
  });

  it('valid: everything 200', async () => {
    const h = await start();
    h.tokens.minted('ingest');
    h.tokens.minted('reporting', 3600);
    const p = await probes(h);
    expect([p.live, p.startup, p.ready]).toEqual([200, 200, 200]);
    // Every user is listed even when all is well.
    expect(p.readyBody).toEqual({
      status: 'ok',
      ok: true,
      shuttingDown: false,
      users: [
        { user: 'ingest', state: 'valid', ok: true, reason: null, lastFailure: null },
        { user: 'reporting', state: 'valid', ok: true, reason: null, lastFailure: null },
      ],
    });
  });

  it('failing but still valid: ready, /status shows the failure', async () => {
    const h = await start(['ingest']);
    h.tokens.minted('ingest');
    h.advance(45_000);
    h.tokens.failed('ingest', 'server_error', 'HTTP 500 from GET /API/token');
    h.tokens.failed('ingest', 'network', 'connect ECONNREFUSED 10.0.0.1:8080', 0.1, 4000);
    const p = await probes(h);
    expect([p.live, p.startup, p.ready]).toEqual([200, 200, 200]);
    const status = (await h.get('/status')).json();
    expect(status).toEqual({
      time: new Date(T0 + 45_000).toISOString(),
      version: '9.9.9',
      startedAt: new Date(T0).toISOString(),
      uptimeSeconds: 45,
      vidispine: 'http://vidispine:8080',
      ready: true,
      shuttingDown: false,
      users: [
        {
          user: 'ingest',
          listen: '127.0.0.1:8080',
          mint: {
            request: 'GET /API/token',
            credential: 'own password',
            secretSource: 'file /run/secrets/ingest (users[0].passwordFile)',
          },
          mode: 'renew',
          renewal: 'renews at ~70 % of the usable 55 s (60 s lifetime − 5 s margin)',
          endpoint: 'token',
          state: 'failing',
          ready: true,
          expiresAt: new Date(T0 + 60_000).toISOString(),
          expiresInSeconds: 15,
          lastRefreshAt: new Date(T0).toISOString(),
          lastError: {
            reason: 'network',
            message: 'connect ECONNREFUSED 10.0.0.1:8080',
            hint: MINT_FAILURES.network.hint,
            at: new Date(T0 + 45_000).toISOString(),
          },
          failures: 2,
          nextAttemptAt: new Date(T0 + 49_000).toISOString(),
          nextAttemptInSeconds: 4,
          lifetimeSeconds: 60,
          configuredLifetimeSeconds: 60,
          requests: { minutes: 5, requests: 0, errors: 0 },
        },
      ],
    });
  });

  it('invalidated with no failed mint: the page says what happened and when the next mint is', async () => {
    const h = await start(['ingest']);
    h.tokens.minted('ingest');
    h.advance(2_000);
    // Vidispine keeps rejecting new tokens: the mint budget holds the next one back 4 s.
    h.tokens.invalidated('ingest', 4_000);
    const page = (await h.get('/')).body;
    const card = page.slice(page.indexOf('id="user-ingest"'));
    expect(card).toContain('<div class="problem" role="alert">');
    expect(card).toMatch(
      /<strong>token_invalidated<\/strong>: Vidispine stopped taking its token before its expiry/,
    );
    expect(card).toMatch(/next attempt <time[^>]*>in 4 s<\/time>/);
  });

  it('expired: started stays 200, ready 503 with the reason and the last failure', async () => {
    const h = await start(['ingest']);
    h.tokens.minted('ingest');
    h.advance(30_000);
    h.tokens.failed('ingest', 'unauthorized', 'HTTP 401 from GET /API/token');
    // The token runs out before the store has said anything: readiness already fails.
    h.advance(30_000);
    let p = await probes(h);
    expect([p.live, p.startup, p.ready]).toEqual([200, 200, 503]);
    expect(p.readyBody).toMatchObject({
      users: [{ user: 'ingest', ok: false, reason: 'token_expired', lastFailure: 'unauthorized' }],
    });
    h.tokens.expired('ingest');
    p = await probes(h);
    expect([p.live, p.startup, p.ready]).toEqual([200, 200, 503]);
    const status = (await h.get('/status')).json();
    expect(status).toMatchObject({
      users: [{ state: 'expired', expiresAt: null, expiresInSeconds: null }],
    });
    h.tokens.minted('ingest');
    expect((await h.get('/readyz')).status).toBe(200);
  });

  it('shutting down: ready 503 at once, the rest unchanged', async () => {
    const h = await start(['ingest']);
    h.tokens.minted('ingest');
    h.health.beginShutdown();
    const p = await probes(h);
    expect([p.live, p.startup, p.ready]).toEqual([200, 200, 503]);
    expect(p.readyBody).toEqual({
      status: 'not ready',
      ok: false,
      shuttingDown: true,
      users: [{ user: 'ingest', state: 'valid', ok: true, reason: null, lastFailure: null }],
    });
    expect((await h.get('/status')).json()).toMatchObject({ shuttingDown: true, ready: false });
    expect((await h.get('/')).body).toContain('Shutting down: readiness fails');
  });
});

describe('ops server', () => {
  it('serves Prometheus text on /metrics reflecting the current state', async () => {
    const h = await start(['ingest']);
    h.tokens.minted('ingest');
    const res = await h.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const e = parseExposition(res.body);
    expect(value(e, 'vidispine_auth_proxy_token_valid', { user: 'ingest' })).toBe(1);
    expect(
      value(e, 'vidispine_auth_proxy_token_refreshes_total', {
        user: 'ingest',
        result: 'success',
        reason: 'none',
      }),
    ).toBe(1);
  });

  it('renders the human page with every user, relative times and links', async () => {
    const h = await start();
    h.tokens.minted('ingest', 90);
    h.advance(5_000);
    h.tokens.failed('reporting', 'forbidden', 'admin lacks <_administrator> & "role"');
    const res = await h.get('/');
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/html/);
    expect(res.body).toContain('data-user="ingest" data-state="valid"');
    expect(res.body).toContain('in 1 m 25 s');
    expect(res.body).toContain('5 s ago');
    expect(res.body).toContain('admin lacks &lt;_administrator&gt; &amp; &quot;role&quot;');
    expect(res.body).not.toContain('<_administrator>');
    expect(res.body).toContain('Not ready: no valid token for reporting');
    for (const path of ['status', 'readyz', 'startupz', 'livez', 'metrics']) {
      expect(res.body).toContain(`href="${path}"`);
    }
  });

  it('escapes user names on the page', async () => {
    const h = await start(['<script>alert(1)</script>']);
    const res = await h.get('/');
    expect(res.body).not.toContain('<script>');
    expect(res.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('answers HEAD, 404s unknown paths, never caches', async () => {
    const h = await start();
    expect((await h.get('/livez', { method: 'HEAD' })).status).toBe(200);
    const missing = await h.get('/API/item');
    expect(missing.status).toBe(404);
    expect(missing.json()).toMatchObject({ error: 'not found' });
    const res = await fetch(`http://127.0.0.1:${server?.address()?.port}/status`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-powered-by')).toBeNull();
  });

  it('tells browsers never to sniff an answer: every endpoint, a 404, a 405 and a CONNECT', async () => {
    // /status and /readyz quote Vidispine's own words (a Reason header may hold markup): a
    // browser that sniffed a JSON or text answer could take it for a page.
    await start();
    const port = server?.address()?.port ?? 0;
    const asked: [string, string][] = [
      ...['/livez', '/startupz', '/readyz', '/metrics', '/status', '/', '/nope'].map(
        (path): [string, string] => ['GET', path],
      ),
      ['HEAD', '/status'],
      ['POST', '/status'],
      ['POST', '/readyz'],
    ];
    for (const [method, path] of asked) {
      const reply = await call(port, { method, path });
      expect({ method, path, nosniff: reply.headers['x-content-type-options'] }).toEqual({
        method,
        path,
        nosniff: 'nosniff',
      });
    }
    const refused = await rawRequest(port, 'CONNECT evil.example:443 HTTP/1.1\r\nHost: x\r\n\r\n', {
      untilClosed: true,
      timeoutMs: 5000,
    });
    expect(refused.responses[0].header('x-content-type-options')).toBe('nosniff');
  });

  it('answers each endpoint at its own spelling only: another case or a trailing slash is 404', async () => {
    await start();
    const port = server?.address()?.port ?? 0;
    for (const path of ['/STATUS', '/status/', '/Status', '/LIVEZ', '/metrics/', '/startupz/']) {
      for (const method of ['GET', 'POST']) {
        const reply = await call(port, { method, path });
        expect({ path, method, status: reply.status }).toEqual({ path, method, status: 404 });
        expect(JSON.parse(reply.text)).toMatchObject({ error: 'not found' });
      }
    }
  });

  it('answers a target in absolute form (RFC 9112 §3.2.2) as its path: every endpoint alike', async () => {
    const h = await start();
    h.tokens.minted('ingest');
    h.tokens.minted('reporting');
    const port = server?.address()?.port ?? 0;
    for (const path of ['/livez', '/readyz', '/startupz', '/metrics?x=1', '/status', '/']) {
      const target = `http://ops.example:9090${path}`;
      const answer = await rawExchange(
        port,
        `GET ${target} HTTP/1.1\r\nHost: ops.example:9090\r\nConnection: close\r\n\r\n`,
      );
      expect({ target, status: answer.status }).toEqual({ target, status: 200 });
    }
    const other = await rawExchange(
      port,
      'GET http://ops.example/READYZ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(other.status).toBe(404);
  });

  it('answers 405 with Allow: GET, HEAD to any other method on an endpoint', async () => {
    await start();
    const port = server?.address()?.port ?? 0;
    for (const path of ['/readyz', '/livez', '/startupz', '/metrics', '/status', '/'])
      for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH']) {
        const reply = await call(port, {
          method,
          path,
          body: method === 'POST' ? '{}' : undefined,
        });
        expect({ path, method, status: reply.status, allow: reply.headers.allow }).toEqual({
          path,
          method,
          status: 405,
          allow: 'GET, HEAD',
        });
        expect(JSON.parse(reply.text)).toEqual({ error: 'method not allowed', allow: 'GET, HEAD' });
        expect(reply.headers['cache-control']).toBe('no-store');
      }
    // Elsewhere any method is still a 404 naming the endpoints.
    const missing = await call(port, { method: 'POST', path: '/API/item' });
    expect(missing.status).toBe(404);
  });

  it('answers CONNECT with 405 and Allow: GET, HEAD too, then closes the connection', async () => {
    await start();
    const port = server?.address()?.port ?? 0;
    for (const target of ['evil.example:443', '/status']) {
      const result = await rawRequest(
        port,
        `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\nGET /livez HTTP/1.1\r\nHost: x\r\n\r\n`,
        { untilClosed: true, timeoutMs: 5000 },
      );
      // One answer, then the connection ends: the bytes behind CONNECT are never a request.
      expect(result.responses.map((r) => [r.status, r.header('allow')])).toEqual([
        [405, 'GET, HEAD'],
      ]);
      expect(JSON.parse(result.responses[0].body.toString())).toEqual({
        error: 'method not allowed',
        allow: 'GET, HEAD',
      });
      expect(result.closed).toBe(true);
    }
    // The listener still closes promptly with nothing left open behind it.
    await server?.close();
    server = undefined;
  });

  it('cuts a refused CONNECT whose client keeps sending, so the listener still closes', async () => {
    await start();
    const port = server?.address()?.port ?? 0;
    // Half-open: the client keeps its side, and its bytes, coming after the proxy's answer.
    const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    client.on('error', () => undefined);
    await once(client, 'connect');
    client.write('CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n');
    const [answer] = (await once(client, 'data')) as [Buffer];
    expect(answer.toString('latin1')).toMatch(/^HTTP\/1\.1 405 /);
    const trickle = setInterval(() => {
      if (client.writable) client.write('x');
    }, 20);
    // Not `once`: the cut makes the trickle's next write fail, which would reject it.
    const gone = new Promise((resolve) => client.once('close', resolve));
    try {
      // Resolves only once that connection is gone: without a cut it never would.
      await server?.close();
      server = undefined;
      await gone;
    } finally {
      clearInterval(trickle);
      client.destroy();
    }
  });

  it('fails to listen on a taken port with the address in the message', async () => {
    await start();
    const port = server?.address()?.port ?? 0;
    const tokens = new ScriptedTokens(['ingest'], Date.now);
    const second = createOpsServer({
      health: new Health(tokens),
      metrics: new OpsMetrics({ users: ['ingest'], tokens, defaultMetrics: false }),
      tokens,
      recent: new RecentRequests(),
      logger: captureLogs().logger,
      setup: scriptedSetup(['ingest']),
    });
    await expect(second.listen({ host: '127.0.0.1', port })).rejects.toThrow(`127.0.0.1:${port}`);
    expect(second.address()).toBeNull();
    await second.close();
  });

  it('closes a connection promptly once a body answered before it was read has all come', async () => {
    await start();
    const client = net.connect(server?.address()?.port ?? 0, '127.0.0.1');
    client.on('error', () => undefined);
    await once(client, 'connect');
    client.write('POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc');
    const [answer] = (await once(client, 'data')) as [Buffer];
    expect(answer.toString('latin1')).toMatch(/^HTTP\/1\.1 405 /);
    const gone = once(client, 'close');
    const started = Date.now();
    const closed = server?.close();
    server = undefined;
    // The rest of the body, which Node reads and drops: the connection is idle after it,
    // though no answer ends then.
    client.write('defghij');
    await Promise.all([closed, gone]);
    expect(Date.now() - started).toBeLessThan(CLOSE_GRACE_MS);
  });

  it('closes promptly even with a keep-alive connection open', async () => {
    const h = await start();
    await h.get('/livez');
    const started = Date.now();
    await server?.close();
    // Before the grace after which open connections are cut: the idle one was closed at once.
    expect(Date.now() - started).toBeLessThan(CLOSE_GRACE_MS);
    expect(server?.address()).toBeNull();
    server = undefined;
  });
});
