import { afterFailure, backoffDelay, NO_FAILURE } from '../../src/tokens/backoff';
import type { MintFailureReason } from '../../src/tokens/types';

/**
 * What one proxy user's token metrics look like to Prometheus over time, modelled from the
 * proxy's rules (renewal at about 70 % of the lifetime, the real backoff policy after a
 * failure), so alert tests read series a real proxy would export.
 * Times are seconds since the start of the series.
 */
export interface TokenHistory {
  /** Requested token lifetime. */
  lifetime: number;
  /** Successful mints. */
  mints: number[];
  /** Failed mints. */
  failures: { at: number; reason: MintFailureReason }[];
  /** autoRefresh: requests push the expiry to their time + lifetime this often. */
  pushEvery?: number;
}

/** The proxy renews at 70 % ± 10 % of the lifetime; the three cases, in turn. */
const RENEW_FRACTIONS = [0.63, 0.7, 0.77];

/** Mints of a healthy proxy in renew mode from `from` until `until`. */
export function renewals(lifetime: number, from: number, until: number): number[] {
  const mints: number[] = [];
  for (let t = from, k = 0; t < until; t += lifetime * RENEW_FRACTIONS[k++ % 3]) {
    mints.push(Math.round(t));
  }
  return mints;
}

/**
 * Failed attempts from `from` until `until` under the proxy's backoff, each delay at its
 * longest (no jitter): the widest gaps an alert has to bridge. `expiresAt` is when the
 * token held at `from` expires (0: none held). Each attempt fails `attemptSeconds` after it
 * starts (a `timeout` takes the whole mint timeout, 10 s by default), and the backoff runs
 * from that failure: failures are that much further apart than the delays.
 */
export function failedAttempts(
  reason: MintFailureReason,
  from: number,
  until: number,
  expiresAt = 0,
  attemptSeconds = 0,
): { at: number; reason: MintFailureReason }[] {
  const out: { at: number; reason: MintFailureReason }[] = [];
  for (let t = from + attemptSeconds, run = NO_FAILURE; t < until;) {
    out.push({ at: Math.round(t), reason });
    const timeLeftMs = (expiresAt - t) * 1000;
    run = afterFailure(run, timeLeftMs > 0);
    t += backoffDelay({ step: run.step, reason, timeLeftMs, random: 0 }) / 1000 + attemptSeconds;
  }
  return out;
}

/** The token held at `t`: its expiry, and when it was minted; undefined before the first. */
export function heldToken(
  h: TokenHistory,
  t: number,
): { mintedAt: number; expiresAt: number } | undefined {
  const minted = h.mints.filter((m) => m <= t);
  if (minted.length === 0) return undefined;
  const mintedAt = minted[minted.length - 1];
  const pushedAt = h.pushEvery === undefined ? mintedAt : t - ((t - mintedAt) % h.pushEvery);
  return { mintedAt, expiresAt: pushedAt + h.lifetime };
}

export const count = (times: readonly number[], t: number): number =>
  times.filter((x) => x <= t).length;
