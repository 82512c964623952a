/**
 * A token Vidispine stopped taking before its expiry, with no new one to be had: readiness,
 * `/status` and the status page say the token was invalidated, not that it expired, and
 * say it until a mint succeeds.
 */
import { startApp } from '../support/app';
import { call } from '../support/http';

type Json = Record<string, unknown>;

it('reports a revoked token whose re-mint fails as invalidated, until a mint succeeds', async () => {
  const r = await startApp();
  try {
    r.sim.revokeAllTokens();
    r.sim.failTokenEndpoints({ kind: 'status', status: 503 });
    expect((await call(r.port(), { path: '/API/whoami' })).status).toBe(503);

    const ready = await r.ops('/readyz');
    expect(ready.status).toBe(503);
    expect((JSON.parse(ready.text) as { users: Json[] }).users).toEqual([
      {
        user: 'alice',
        state: 'invalidated',
        ok: false,
        reason: 'token_invalidated',
        lastFailure: 'server_error',
      },
    ]);
    const status = JSON.parse((await r.ops('/status')).text) as { users: Json[] };
    expect(status.users[0]).toMatchObject({ state: 'invalidated', ready: false, expiresAt: null });
    expect((await r.ops('/')).text).toContain('data-state="invalidated"');
    expect(await r.metric('vidispine_auth_proxy_token_valid', { user: 'alice' })).toBe(0);
    expect(r.logs.filter((line) => line.includes('"token_expired"'))).toEqual([]);
    expect(r.logs.filter((line) => line.includes('"token_invalidated"'))).toHaveLength(1);

    const minted = new Promise<void>((resolve) => r.app.store.on('minted', () => resolve()));
    r.sim.healTokenEndpoints();
    await minted;
    const healed = JSON.parse((await r.ops('/readyz')).text) as { users: Json[] };
    expect(healed.users[0]).toMatchObject({ state: 'valid', ok: true, reason: null });
  } finally {
    await r.close();
  }
});
