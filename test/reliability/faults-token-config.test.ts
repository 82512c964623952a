/**
 * Token endpoint refusals an operator has to fix (rotated password, disabled user, seconds
 * above the cap), which back off from 8 s, and Vidispine silently capping the lifetime.
 * Whole app, real time, concurrently. No fault here makes a mint hang, so mints have the
 * product's timeout: the failures each test counts and names are the ones it inflicted.
 */
import {
  DEFAULT_MINT_TIMEOUT_MS,
  expectOutageThenRecovery,
  FAULTS,
  startFaultApp,
} from '../support/reliability-faults';
import { startApp } from '../support/app';
import { startTraffic } from '../support/reliability-clients';
import { nextEvent, recordTokenEvents } from '../support/token-events';
import { HANG_GUARD_MS, until } from '../support/wait';

const vidispine = { mintTimeoutSeconds: DEFAULT_MINT_TIMEOUT_MS / 1000 };

describe('configuration-class token faults longer than the token lifetime', () => {
  test.concurrent.each(FAULTS.filter((f) => !f.transient).map((f) => [f.name, f] as const))(
    '%s: 200, then 503 + Retry-After (never 401), recovery within one backoff delay',
    async (_name, fault) => {
      const r = await startFaultApp(2, DEFAULT_MINT_TIMEOUT_MS);
      try {
        await expectOutageThenRecovery(
          r,
          fault,
          () => fault.break(r.sim),
          () => fault.heal(r.sim),
          0,
        );
      } finally {
        await r.close();
      }
    },
    HANG_GUARD_MS,
  );

  test.concurrent(
    'a user disabled in Vidispine: its token is refused too, clients get 503, never 401',
    async () => {
      const r = await startFaultApp(30, DEFAULT_MINT_TIMEOUT_MS);
      try {
        await expectOutageThenRecovery(
          r,
          { reason: 'user_disabled' },
          () => r.sim.setUserDisabled('alice', true),
          () => r.sim.setUserDisabled('alice', false),
          0,
        );
      } finally {
        await r.close();
      }
    },
    HANG_GUARD_MS,
  );

  test.concurrent(
    'Vidispine silently caps the lifetime at 2 s: each early 401 replayed, no lifetime that short learned',
    async () => {
      const r = await startApp({
        simulator: { maxSeconds: 2, aboveMax: 'cap' },
        raw: { token: { seconds: 6 } },
        vidispine,
      });
      const log = recordTokenEvents(r.app.store);
      try {
        const traffic = startTraffic(r.port(), '/API/whoami', 50);
        // Three tokens die at 2 s under traffic, each dropped at its first 401.
        for (let i = 0; i < 3; i++) await log.next('invalidated');
        // The request that met the third 401 ends once it was replayed with a new token.
        const answers = await traffic.stop();
        expect(answers.filter((a) => a.status !== 200)).toEqual([]);
        expect(
          await r.metric('vidispine_auth_proxy_upstream_unauthorized_total', {
            user: 'alice',
            retried: 'true',
          }),
        ).toBeGreaterThanOrEqual(3);
        const status = JSON.parse((await r.ops('/status')).text) as {
          users: { lifetimeSeconds: number }[];
        };
        // Deaths that young are taken for removals (test/tokens learns caps of 10 s and
        // more): no lifetime is learned, and each dead token costs one mint, no more.
        expect(log.names()).not.toContain('lifetimeLearned');
        expect(status.users[0].lifetimeSeconds).toBe(6);
        const mints = log.names().filter((name) => name === 'minted').length;
        expect(r.sim.calls({ endpoint: 'token' })).toBe(1 + mints);
      } finally {
        await r.close();
      }
    },
    HANG_GUARD_MS,
  );

  test.concurrent(
    'Vidispine restarts at similar token ages do not shorten the lifetime',
    async () => {
      const r = await startApp({ raw: { token: { seconds: 4 } }, vidispine });
      const learned: unknown[] = [];
      r.app.store.on('lifetimeLearned', (e) => learned.push(e));
      try {
        const traffic = startTraffic(r.port(), '/API/whoami', 20);
        /** Once a token minted now has served a request (the client sends one at a time). */
        const servedByNextToken = async (): Promise<void> => {
          await nextEvent(r.app.store, 'minted', HANG_GUARD_MS);
          const mintedAt = Date.now();
          const served = (): number =>
            traffic.answers.filter((a) => a.status === 200 && a.at > mintedAt).length;
          await until(() => served() >= 2, HANG_GUARD_MS, 'a request served by the new token');
        };
        // A restart when the token has just started working; its successor lives to its
        // renewal; the renewed token has just started working when the next restart strikes.
        await servedByNextToken();
        r.sim.revokeAllTokens();
        await nextEvent(r.app.store, 'minted');
        await servedByNextToken();
        r.sim.revokeAllTokens();
        await servedByNextToken();
        const answers = await traffic.stop();
        expect(answers.filter((a) => a.status !== 200)).toEqual([]);
        expect(learned).toEqual([]);
        const status = JSON.parse((await r.ops('/status')).text) as {
          users: { lifetimeSeconds: number }[];
        };
        expect(status.users[0].lifetimeSeconds).toBe(4);
      } finally {
        await r.close();
      }
    },
    HANG_GUARD_MS,
  );
});
