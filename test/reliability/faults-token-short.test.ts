/**
 * Token endpoint faults that heal before the held token runs out, through the whole app in
 * real time. Each fault runs against its own simulator and app, concurrently.
 */
import {
  FAULTS,
  failures,
  MINT_TIMEOUT_MS,
  startFaultApp,
  statuses,
} from '../support/reliability-faults';
import { startTraffic } from '../support/reliability-clients';
import { nextEvent } from '../support/token-events';
import { HANG_GUARD_MS } from '../support/wait';

/** Long enough that a failed renewal (63–77 %) plus one retry still fits before expiry. */
const SECONDS = 10;

describe('token endpoint faults shorter than the token lifetime', () => {
  test.concurrent.each(FAULTS.map((f) => [f.name, f] as const))(
    '%s: every client request succeeds on the token still held',
    async (_name, fault) => {
      const r = await startFaultApp(SECONDS, MINT_TIMEOUT_MS);
      try {
        const traffic = startTraffic(r.port());
        fault.break(r.sim);
        // The renewal fails at least once...
        const failed = await nextEvent(r.app.store, 'mintFailed');
        expect(failed.reason).toBe(fault.reason);
        expect((await r.ops('/readyz')).status).toBe(200);
        expect(await r.metric('vidispine_auth_proxy_token_valid', { user: 'alice' })).toBe(1);
        // ...and the endpoint heals before the token runs out.
        fault.heal(r.sim);
        await nextEvent(r.app.store, 'minted');
        const answers = await traffic.stop();
        expect(statuses(answers)).toEqual({ 200: answers.length });
        expect(answers.length).toBeGreaterThan(10);
        expect(await failures(r, fault.reason)).toBeGreaterThanOrEqual(1);
        expect((await r.ops('/readyz')).status).toBe(200);
      } finally {
        await r.close();
      }
    },
    HANG_GUARD_MS,
  );
});
