/**
 * An autoRefresh token's expiry as the proxy models it, with requests that overtake one
 * another: a slow request Vidispine took first may have pushed the expiry, so that a later
 * request that comes back first pushed nothing. Real sockets and the simulator; the simulator
 * and the token store share one manual clock.
 */
import * as http from 'node:http';
import { startApp, type RunningApp } from '../support/app';
import { ManualClock } from '../support/clock';
import { call } from '../support/http';
import { until } from '../support/wait';

let r: RunningApp | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

it("never models an expiry later than Vidispine's when a request still in flight pushed it", async () => {
  const clock = new ManualClock(Date.now());
  // Vidispine's defaults: 60 s, pushed at most every 10 s.
  const app = await startApp({
    simulator: { now: clock.now },
    clock,
    raw: {
      users: [
        {
          name: 'alice',
          password: 'alice-password',
          listen: '127.0.0.1:0',
          token: { seconds: 60, autoRefresh: true },
        },
      ],
    },
  });
  r = app;
  const lease = app.app.store.current('alice');
  if (lease === undefined) throw new Error('no token for alice');
  const minted = app.sim.tokenInfo(lease.value)?.expiresAt ?? NaN;

  // 12 s on, a slow request: Vidispine takes the token at once and pushes (72 s) …
  await clock.advance(12_000);
  const agent = new http.Agent();
  const slow = http.get({ port: app.port(), path: '/API/slow?ms=600000', agent });
  slow.on('error', () => undefined);
  await until(() => app.sim.tokenInfo(lease.value)?.expiresAt !== minted, 10_000, 'the push');

  // … so a request 8 s later, answered while the slow one still runs, pushes nothing.
  await clock.advance(8_000);
  const quick = await call(app.port(), { path: '/API/whoami' });
  expect(quick.status).toBe(200);

  const server = app.sim.tokenInfo(lease.value)?.expiresAt ?? NaN;
  expect(server).toBe(minted + 12_000);
  const modelled = app.app.store.status()[0].expiresAt ?? NaN;
  // Before: 80 s after the mint (counted from the quick request), 8 s after the token died.
  expect(modelled).toBeLessThanOrEqual(server);
  slow.destroy();
  agent.destroy();
});
