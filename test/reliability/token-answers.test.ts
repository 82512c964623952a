/**
 * What the token endpoint answers, through the whole app: a 200 that carries a document
 * instead of a token, a Retry-After, and many users minting at once against a slow endpoint.
 */
import * as http from 'node:http';
import { call } from '../support/http';
import { onLoopback } from '../support/net';
import { createSimulator } from '../../src/simulator';
import { startApp } from '../support/app';
import { aliceEnv, ChildProxy } from '../support/child-proxy';
import { nextEvent } from '../support/token-events';
import { HANG_GUARD_MS, until } from '../support/wait';

/** A Vidispine stand-in whose token endpoint answers JSON, whatever the Accept header says. */
async function jsonTokenServer(): Promise<{
  url: string;
  mints: () => number;
  close(): Promise<void>;
}> {
  let mints = 0;
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/API/token')) mints += 1;
    const body = JSON.stringify({ token: 'abc', user: 'alice' });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
    res.end(body);
  });
  return { ...(await onLoopback(server)), mints: () => mints };
}

test.concurrent(
  'a JSON document is not a token: not ready, token_valid 0, clients get 503 and mint nothing',
  async () => {
    const fake = await jsonTokenServer();
    const r = await startApp({ vidispine: { url: fake.url }, noWait: true });
    try {
      const failed = await nextEvent(r.app.store, 'mintFailed');
      expect(failed.reason).toBe('empty_token');
      expect(failed.message).toContain('application/json instead of a token');
      expect((await r.ops('/readyz')).status).toBe(503);
      expect(await r.metric('vidispine_auth_proxy_token_valid', { user: 'alice' })).toBe(0);
      const before = fake.mints();
      for (let i = 0; i < 20; i++) {
        const reply = await call(r.port(), { path: '/API/whoami' });
        expect(reply.status).toBe(503);
        expect(reply.headers['retry-after']).toBeDefined();
      }
      // Requests wait for the backoff; they do not mint.
      expect(fake.mints() - before).toBeLessThanOrEqual(1);
    } finally {
      await r.close();
      await fake.close();
    }
  },
  HANG_GUARD_MS,
);

test.concurrent(
  "Vidispine's Retry-After is honoured up to the backoff's cap",
  async () => {
    const sim = createSimulator();
    await sim.listen(0, '127.0.0.1');
    sim.failTokenEndpoints({ kind: 'status', status: 503, retryAfter: 3600 });
    const r = await startApp({ sim, noWait: true });
    try {
      const failed = await nextEvent(r.app.store, 'mintFailed');
      expect(failed.reason).toBe('server_error');
      // No token held: the cap is 30 s, not the hour asked for, and not the 1 s of a first retry.
      expect(failed.retryInMs).toBe(30_000);
      const reply = await call(r.port(), { path: '/API/whoami' });
      expect(reply.status).toBe(503);
      expect(Number(reply.headers['retry-after'])).toBeGreaterThan(20);
      expect(r.sim.calls({ endpoint: 'token' })).toBe(1);
    } finally {
      await r.close();
    }
  },
  HANG_GUARD_MS,
);

/**
 * A Vidispine stand-in whose clock is `skewMs` away from this machine's: its token endpoint
 * answers 429 with a `Retry-After` 5 s ahead as an HTTP date (an IMF-fixdate, or as
 * `retryAfterText` writes it), and its own `Date`.
 */
async function skewedRateLimiter(
  skewMs: number,
  retryAfterText = (ms: number) => new Date(ms).toUTCString(),
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    // Whole seconds, as HTTP dates carry them: the two dates are exactly 5 s apart.
    const serverNow = Math.floor((Date.now() + skewMs) / 1000) * 1000;
    res.sendDate = false;
    res.writeHead(429, {
      date: new Date(serverNow).toUTCString(),
      'retry-after': retryAfterText(serverNow + 5_000),
      'content-length': 0,
    });
    res.end();
  });
  return onLoopback(server);
}

test.concurrent.each([
  ['10 min ahead of', 600_000],
  ['10 min behind', -600_000],
])(
  "a Retry-After date is waited for as Vidispine meant it, its clock %s this machine's",
  async (_what, skewMs) => {
    const fake = await skewedRateLimiter(skewMs);
    const r = await startApp({ vidispine: { url: fake.url }, noWait: true });
    try {
      const failed = await nextEvent(r.app.store, 'mintFailed');
      expect(failed.reason).toBe('rate_limited');
      // 5 s, as asked: not the 30 s cap (a clock behind) nor a 1 s retry (a clock ahead).
      expect(failed.retryInMs).toBe(5_000);
    } finally {
      await r.close();
      await fake.close();
    }
  },
  HANG_GUARD_MS,
);

/** `ms` in HTTP's asctime format, GMT though it says no zone: `Thu Jan  1 00:10:05 2026`. */
function asctime(ms: number): string {
  const [day, date, month, year, time] = new Date(ms).toUTCString().split(' ');
  return `${day.slice(0, 3)} ${month} ${String(Number(date)).padStart(2, ' ')} ${time} ${year}`;
}

test.concurrent(
  'an asctime Retry-After is GMT, as HTTP says, in a proxy whose time zone is 5 h behind it',
  async () => {
    const fake = await skewedRateLimiter(0, asctime);
    const proxy = ChildProxy.start(['run'], { ...aliceEnv(fake.url), TZ: 'America/New_York' });
    try {
      const failed = await proxy.waitForEvent('token_mint_failed');
      expect(failed.reason).toBe('rate_limited');
      // 5 s, as asked: not the 30 s cap of a date read 5 h later, in New York's time.
      expect(failed.retryInMs).toBe(5_000);
    } finally {
      proxy.kill();
      await proxy.exited;
      await fake.close();
    }
  },
  HANG_GUARD_MS,
);

test.concurrent(
  '60 users minting at once from a token endpoint that takes 1.5 s: no timeout, ready together',
  async () => {
    const users = Array.from({ length: 60 }, (_, i) => ({
      name: `user${i}`,
      ...(i === 0 ? { listen: '127.0.0.1:0' } : {}),
    }));
    const sim = createSimulator({
      users: [
        { name: 'admin', password: 'admin', roles: ['_administrator'] },
        ...users.map((u) => ({ name: u.name, password: 'pw' })),
      ],
    });
    await sim.listen(0, '127.0.0.1');
    sim.failTokenEndpoints({ kind: 'delay', ms: 1_500 });
    const r = await startApp({
      sim,
      vidispine: { admin: { username: 'admin', password: 'admin' }, mintTimeoutSeconds: 5 },
      raw: { users },
      noWait: true,
    });
    const failures: string[] = [];
    r.app.store.on('mintFailed', (e) => failures.push(e.reason));
    try {
      // A pool of 8 sockets would queue the 60 mints in 8 rounds of 1.5 s: those behind the
      // third would outlast the 5 s mint timeout. Without a queue each takes 1.5 s.
      await until(() => r.app.health.started().ok, HANG_GUARD_MS, 'a token for every user');
      expect(failures).toEqual([]);
      expect(sim.calls({ endpoint: 'user_token' })).toBe(60);
    } finally {
      await r.close();
    }
  },
  HANG_GUARD_MS,
);
