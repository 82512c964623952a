/**
 * autoRefresh with traffic only to the roots Vidispine serves without credentials
 * (`/APInoauth/…`, `/APIinit/`, `/APIdoc/`), through the whole app in real time: Vidispine
 * never looks at the token there, so those answers must not slide the modelled expiry. An
 * application that polls `/APInoauth/is-online` through the proxy must not keep a dead token
 * looking valid, to be found out by the next real request's 401.
 */
import { startApp } from '../support/app';
import { steadyClock, steadyNow } from '../support/clock';
import { call } from '../support/http';

it.concurrent.each(['/APInoauth/is-online', '/APIdoc/'])(
  'answers from %s move no expiry: the token is renewed before it dies, no request meets a 401',
  async (path) => {
    const r = await startApp({
      simulator: { refreshIntervalSeconds: 1, now: steadyNow },
      clock: steadyClock,
      raw: { token: { seconds: 3, autoRefresh: true, serverRefreshIntervalSeconds: 1 } },
    });
    try {
      const first = r.app.store.current('alice')?.value ?? '';
      const firstExpiry = r.sim.tokenInfo(first)?.expiresAt ?? 0;
      // Past the first token's real end, polling only the root that takes no credentials.
      while (steadyNow() < firstExpiry + 500) {
        expect((await call(r.port(), { path })).status).toBe(200);
        const held = r.app.store.current('alice');
        if (held === undefined) continue;
        const realExpiry = r.sim.tokenInfo(held.value)?.expiresAt ?? 0;
        expect(r.app.store.status()[0].expiresAt ?? 0).toBeLessThanOrEqual(realExpiry);
      }
      expect(r.app.store.current('alice')?.value).not.toBe(first);
      expect((await call(r.port(), { path: '/API/whoami' })).text).toBe('alice');
      expect(r.observer.unauthorized).toEqual([]);
    } finally {
      await r.close();
    }
  },
  20_000,
);
