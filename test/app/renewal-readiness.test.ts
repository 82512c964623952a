/**
 * Renewals under a large safety margin, through the whole app in real time: the current
 * token keeps serving until the new one arrives, so readiness, the token gauge and clients
 * never notice a renewal.
 */
import { startApp } from '../support/app';
import { call } from '../support/http';

/** Renewals watched: about one a second with these 4 s tokens. */
const RENEWALS = 3;

it('keeps /readyz at 200 and token_valid at 1 across renewals when the margin is half the lifetime', async () => {
  // Usable for 2 s of its 4; each mint takes 300 ms. The old cap renewed exactly when the
  // token stopped being usable, so every renewal began with an expiry and a 503.
  const r = await startApp({
    raw: { token: { seconds: 4, safetyMarginSeconds: 2 } },
  });
  try {
    r.sim.failTokenEndpoints({ kind: 'delay', ms: 300 });
    let minted = 0;
    const done = new Promise<void>((resolve) =>
      r.app.store.on('minted', () => {
        if (++minted >= RENEWALS) resolve();
      }),
    );
    let running = true;
    const seen = { readyz: new Map<number, number>(), data: new Map<number, number>(), valid: 0 };
    const count = (m: Map<number, number>, status: number) =>
      m.set(status, (m.get(status) ?? 0) + 1);
    const watch = async (): Promise<void> => {
      while (running) {
        const [ready, data, valid] = await Promise.all([
          r.ops('/readyz'),
          call(r.port(), { path: '/API/whoami' }),
          r.metric('vidispine_auth_proxy_token_valid', { user: 'alice' }),
        ]);
        count(seen.readyz, ready.status);
        count(seen.data, data.status);
        if (valid !== 1) seen.valid += 1;
      }
    };
    const watching = watch();
    await done;
    running = false;
    await watching;
    expect([...seen.readyz.keys()]).toEqual([200]);
    expect([...seen.data.keys()]).toEqual([200]);
    expect(seen.valid).toBe(0);
    expect(r.logs.filter((line) => line.includes('"token_expired"'))).toEqual([]);
  } finally {
    await r.close();
  }
}, 20_000);
