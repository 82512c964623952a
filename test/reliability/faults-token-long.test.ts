/**
 * Transient token endpoint faults (5xx, hanging, empty 200, dropped or refused connections)
 * that outlive a 2 s token, through the whole app in real time, concurrently.
 */
import { createSimulator } from '../../src/simulator';
import {
  expectOutageThenRecovery,
  FAULTS,
  MINT_TIMEOUT_MS,
  startFaultApp,
} from '../support/reliability-faults';
import { call } from '../support/http';
import { startApp } from '../support/app';
import { recordTokenEvents } from '../support/token-events';
import { HANG_GUARD_MS } from '../support/wait';
import { closedPort } from '../support/net';

describe('transient token endpoint faults longer than the token lifetime', () => {
  test.concurrent.each(FAULTS.filter((f) => f.transient).map((f) => [f.name, f] as const))(
    '%s: 200, then 503 + Retry-After (never 401), recovery within one backoff delay',
    async (_name, fault) => {
      const r = await startFaultApp(2, MINT_TIMEOUT_MS);
      try {
        await expectOutageThenRecovery(
          r,
          fault,
          () => fault.break(r.sim),
          () => fault.heal(r.sim),
          50,
        );
      } finally {
        await r.close();
      }
    },
    HANG_GUARD_MS,
  );

  test.concurrent(
    'Vidispine down (connection refused) from the start: 503 + Retry-After, not started, then recovery',
    async () => {
      const port = await closedPort();
      const r = await startApp({
        vidispine: { url: `http://127.0.0.1:${port}`, mintTimeoutSeconds: 0.5 },
        raw: { token: { seconds: 2 } },
        noWait: true,
      });
      const vidispine = createSimulator();
      const log = recordTokenEvents(r.app.store);
      try {
        await log.next('mintFailed');
        await log.next('mintFailed');
        const reply = await call(r.port(), { path: '/API/whoami' });
        expect(reply.status).toBe(503);
        expect(Number(reply.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect((await r.ops('/startupz')).status).toBe(503);
        expect(JSON.parse((await r.ops('/readyz')).text)).toMatchObject({
          users: [{ user: 'alice', reason: 'no_token_yet', lastFailure: 'network' }],
        });
        const beforeUp = log.events.length;
        await vidispine.listen(port, '127.0.0.1');
        // The attempt the store had scheduled mints the token (one refused while the listener
        // was starting may come first): recovery takes no further backoff.
        const sinceUp = (): string[] => log.names().slice(beforeUp);
        if (!sinceUp().includes('minted')) await log.next('minted');
        expect(sinceUp().filter((name) => name === 'mintFailed').length).toBeLessThanOrEqual(1);
        expect(vidispine.calls({ endpoint: 'token' })).toBe(1);
        expect(r.app.health.started().ok).toBe(true);
        expect((await r.ops('/readyz')).status).toBe(200);
      } finally {
        await r.close();
        await vidispine.close();
      }
    },
    HANG_GUARD_MS,
  );
});
