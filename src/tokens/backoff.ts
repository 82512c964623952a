import { MINT_FAILURES } from '../vidispine/failures';
import type { MintFailureReason } from './types';

const BACKOFF_BASE_MS = 1_000;
const BACKOFF_MAX_MS = 5 * 60_000;
/** With no valid token the proxy answers 503, so it keeps trying at least this often. */
export const BACKOFF_NO_TOKEN_CAP_MS = 30_000;
/** Jitter takes up to a quarter off a delay, so users that failed together spread out. */
export const BACKOFF_JITTER = 0.25;
/** Never retry faster than this, however little time a token has left. */
const BACKOFF_FLOOR_MS = 500;

/**
 * Failures an operator has to fix (credentials, roles, configuration) start three doublings
 * later (8 s): retrying them fast only floods Vidispine's log with failed logins.
 */
const SLOW_START = 3;

/** Where a run of failed mints stands: see `afterFailure`. */
export interface FailureRun {
  /** Mints failed in a row since the last success; 0 before any. */
  readonly failures: number;
  /**
   * The doubling's step of the latest failure (1 for the first); 0 before any. It is the
   * count of failures unless the token lapsed during the run: the doubling then starts again.
   */
  readonly step: number;
  /** Whether a usable token was still held at the latest failure. */
  readonly holding: boolean;
}

// Stryker disable next-line BooleanLiteral: from step 0, starting again and the next step are both 1
export const NO_FAILURE: FailureRun = { failures: 0, step: 0, holding: false };

/**
 * The run after one more failure. Its step is the next one, except that the first failure to
 * find the token lapsed starts again at 1: retries squeezed into a token's last seconds have
 * raised the step, but once it is gone every request is a 503, so the wait must be short again.
 */
export function afterFailure(last: FailureRun, holding: boolean): FailureRun {
  return {
    failures: last.failures + 1,
    step: last.holding && !holding ? 1 : last.step + 1,
    holding,
  };
}

export interface BackoffInput {
  /** The doubling's step of this failure (`FailureRun.step`; 1 for the first). */
  readonly step: number;
  readonly reason: MintFailureReason;
  /** ms the current token stays usable; 0 or less when none is held. */
  readonly timeLeftMs: number;
  /** A draw in [0, 1). */
  readonly random: number;
  /** Vidispine's `Retry-After`, in ms: honoured, but never beyond the cap. */
  readonly retryAfterMs?: number;
}

/**
 * ms until the next mint attempt: 1 s doubling per step, capped at the smaller of 5 min
 * and half the time the current token has left (30 s when none is held), minus up to 25 %
 * jitter, never under 500 ms. A `Retry-After` lengthens it up to the cap.
 */
export function backoffDelay({
  step,
  reason,
  timeLeftMs,
  random,
  retryAfterMs = 0,
}: BackoffInput): number {
  const attempt = step + (MINT_FAILURES[reason].operatorMustFix ? SLOW_START : 0);
  const cap = capFor(timeLeftMs);
  const delay = jittered(Math.min(cap, BACKOFF_BASE_MS * 2 ** Math.min(attempt - 1, 20)), random);
  return Math.max(delay, Math.min(cap, retryAfterMs));
}

/**
 * How long after the previous mint the next one may start when Vidispine keeps rejecting
 * new tokens before accepting them even once (`deaths` in a row, each confirmed with
 * GET /API/whoami): the first replacement is immediate, then the same schedule as failed
 * mints with no token held (1 s, 2 s, 4 s … 30 s).
 */
export function rejectionBackoffDelay(deaths: number, random: number): number {
  if (deaths <= 1) return 0;
  const raw = Math.min(BACKOFF_NO_TOKEN_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(deaths - 2, 20));
  return jittered(raw, random);
}

/**
 * Tokens that worked and then died replaced at once in a run: a mass revocation, or several
 * close together (an administrator, Vidispine restarted and restarted again), heals at the
 * first 401 each. Ten, where a whoami that lies could make a run at once: still a bounded
 * burst (then the backoff), and every death later than 30 s after the previous mint is
 * replaced at once anyway.
 */
export const LOST_AT_ONCE = 10;

/**
 * How long after the previous mint the replacement of a token confirmed dead (`lost` such
 * deaths in a run, this one included) may start: at once for the first `LOST_AT_ONCE`, then
 * the rejection backoff (1 s, 2 s, 4 s … 30 s). A GET /API/whoami that says 401 for tokens
 * that work, with a client mixing good requests and refused ones, kills every new token as
 * soon as it is accepted; replaced at once each time, that is a mint per round trip.
 */
export function lostBackoffDelay(lost: number, random: number): number {
  return rejectionBackoffDelay(lost - LOST_AT_ONCE + 1, random);
}

function capFor(timeLeftMs: number): number {
  return timeLeftMs > 0 ? Math.min(BACKOFF_MAX_MS, timeLeftMs / 2) : BACKOFF_NO_TOKEN_CAP_MS;
}

function jittered(ms: number, random: number): number {
  return Math.max(BACKOFF_FLOOR_MS, Math.round(ms * (1 - BACKOFF_JITTER * random)));
}
