/** The token endpoint faults the reliability tests inflict, and how each one heals. */
import type { Simulator } from '../../src/simulator';
import { startApp, type RunningApp } from './app';
import { HANG_GUARD_MS, until } from './wait';
import { startTraffic, type Answer } from './reliability-clients';
import { recordTokenEvents } from './token-events';
import type { TokenEventName } from '../../src/tokens/types';

/**
 * The mint timeout of apps whose faults hang the token endpoint: short, so that the test
 * need not wait out the default 10 s.
 */
export const MINT_TIMEOUT_MS = 500;
/** The product's mint timeout: where no fault hangs a mint, a slow one is the machine's. */
export const DEFAULT_MINT_TIMEOUT_MS = 10_000;

export interface FaultCase {
  readonly name: string;
  /** The metric reason the failed mints carry. */
  readonly reason: string;
  /** Retried fast; the others (credentials, configuration) back off from 8 s. */
  readonly transient?: boolean;
  break(sim: Simulator): void;
  heal(sim: Simulator): void;
}

export const FAULTS: readonly FaultCase[] = [
  {
    name: '5xx',
    reason: 'server_error',
    transient: true,
    break: (sim) => sim.failTokenEndpoints({ kind: 'status', status: 503 }),
    heal: (sim) => sim.healTokenEndpoints(),
  },
  {
    name: 'hanging past the mint timeout',
    reason: 'timeout',
    transient: true,
    break: (sim) => sim.failTokenEndpoints({ kind: 'delay', ms: 60_000 }),
    heal: (sim) => sim.healTokenEndpoints(),
  },
  {
    name: 'empty 200',
    reason: 'empty_token',
    transient: true,
    break: (sim) => sim.failTokenEndpoints({ kind: 'empty' }),
    heal: (sim) => sim.healTokenEndpoints(),
  },
  {
    name: 'dropped connections',
    reason: 'network',
    transient: true,
    break: (sim) => sim.failTokenEndpoints({ kind: 'drop' }),
    heal: (sim) => sim.healTokenEndpoints(),
  },
  {
    name: '401 (password rotated)',
    reason: 'unauthorized',
    break: (sim) => sim.setUserPassword('alice', 'rotated-elsewhere'),
    heal: (sim) => sim.setUserPassword('alice', 'alice-password'),
  },
  {
    name: '409 (user disabled at the token endpoint)',
    reason: 'user_disabled',
    break: (sim) => sim.failTokenEndpoints({ kind: 'status', status: 409 }),
    heal: (sim) => sim.healTokenEndpoints(),
  },
  {
    name: '400 (seconds above the cap)',
    reason: 'bad_request',
    break: (sim) => sim.failTokenEndpoints({ kind: 'status', status: 400 }),
    heal: (sim) => sim.healTokenEndpoints(),
  },
];

/**
 * An app whose tokens live `seconds`, its mints abandoned after `mintTimeoutMs`. Where no
 * fault makes a mint hang, give `DEFAULT_MINT_TIMEOUT_MS`: a short timeout then only turns a
 * mint that a busy machine slowed into a `timeout` failure the test did not inflict.
 */
export function startFaultApp(seconds: number, mintTimeoutMs: number): Promise<RunningApp> {
  return startApp({
    raw: { token: { seconds } },
    vidispine: { mintTimeoutSeconds: mintTimeoutMs / 1000 },
  });
}

export function statuses(answers: readonly Answer[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const a of answers) counts[a.status] = (counts[a.status] ?? 0) + 1;
  return counts;
}

export const failures = (r: RunningApp, reason: string): Promise<number> =>
  r.metric('vidispine_auth_proxy_token_refreshes_total', {
    user: 'alice',
    result: 'failure',
    reason,
  });

/**
 * The outage outlives the token: clients see 200 while it is held, then only 503 with
 * `Retry-After` (never 401, never a forwarded request without a token); /readyz, /status
 * and metrics say so; mint attempts stay few however hard the client pushes (held for
 * `holdRequests` refused requests); once healed, the store's next attempt mints a token (or
 * the one after, when a mint was already on its way) and clients get 200 again.
 */
export async function expectOutageThenRecovery(
  r: RunningApp,
  fault: Pick<FaultCase, 'reason'>,
  breakIt: () => void,
  healIt: () => void | Promise<void>,
  holdRequests: number,
): Promise<void> {
  const log = recordTokenEvents(r.app.store);
  const traffic = startTraffic(r.port());
  try {
    const mintsBefore =
      r.sim.calls({ endpoint: 'token' }) + r.sim.calls({ endpoint: 'user_token' });
    breakIt();
    const outageStart = Date.now();
    await until(() => traffic.answers.some((a) => a.status === 503), HANG_GUARD_MS, 'a 503');
    const ready = await r.ops('/readyz');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.text)).toMatchObject({
      users: [{ user: 'alice', lastFailure: fault.reason }],
    });
    expect(await r.metric('vidispine_auth_proxy_token_valid', { user: 'alice' })).toBe(0);
    const status = JSON.parse((await r.ops('/status')).text) as { users: unknown[] };
    expect(status.users[0]).toMatchObject({ lastError: { reason: fault.reason } });
    const refused = (): number => traffic.answers.filter((a) => a.status === 503).length;
    await until(() => refused() >= holdRequests, HANG_GUARD_MS, `${holdRequests} refused`);
    const outageMs = Date.now() - outageStart;
    const attempts =
      r.sim.calls({ endpoint: 'token' }) + r.sim.calls({ endpoint: 'user_token' }) - mintsBefore;
    // Backoff from 0.5–1 s, doubling: a handful of attempts, however many requests came.
    expect(attempts).toBeLessThanOrEqual(2 + Math.ceil(Math.log2(Math.max(outageMs, 1000) / 500)));
    if (holdRequests > 0) expect(refused()).toBeGreaterThan(3 * attempts);
    const beforeHeal = log.events.length;
    await healIt();
    const healedAt = Date.now();
    const sinceHealed = (): TokenEventName[] => log.names().slice(beforeHeal);
    if (!sinceHealed().includes('minted')) await log.next('minted');
    // A mint already on its way when the fault healed may still fail; the next one may not.
    expect(sinceHealed().filter((name) => name === 'mintFailed').length).toBeLessThanOrEqual(1);
    await until(
      () => traffic.answers.some((a) => a.status === 200 && a.at > healedAt),
      HANG_GUARD_MS,
      'a 200 after healing',
    );
    expect(await failures(r, fault.reason)).toBeGreaterThanOrEqual(1);
  } finally {
    await traffic.stop();
  }
  const answers = traffic.answers;
  expect(answers.filter((a) => a.status !== 200 && a.status !== 503)).toEqual([]);
  for (const a of answers.filter((x) => x.status === 503)) {
    expect(Number(a.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(a.text).toMatch(/^no Vidispine token for user alice: /);
  }
  await until(() => r.app.health.ready().ok, HANG_GUARD_MS, 'readiness');
  expect((await r.ops('/readyz')).status).toBe(200);
  expect(await r.metric('vidispine_auth_proxy_token_valid', { user: 'alice' })).toBe(1);
}
