/**
 * autoRefresh and a request that got no answer, through the whole app in real time: it timed
 * out at the proxy (504), or its client went away, but it had reached Vidispine, which pushed
 * the token's expiry for it. A push suppresses the next one for `userTokenRefreshInterval`,
 * so a request answered within that interval pushes nothing: the model must not count it as a
 * push either.
 */
import * as http from 'node:http';
import { startApp, type RunningApp } from '../support/app';
import { steadyClock, steadyNow } from '../support/clock';
import { call } from '../support/http';
import { until } from '../support/wait';

/** A slow request that Vidispine takes (and pushes for) and whose client leaves. */
async function abandoned(r: RunningApp): Promise<void> {
  const req = http.get({ port: r.port(), path: '/API/slow?ms=5000' });
  req.on('error', () => undefined);
  await until(() => r.sim.inFlightRequests() > 0, 10_000, 'the request reaching Vidispine');
  req.destroy();
  await until(() => r.sim.inFlightRequests() === 0, 10_000, 'the request leaving Vidispine');
}

/** A slow request that Vidispine takes (and pushes for) and the proxy gives up on after 1 s. */
async function timedOut(r: RunningApp): Promise<void> {
  expect((await call(r.port(), { path: '/API/slow?ms=5000' })).status).toBe(504);
}

it.each([
  ['timed out at the proxy', timedOut],
  ['abandoned by its client', abandoned],
])(
  'a request %s may have pushed: the next answer within the interval moves the modelled expiry no later than the real one',
  async (_, unanswered) => {
    const r = await startApp({
      simulator: { refreshIntervalSeconds: 2, now: steadyNow },
      clock: steadyClock,
      vidispine: { upstreamTimeoutSeconds: 1 },
      raw: { token: { seconds: 20, autoRefresh: true, serverRefreshIntervalSeconds: 2 } },
    });
    try {
      const token = r.app.store.current('alice')?.value ?? '';
      const createdAt = (r.sim.tokenInfo(token)?.expiresAt ?? 0) - 20_000;
      // Past the interval after the token's creation, so that Vidispine pushes for the next
      // request it takes (answers from /APInoauth/ tell the model nothing).
      while (steadyNow() < createdAt + 2_100) {
        expect((await call(r.port(), { path: '/APInoauth/is-online' })).status).toBe(200);
      }
      await unanswered(r);
      const pushed = r.sim.tokenInfo(token)?.expiresAt ?? 0;
      expect(pushed).toBeGreaterThan(createdAt + 22_000);
      // Within the interval after that push: Vidispine pushes nothing for this one.
      expect((await call(r.port(), { path: '/API/whoami' })).text).toBe('alice');
      expect(r.sim.tokenInfo(token)?.expiresAt).toBe(pushed);
      expect(r.app.store.current('alice')?.value).toBe(token);
      expect(r.app.store.status()[0].expiresAt ?? 0).toBeLessThanOrEqual(pushed);
    } finally {
      await r.close();
    }
  },
  20_000,
);
