/**
 * The proxy against the simulator in each of the modes real VidiCore servers show, through
 * the whole app: access keys sent with their ID, servers without GET /API/token, tokens
 * minted with RunAs, Shiro's Reason header, the no-auth checks, and a front end without a
 * backend.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { createSimulator } from '../../src/simulator';
import { call } from '../support/http';
import { startApp, type RunningApp } from '../support/app';
import { nextEvent } from '../support/token-events';

interface UserStatus {
  user: string;
  endpoint: string;
  state: string;
  mint: { request: string; credential: string; secretSource: string };
}

async function statusOf(r: RunningApp): Promise<Record<string, UserStatus>> {
  const body = JSON.parse((await r.ops('/status')).text) as { users: UserStatus[] };
  return Object.fromEntries(body.users.map((u) => [u.user, u]));
}

const mints = (r: RunningApp, user: string, result = 'success') =>
  r.metric('vidispine_auth_proxy_token_refreshes_total', {
    user,
    result,
    reason: result === 'success' ? 'none' : 'unauthorized',
  });

test('RunAs and access keys: tokens for the right users, /status names the endpoint', async () => {
  const r = await startApp({
    vidispine: { runAs: { username: 'runas', password: 'runas-password' } },
    raw: {
      users: [
        { name: 'alice', listen: '127.0.0.1:0' },
        {
          name: 'bob',
          accessKey: { id: 'VSIDB0BACCESSKEY0001', secret: 'bob-access-key' },
          listen: '127.0.0.1:0',
        },
      ],
    },
  });
  try {
    expect((await call(r.port('alice'), { path: '/API/whoami' })).text).toBe('alice');
    expect((await call(r.port('bob'), { path: '/API/whoami' })).text).toBe('bob');
    const status = await statusOf(r);
    expect(status.alice).toMatchObject({ endpoint: 'token_runas', state: 'valid' });
    expect(status.bob).toMatchObject({ endpoint: 'token', state: 'valid' });
    expect(status.alice.mint).toEqual({
      request: 'GET /API/token (RunAs: alice)',
      credential: 'RunAs "runas"',
      secretSource: 'vidispine.runAs.password',
    });
    expect(status.bob.mint).toMatchObject({
      request: 'GET /API/token',
      credential: 'own access key VSIDB0BACCESSKEY0001',
    });
    expect(await mints(r, 'alice')).toBe(1);
    expect(await mints(r, 'bob')).toBe(1);
    // The runas account asked for alice; bob's key logged in as bob.
    expect(r.sim.calls({ endpoint: 'token', user: 'alice' })).toBe(1);
    expect(r.sim.calls({ endpoint: 'token', user: 'bob' })).toBe(1);
    expect(r.logs.join('\n')).not.toMatch(/bob-access-key|runas-password/);

    // An inactive key: the next mint fails as a credential problem, naming the key.
    r.sim.setAccessKeyStatus('VSIDB0BACCESSKEY0001', 'INACTIVE');
    r.sim.revokeAllTokens();
    const failing = nextEvent(r.app.store, 'mintFailed');
    expect((await call(r.port('bob'), { path: '/API/whoami' })).status).toBe(503);
    const failed = await failing;
    expect(failed).toMatchObject({ user: 'bob', reason: 'unauthorized' });
    expect(failed.message).toContain('access key VSIDB0BACCESSKEY0001 of user "bob"');
    expect(await mints(r, 'bob', 'failure')).toBe(1);
  } finally {
    await r.close();
  }
}, 20_000);

test('a server without GET /API/token: own credentials mint through /API/user/{self}/token', async () => {
  const r = await startApp({
    simulator: { tokenEndpoint: false },
    raw: {
      users: [
        { name: 'alice', password: 'alice-password', listen: '127.0.0.1:0' },
        { name: 'bob', password: 'bob-password', listen: '127.0.0.1:0' },
      ],
    },
  });
  try {
    expect((await call(r.port('alice'), { path: '/API/whoami' })).text).toBe('alice');
    expect((await call(r.port('bob'), { path: '/API/whoami' })).text).toBe('bob');
    const status = await statusOf(r);
    expect(status.alice.endpoint).toBe('user_token');
    expect(status.alice.mint.request).toBe('GET /API/user/alice/token');
    expect(status.bob.endpoint).toBe('user_token');
    // One 404 at most per user that started before the first answer; none after.
    r.sim.resetCalls();
    r.sim.revokeAllTokens();
    expect((await call(r.port('alice'), { path: '/API/whoami' })).text).toBe('alice');
    expect(r.sim.calls({ endpoint: 'token' })).toBe(0);
    expect(r.sim.calls({ endpoint: 'user_token', user: 'alice' })).toBe(1);
  } finally {
    await r.close();
  }
}, 20_000);

test("Reason headers: logged without the proxy's token", async () => {
  const r = await startApp({ simulator: { reasonHeader: true } });
  try {
    const token = r.app.store.current('alice')?.value ?? '';
    expect(token).not.toBe('');
    r.sim.revokeAllTokens();
    const invalidated = nextEvent(r.app.store, 'invalidated');
    // A WebSocket upgrade meets the 401 and is replayed with a new token.
    const port = r.port();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/APIWS/echo`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`${res.statusCode}`)));
      ws.once('error', reject);
    });
    ws.terminate();
    expect((await invalidated).reason).toBe('Token was not found: [REDACTED]');
    expect((await call(port, { path: '/API/whoami' })).text).toBe('alice');
    expect(r.logs.join('\n')).not.toContain(token);
  } finally {
    await r.close();
  }
}, 20_000);

test('a Reason header is logged as one line of visible text, bounded, whatever Vidispine puts in it', async () => {
  // A Vidispine (or a gateway) whose 401 explains itself at length, with C1 controls (CSI,
  // which a terminal acts on) and a bidi override, repeating the token it refused.
  let token = '';
  const upstream = createServer((_req, res) => {
    const reason = `\u009b31m\u00e2\u0080\u00ae ${token} ${'R'.repeat(15_000)}`;
    res.writeHead(401, { Reason: reason, 'Content-Length': '0' }).end();
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const r = await startApp({
    forwardTo: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
  });
  try {
    token = r.app.store.current('alice')?.value ?? '';
    expect(token).not.toBe('');
    // The simulator still takes the token: the 401 was the request's own, checked and logged.
    const checked = nextEvent(r.app.store, 'checked');
    expect((await call(r.port(), { path: '/API/item' })).status).toBe(401);
    const reason = (await checked).reason ?? '';
    expect(reason).toMatch(/^\?31m\u00e2\?\u00ae \[REDACTED\] R+…$/);
    expect(reason.length).toBe(201);
    const line = r.logs.find((l) => l.includes('"token_checked"')) ?? '';
    expect(line.length).toBeLessThan(1000);
    expect(line).not.toContain(token);
  } finally {
    await r.close();
    await new Promise((resolve) => upstream.close(resolve));
  }
}, 20_000);

test("no answer's headers carry the proxy's token to the client, a redirect's or a success's either", async () => {
  // A front end that builds redirects, and a header, from the Authorization it was sent.
  const upstream = createServer((req, res) => {
    const token = (req.headers.authorization ?? '').replace(/^token /, '');
    if (req.url === '/API/moved') {
      res.writeHead(303, {
        Location: `/API/item?token=${token}`,
        Refresh: `0; url=/API/item/${token}`,
        'Content-Length': '0',
      });
    } else {
      res.writeHead(200, { 'X-Seen-Authorization': `token ${token}`, 'Content-Length': '2' });
    }
    res.end(req.url === '/API/moved' ? undefined : 'ok');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const r = await startApp({
    forwardTo: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
  });
  try {
    const token = r.app.store.current('alice')?.value ?? '';
    expect(token).not.toBe('');
    const moved = await call(r.port(), { path: '/API/moved' });
    expect(moved.status).toBe(303);
    expect(moved.headers.location).toBe('/API/item?token=[REDACTED]');
    expect(moved.headers.refresh).toBe('0; url=/API/item/[REDACTED]');
    const ok = await call(r.port(), { path: '/API/item' });
    expect(ok.status).toBe(200);
    expect(ok.headers['x-seen-authorization']).toBe('token [REDACTED]');
  } finally {
    await r.close();
    await new Promise((resolve) => upstream.close(resolve));
  }
}, 20_000);

test("no rewritten Location carries the proxy's token either, in the spelling a URL parser writes", async () => {
  // A token Vidispine's alphabet allows, which a URL parser writes otherwise in a path: dot
  // segments go (`/%2E/`), and Node 24 encodes `^`. A front end puts it in its redirects.
  const token = 'k1^/%2E/k2';
  let url = '';
  const upstream = createServer((req, res) => {
    const { port } = upstream.address() as AddressInfo;
    const sent = (req.headers.authorization ?? '').replace(/^token /, '');
    if (new URL(req.url ?? '/', url).pathname.endsWith('/token')) {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': token.length });
      res.end(token);
      return;
    }
    res.writeHead(303, {
      Location: `http://127.0.0.1:${port}/API/item/${sent}`,
      'Content-Location': `//127.0.0.1:${port}/API/item/${sent}?t=${sent}`,
      Refresh: `0; url=http://127.0.0.1:${port}/API/item/${sent}`,
      'Content-Length': '0',
    });
    res.end();
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const r = await startApp({ vidispine: { url }, forwardTo: url });
  try {
    expect(r.app.store.current('alice')?.value).toBe(token);
    const moved = await call(r.port(), { path: '/API/moved', headers: { host: 'h:1' } });
    expect([
      moved.headers.location,
      moved.headers['content-location'],
      moved.headers.refresh,
    ]).toEqual([
      'http://h:1/API/item/[REDACTED]',
      'http://h:1/API/item/[REDACTED]?t=[REDACTED]',
      '0; url=http://h:1/API/item/[REDACTED]',
    ]);
  } finally {
    await r.close();
    await new Promise((resolve) => upstream.close(resolve));
  }
}, 20_000);

test('the no-auth checks pass through', async () => {
  const r = await startApp();
  try {
    const head = await call(r.port(), { method: 'HEAD', path: '/APInoauth/is-online' });
    expect(head.status).toBe(200);
    const selftest = await call(r.port(), { path: '/APInoauth/selftest' });
    expect(JSON.parse(selftest.text)).toMatchObject({ status: 'ok' });
  } finally {
    await r.close();
  }
}, 20_000);

test('a front end without a backend: a passing outage, not a credential problem', async () => {
  const sim = createSimulator();
  await sim.listen(0, '127.0.0.1');
  sim.setBackendAvailable(false);
  const r = await startApp({ sim, noWait: true });
  try {
    const failed = await nextEvent(r.app.store, 'mintFailed');
    // Retried soon (a credential problem would wait 8 s), logged as a warning.
    expect(failed.reason).toBe('server_error');
    expect(failed.retryInMs).toBeLessThan(2_000);
    const during = await call(r.port(), { path: '/API/whoami' });
    expect(during.status).toBe(503);
    expect(during.headers['retry-after']).toBeDefined();
    sim.setBackendAvailable(true);
    await nextEvent(r.app.store, 'minted', 10_000);
    expect((await call(r.port(), { path: '/API/whoami' })).text).toBe('alice');
  } finally {
    await r.close();
  }
}, 20_000);
