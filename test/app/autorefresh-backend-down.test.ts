/**
 * autoRefresh behind a front end whose backend is gone, through the whole app in real time:
 * the front end's 503 "No server available" never reached Vidispine, so it must not slide
 * the modelled expiry. The proxy stops claiming a valid token when the real one dies.
 */
import { startApp } from '../support/app';
import { steadyClock, steadyNow } from '../support/clock';
import { call } from '../support/http';

it('does not count a front end’s 503 as a push: the token is reported dead when it really dies', async () => {
  const r = await startApp({
    simulator: { refreshIntervalSeconds: 1, now: steadyNow },
    clock: steadyClock,
    raw: { token: { seconds: 3, autoRefresh: true, serverRefreshIntervalSeconds: 1 } },
  });
  try {
    const token = r.app.store.current('alice')?.value ?? '';
    r.sim.setBackendAvailable(false);
    const realExpiry = r.sim.tokenInfo(token)?.expiresAt ?? 0;
    expect(realExpiry).toBeGreaterThan(steadyNow());
    // Clients keep calling while the token runs out; every answer is the front end's 503.
    while (steadyNow() < realExpiry) {
      expect((await call(r.port(), { path: '/API/whoami' })).status).toBe(503);
      const modelled = r.app.store.status()[0].expiresAt ?? 0;
      expect(modelled).toBeLessThanOrEqual(realExpiry);
    }
    // The token is dead (the front end refuses new mints too): not ready, not valid.
    expect((await r.ops('/readyz')).status).toBe(503);
    expect(await r.metric('vidispine_auth_proxy_token_valid', { user: 'alice' })).toBe(0);
    expect(r.sim.tokenInfo(token)?.expiresAt).toBe(realExpiry);
  } finally {
    await r.close();
  }
}, 20_000);
