/**
 * No client traffic pattern makes the proxy mint more often than its backoff allows: the
 * worst patterns, through the whole app in real time, each against its own simulator —
 * 16 clients in parallel, as fast as they can, for a few seconds.
 *
 * - A 401 the token did not cause (a path that always answers 401, a refused RunAs, a
 *   disabled RunAs target) is checked with GET /API/whoami, found alive, passed on: no mint,
 *   no lifetime learned, at most one check a second.
 * - A Vidispine that rejects every token it issues: replacements follow the rejection
 *   backoff (at once, then 1 s, 2 s, 4 s …).
 * - Revocations at the same token age: each replaced by one new token, no lifetime learned
 *   (the re-test that lets a learned lifetime grow back is in test/tokens).
 * - A GET /API/whoami that calls every token dead, with good requests mixed in so that each
 *   new token is accepted first: replacements follow the lost-token budget (`LOST_AT_ONCE`
 *   at once, then the rejection backoff); in between the token is kept, the 401s passed on.
 */
import * as http from 'node:http';
import { createSimulator, DEFAULT_USERS, type Simulator } from '../../src/simulator';
import {
  BACKOFF_JITTER,
  LOST_AT_ONCE,
  lostBackoffDelay,
  rejectionBackoffDelay,
} from '../../src/tokens/backoff';
import { CHECK_INTERVAL_MS } from '../../src/tokens/store';
import { call } from '../support/http';
import { onLoopback } from '../support/net';
import { startApp, type RunningApp } from '../support/app';

const CLIENTS = 16;
const TRAFFIC_MS = 5_000;
/** However slow the machine, a storm sends at least this many requests. */
const MIN_REQUESTS = 500;

interface Storm {
  readonly statuses: Map<number, number>;
  readonly requests: number;
}

/**
 * `CLIENTS` loops sending `path` back to back with `headers` until `done` (by default: once
 * `TRAFFIC_MS` have passed and `MIN_REQUESTS` were sent).
 */
