/**
 * A renewal slower than the rest of its token's usable life, through the whole app in real
 * time: the token's lapse is announced when it happens (`token_expired`, `/readyz` 503), not
 * swallowed because a mint is still under way. Node's timers run on the event loop's cached
 * time and can fire a fraction of a millisecond before the instant they were set for; that
 * must not lose the event.
 */
import { startApp } from '../support/app';

it('announces the lapse of a token whose renewal is still under way', async () => {
  // Usable for 3.6 s of its 4 (0.4 s margin); the renewal starts by 2.6 s and takes 2.5 s.
  const r = await startApp({
    raw: { token: { seconds: 4 } },
    vidispine: { mintTimeoutSeconds: 10 },
  });
  try {
    const events: string[] = [];
    r.app.store.on('expired', () => events.push('expired'));
    r.app.store.on('minted', () => events.push('minted'));
    if (r.app.store.status()[0]?.state !== 'valid') {
      await new Promise<void>((resolve) => r.app.store.on('minted', () => resolve()));
    }
    r.sim.failTokenEndpoints({ kind: 'delay', ms: 2500 }, { times: 1 });
    const renewed = new Promise<void>((resolve) => r.app.store.on('minted', () => resolve()));
    const readiness: Promise<number>[] = [];
    r.app.store.on('expired', () => {
      readiness.push(r.ops('/readyz').then((reply) => reply.status));
    });
    await renewed;
    expect(events.slice(-2)).toEqual(['expired', 'minted']);
    expect(await Promise.all(readiness)).toEqual([503]);
    expect(r.logs.filter((line) => line.includes('"event":"token_expired"'))).toHaveLength(1);
  } finally {
    await r.close();
  }
}, 20_000);
