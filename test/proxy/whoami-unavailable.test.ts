/**
 * A Vidispine-compatible server (or a front end) without GET /API/whoami: a 401 cannot be
 * checked, so the design's default applies — the token is dropped, one new one minted, the
 * request replayed once. Whoami answers that are no verdict on the route (5xx, 429) still
 * pass the 401 on and keep the token.
 */
import { startHarness } from '../support/app';
import { call } from '../support/http';
import type { TokenEvents } from '../../src/tokens/types';

describe.each([404, 405, 501])('GET /API/whoami answers %i (no such route)', (status) => {
  it('a GET and a small POST after a revocation get 200 with one new token', async () => {
    const h = await startHarness({ simulator: { whoamiStatus: status } });
    const checked: TokenEvents['checked'][] = [];
    const learned: unknown[] = [];
    h.store.on('checked', (e) => checked.push(e));
    h.store.on('lifetimeLearned', (e) => learned.push(e));
    try {
      expect((await call(h.port, { path: '/API/slow?ms=0' })).status).toBe(200);
      const mints = h.sim.calls({ endpoint: 'token' });

      h.sim.revokeAllTokens();
      const [get, post] = await Promise.all([
        call(h.port, { path: '/API/slow?ms=0' }),
        call(h.port, { method: 'POST', path: '/API/import/raw', body: Buffer.alloc(10_000, 7) }),
      ]);
      expect(get.status).toBe(200);
      expect(post.status).toBe(200);
      expect(JSON.parse(post.text)).toMatchObject({ bytes: 10_000 });
      expect(h.sim.calls({ endpoint: 'token' })).toBe(mints + 1);
      expect(h.observer.unauthorized).toEqual([
        { user: 'alice', retried: true },
        { user: 'alice', retried: true },
      ]);
      expect(checked).toEqual([{ user: 'alice', result: 'unavailable', dropped: true }]);
      expect(learned).toEqual([]);
      expect(h.store.status()[0].effectiveSeconds).toBe(60);
    } finally {
      await h.close();
    }
  });

  it('a second revocation right after the first waits for the rejection backoff', async () => {
    const h = await startHarness({ simulator: { whoamiStatus: status } });
    const checked: TokenEvents['checked'][] = [];
    h.store.on('checked', (e) => checked.push(e));
    try {
      expect((await call(h.port, { path: '/API/slow?ms=0' })).status).toBe(200);
      h.sim.revokeAllTokens();
      expect((await call(h.port, { path: '/API/slow?ms=0' })).status).toBe(200);
      const mints = h.sim.calls({ endpoint: 'token' });
      h.sim.revokeAllTokens();
      // Within a second of the last mint: the 401 is passed on and the token kept.
      expect((await call(h.port, { path: '/API/slow?ms=0' })).status).toBe(401);
      expect(h.sim.calls({ endpoint: 'token' })).toBe(mints);
      expect(checked.at(-1)).toEqual({ user: 'alice', result: 'unavailable', dropped: false });
      // Once the backoff allows, the next 401 replaces it and the request gets its answer.
      let reply = await call(h.port, { path: '/API/slow?ms=0' });
      while (reply.status === 401) reply = await call(h.port, { path: '/API/slow?ms=0' });
      expect(reply.status).toBe(200);
      expect(h.sim.calls({ endpoint: 'token' })).toBe(mints + 1);
    } finally {
      await h.close();
    }
  });
});

describe.each([500, 503, 429])('GET /API/whoami answers %i (no verdict)', (status) => {
  it('the 401 is passed on and the token kept, as before', async () => {
    const h = await startHarness({ simulator: { whoamiStatus: status } });
    const checked: TokenEvents['checked'][] = [];
    h.store.on('checked', (e) => checked.push(e));
    try {
      expect((await call(h.port, { path: '/API/slow?ms=0' })).status).toBe(200);
      const mints = h.sim.calls({ endpoint: 'token' });
      h.sim.revokeAllTokens();
      expect((await call(h.port, { path: '/API/slow?ms=0' })).status).toBe(401);
      expect(h.sim.calls({ endpoint: 'token' })).toBe(mints);
      expect(checked.map((e) => e.result)).toEqual(['unknown']);
    } finally {
      await h.close();
    }
  });
});
