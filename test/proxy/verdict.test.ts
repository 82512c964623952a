import type { Rejection } from '../../src/tokens/types';
import { replayed, type Unauthorized, verdictOn401 } from '../../src/proxy/verdict';

/**
 * The step "on 401" that plain requests and WebSocket upgrades share, against a store whose
 * token check the test settles: what is counted, what the store is told, and when the
 * verdict comes.
 */
function setup(overrides: Partial<Unauthorized> = {}) {
  const checks: { args: unknown[]; settle: (r: Rejection) => void }[] = [];
  const counted: { user: string; retried: boolean }[] = [];
  const step: Unauthorized = {
    store: {
      rejected: (...args: unknown[]) =>
        new Promise<Rejection>((settle) => checks.push({ args, settle })),
    },
    observer: { upstreamUnauthorized: (user, retried) => counted.push({ user, retried }) },
    user: 'alice',
    token: 'tok-1',
    sentAt: 1000,
    rawHeaders: ['Content-Type', 'text/plain', 'Reason', 'token tok-1 expired'],
    replayable: true,
    current: () => true,
    ...overrides,
  };
  return { step, checks, counted };
}

it('passes a 401 it cannot replay on at once, still telling the store the token was refused', async () => {
  const { step, checks, counted } = setup({ replayable: false });
  await expect(verdictOn401(step)).resolves.toBe('pass');
  // The store's check is still open: the verdict did not wait for it.
  expect(checks.map((c) => c.args)).toEqual([['alice', 'tok-1', 1000, 'token [REDACTED] expired']]);
  expect(counted).toEqual([{ user: 'alice', retried: false }]);
});

it.each<[Rejection, { user: string; retried: boolean }[]]>([
  // A replay is counted by `replayed`, once it is known whether it went out.
  ['replay', []],
  ['pass', [{ user: 'alice', retried: false }]],
])('waits for the store to judge a replayable 401: %s', async (rejection, counts) => {
  const { step, checks, counted } = setup();
  const verdict = verdictOn401(step);
  await Promise.resolve();
  expect(counted).toEqual([]);
  checks[0]?.settle(rejection);
  await expect(verdict).resolves.toBe(rejection);
  expect(counted).toEqual(counts);
});

it.each([true, false])('counts a replay as retried only when it was sent: %s', (sent) => {
  const { step, counted } = setup();
  replayed(step.observer, 'alice', sent);
  expect(counted).toEqual([{ user: 'alice', retried: sent }]);
});

it('has no verdict for an attempt that stopped speaking for the client during the check', async () => {
  let current = true;
  const { step, checks, counted } = setup({ current: () => current });
  const verdict = verdictOn401(step);
  current = false;
  checks[0]?.settle('replay');
  await expect(verdict).resolves.toBeUndefined();
  expect(counted).toEqual([]);
});