async function storm(
  port: number,
  path: string,
  headers = {},
  done: (requests: number) => boolean = timeBox(TRAFFIC_MS),
): Promise<Storm> {
  const statuses = new Map<number, number>();
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  let requests = 0;
  const client = async (): Promise<void> => {
    while (!done(requests)) {
      const reply = await call(port, { path, headers, agent });
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      requests += 1;
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  agent.destroy();
  return { statuses, requests };
}

function timeBox(ms: number): (requests: number) => boolean {
  const end = Date.now() + ms;
  return (requests) => Date.now() >= end && requests >= MIN_REQUESTS;
}

/** Mints Vidispine saw, and checks (GET /API/whoami by the proxy) by result. */
async function counts(r: RunningApp): Promise<{ mints: number; alive: number; dead: number }> {
  const check = (result: string) =>
    r.metric('vidispine_auth_proxy_token_checks_total', { user: 'alice', result });
  return {
    mints: r.sim.calls({ endpoint: 'token', user: 'alice' }),
    alive: await check('alive'),
    dead: await check('dead'),
  };
}

/** A front of Vidispine where `paths` answer 401 whatever the token; the rest passes. */
async function with401Paths(
  sim: Simulator,
  paths: readonly string[],
): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(sim.url);
  const server = http.createServer((req, res) => {
    if (paths.some((path) => req.url?.startsWith(path))) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="Vidispine"', 'content-length': 0 });
      res.end();
      return;
    }
    const upstream = http.request(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  return onLoopback(server);
}

/** At most this many checks in `ms`: one at once, then one per interval. */
const checkBudget = (ms: number): number => 1 + Math.ceil(ms / CHECK_INTERVAL_MS);

describe('401s the token did not cause mint nothing', () => {
  test.concurrent(
    'a path that always answers 401 (no RunAs)',
    async () => {
      const sim = createSimulator();
      await sim.listen(0, '127.0.0.1');
      const front = await with401Paths(sim, ['/API/always-401']);
      const r = await startApp({ sim, vidispine: { url: front.url } });
      try {
        const started = Date.now();
        const s = await storm(r.port(), '/API/always-401');
        const c = await counts(r);
        expect(s.statuses.get(401)).toBe(s.requests);
        expect(c.mints).toBe(1);
        expect(c.dead).toBe(0);
        expect(c.alive).toBeGreaterThanOrEqual(1);
        expect(c.alive).toBeLessThanOrEqual(checkBudget(Date.now() - started));
        expect(r.app.store.status()[0].effectiveSeconds).toBe(60);
        // The token was never in doubt: other requests go through on it.
        expect((await call(r.port(), { path: '/API/whoami' })).text).toBe('alice');
      } finally {
        await r.close();
        await front.close();
      }
    },
    20_000,
  );

  test.concurrent.each([
    ['a refused RunAs answered 401', { refusedRunAsStatus: 401 as const }, 'admin'],
    ['a refused RunAs answered 403', {}, 'admin'],
    ['a disabled RunAs target', {}, 'dora'],
  ])(
    '%s',
    async (_name, simOptions, runAs) => {
      const r = await startApp({
        simulator: {
          ...simOptions,
          users: [...DEFAULT_USERS, { name: 'dora', password: 'dora-pw', disabled: true }],
        },
        raw: {
          users: [
            { name: 'alice', password: 'alice-password', listen: '127.0.0.1:0', allowRunAs: true },
          ],
        },
      });
      try {
        const s = await storm(r.port(), '/API/whoami', { runas: runAs });
        const c = await counts(r);
        expect(s.statuses.get(200)).toBeUndefined();
        expect(c.mints).toBe(1);
        expect(c.dead).toBe(0);
        expect(r.app.store.status()[0].effectiveSeconds).toBe(60);
        expect((await call(r.port(), { path: '/API/whoami' })).text).toBe('alice');
      } finally {
        await r.close();
      }
    },
    20_000,
  );
});

/** Most mints the rejection backoff allows within `ms` (worst-case jitter). */
function rejectionBudget(ms: number): number {
  let at = 0;
  let mints = 1; // the first token
  for (let deaths = 1; ; deaths++) {
    at += rejectionBackoffDelay(deaths, 1 - 1e-9);
    if (at > ms) return mints;
    mints += 1;
  }
}

describe('tokens Vidispine takes away', () => {
  test.concurrent(
    'a Vidispine that rejects every token it issues: replacements follow the backoff',
    async () => {
      const r = await startApp({ noWait: true });
      // Every token is gone the moment it is issued.
      r.app.store.on('minted', () => r.sim.revokeAllTokens());
      try {
        const started = Date.now();
        const s = await storm(r.port(), '/API/whoami');
        const elapsed = Date.now() - started;
        const c = await counts(r);
        expect(s.statuses.get(200)).toBeUndefined();
        expect(c.mints).toBeGreaterThanOrEqual(3);
        expect(c.mints).toBeLessThanOrEqual(rejectionBudget(elapsed + 1_000));
        // Clients waiting for the next token get 503 with Retry-After, not a stampede.
        expect(s.statuses.get(503)).toBeGreaterThan(0);
      } finally {
        await r.close();
      }
    },
    20_000,
  );

  test.concurrent(
    'revocations at the same token age: each replaced once, no lifetime learned',
    async () => {
      const r = await startApp({ raw: { token: { seconds: 30 } } });
      const learned: unknown[] = [];
      r.app.store.on('lifetimeLearned', (e) => learned.push(e));
      try {
        // The first four tokens are revoked when 1.5 s old, then Vidispine behaves.
        let revoked = 0;
        const revokeAtAge = (): void => {
          if (revoked >= 4) return;
          revoked += 1;
          setTimeout(() => r.sim.revokeAllTokens(), 1_500);
        };
        revokeAtAge();
        r.app.store.on('minted', revokeAtAge);
        // Until the fifth token (after four replacements, the one left alone) has served 100
        // requests.
        let servedBeforeFifth: number | undefined;
        r.app.store.on('minted', () => {
          if (r.sim.calls({ endpoint: 'token' }) === 5) {
            servedBeforeFifth = r.sim.calls({ endpoint: 'api' });
          }
        });
        const s = await storm(
          r.port(),
          '/API/whoami',
          {},
          () =>
            servedBeforeFifth !== undefined &&
            r.sim.calls({ endpoint: 'api' }) >= servedBeforeFifth + 100,
        );
        // Every revocation was hidden by one replay with one new token.
        expect(s.statuses.get(200)).toBe(s.requests);
        expect((await counts(r)).mints).toBe(1 + 4);
        expect((await counts(r)).dead).toBe(4);
        expect(learned).toEqual([]);
        expect(r.app.store.status()[0].effectiveSeconds).toBe(30);
      } finally {
        await r.close();
      }
    },
    30_000,
  );
});

/** Most mints within `ms` when every token Vidispine accepted is found dead at once. */
function lostBudget(ms: number): number {
  let at = 0;
  let mints = 1; // the first token
  for (let lost = 1; ; lost++) {
    at += lostBackoffDelay(lost, 1 - 1e-9);
    if (at > ms) return mints;
    mints += 1;
  }
}

describe('a GET /API/whoami that answers 401 for tokens that work', () => {
  test.concurrent(
    'good requests mixed with refused ones: replacements follow the budget, not the round trip',
    async () => {
      const sim = createSimulator();
      await sim.listen(0, '127.0.0.1');
      // /API/good is any path the simulator serves; /API/bad is refused whatever the token.
      const front = await with401Paths(sim, ['/API/whoami', '/API/bad']);
      const r = await startApp({ sim, vidispine: { url: front.url } });
      try {
        const started = Date.now();
        const [good, bad] = await Promise.all([
          storm(r.port(), '/API/slow?ms=0'),
          storm(r.port(), '/API/bad'),
        ]);
        const elapsed = Date.now() - started;
        const c = await counts(r);
        const minted = await r.metric('vidispine_auth_proxy_token_refreshes_total', {
          user: 'alice',
          result: 'success',
          reason: 'none',
        });
        // Each token was accepted, then "dead": the first few replaced at once, then 1 s, 2 s …
        expect(c.mints).toBeGreaterThan(LOST_AT_ONCE + 1);
        expect(c.mints).toBeLessThanOrEqual(lostBudget(elapsed + 1_000));
        expect(minted).toBe(c.mints);
        // Between replacements a token "dead" is kept: one check a second, 401s passed on.
        expect(c.dead).toBeLessThanOrEqual(c.mints + checkBudget(elapsed));
        expect(c.alive).toBe(0);
        // Good requests keep being served on a token kept so; refused ones get their own 401.
        expect(good.statuses.get(401)).toBeUndefined();
        expect(good.statuses.get(200)).toBeGreaterThan(good.requests / 2);
        expect(bad.statuses.get(200)).toBeUndefined();
      } finally {
        await r.close();
        await front.close();
      }
    },
    20_000,
  );
});

describe('a server without GET /API/whoami: 401s cannot be checked', () => {
  test.concurrent(
    'refused RunAs 401s mixed with good requests: drops follow the rejection backoff',
    async () => {
      const r = await startApp({
        simulator: { refusedRunAsStatus: 401, whoamiStatus: 404 },
        raw: {
          users: [
            { name: 'alice', password: 'alice-password', listen: '127.0.0.1:0', allowRunAs: true },
          ],
        },
      });
      const learned: unknown[] = [];
      r.app.store.on('lifetimeLearned', (e) => learned.push(e));
      try {
        const started = Date.now();
        // Every new token is accepted by a good request before a refused one drops it.
        const [good, refused] = await Promise.all([
          storm(r.port(), '/API/slow?ms=0'),
          storm(r.port(), '/API/slow?ms=0', { runas: 'admin' }),
        ]);
        const elapsed = Date.now() - started;
        const mints = r.sim.calls({ endpoint: 'token', user: 'alice' });
        const unavailable = await r.metric('vidispine_auth_proxy_token_checks_total', {
          user: 'alice',
          result: 'unavailable',
        });
        // The fallback did drop tokens, within the budget: at once, then 1 s, 2 s, 4 s …
        expect(mints).toBeGreaterThanOrEqual(3);
        expect(mints).toBeLessThanOrEqual(rejectionBudget(elapsed + 1_000));
        expect(unavailable).toBeGreaterThanOrEqual(mints - 1);
        expect(unavailable).toBeLessThanOrEqual(checkBudget(elapsed) + mints);
        // Good requests never noticed: each drop was replaced at once, none held back (503).
        expect([...good.statuses.keys()]).toEqual([200]);
        expect(refused.statuses.get(200)).toBeUndefined();
        expect(learned).toEqual([]);
        expect(r.app.store.status()[0].effectiveSeconds).toBe(60);
      } finally {
        await r.close();
      }
    },
    20_000,
  );
});

it('the rejection budget allows at most 8 mints in the first minute, 3 a minute after', () => {
  expect(rejectionBudget(60_000)).toBeLessThanOrEqual(8);
  expect(rejectionBudget(3_600_000) - rejectionBudget(60_000)).toBeLessThanOrEqual(
    Math.ceil((59 * 60_000) / (30_000 * (1 - BACKOFF_JITTER))),
  );
});

it('the lost-token budget allows at most 17 mints in the first minute, 3 a minute after', () => {
  expect(lostBudget(60_000)).toBeLessThanOrEqual(17);
  expect(lostBudget(3_600_000) - lostBudget(60_000)).toBeLessThanOrEqual(
    Math.ceil((59 * 60_000) / (30_000 * (1 - BACKOFF_JITTER))),
  );
});
