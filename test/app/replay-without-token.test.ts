/**
 * A 401 on a dead token when no new token can be had: the client gets 503, and nothing —
 * metric, log or access log — says the request was replayed.
 */
import { startApp } from '../support/app';
import { call } from '../support/http';

type Line = Record<string, unknown>;

it('counts retried="false" and logs replayed:false when no new token could be minted', async () => {
  const r = await startApp({ raw: { proxy: { accessLog: true } } });
  try {
    // The token dies and the token endpoint is down: no replay can be sent.
    r.sim.revokeAllTokens();
    r.sim.failTokenEndpoints({ kind: 'status', status: 503 });
    // Both meet the 401 and share the check; a request with a body, held for a replay, goes
    // through the other client.
    const [get, post] = await Promise.all([
      call(r.port(), { path: '/API/whoami' }),
      call(r.port(), { method: 'POST', path: '/API/item', body: 'x' }),
    ]);
    expect([get.status, post.status]).toEqual([503, 503]);
    const unauthorized = (retried: string) =>
      r.metric('vidispine_auth_proxy_upstream_unauthorized_total', { user: 'alice', retried });
    expect(await unauthorized('true')).toBe(0);
    expect(await unauthorized('false')).toBe(2);
    const lines = r.logs.map((text) => JSON.parse(text) as Line);
    const events = (event: string) => lines.filter((l) => l.event === event);
    expect(events('upstream_unauthorized').map((l) => l.retried)).toEqual([false, false]);
    expect(events('request').map((l) => [l.status, l.replayed])).toEqual([
      [503, false],
      [503, false],
    ]);
    expect(r.observer.unauthorized).toEqual([
      { user: 'alice', retried: false },
      { user: 'alice', retried: false },
    ]);
  } finally {
    await r.close();
  }
});
