/**
 * However many requests arrive, a failing token endpoint sees only the store's backoff
 * schedule: at most a handful of attempts per minute, for every failure class.
 */
import { backoffDelay } from '../../src/tokens/backoff';
import { MINT_FAILURE_REASONS, type MintFailureReason } from '../../src/vidispine/failures';

const REASONS = MINT_FAILURE_REASONS;

/** Attempts within the first `windowMs` of an outage with no token held, worst-case jitter. */
function attemptsIn(windowMs: number, reason: MintFailureReason): number {
  let at = 0;
  let attempts = 0;
  for (let step = 1; at < windowMs; step++) {
    attempts += 1;
    at += backoffDelay({ step, reason, timeLeftMs: 0, random: 0.9999 });
  }
  return attempts;
}

it.each(REASONS)(
  '%s: at most 8 mint attempts in the first minute, 3 a minute after that',
  (reason) => {
    expect(attemptsIn(60_000, reason)).toBeLessThanOrEqual(8);
    expect(attemptsIn(3_600_000, reason) - attemptsIn(60_000, reason)).toBeLessThanOrEqual(3 * 59);
  },
);
