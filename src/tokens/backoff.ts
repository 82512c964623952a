import { MINT_FAILURES } from '../vidispine/failures';
import type { MintFailureReason } from './types';

export const BACKOFF_BASE_MS = 1_000;
export const BACKOFF_MAX_MS = 5 * 60_000;
/** With no valid token the proxy answers 503, so it keeps trying at least this often. */
export const BACKOFF_NO_TOKEN_CAP_MS = 30_000;
/** Jitter takes up to a quarter off a delay, so users that failed together spread out. */
export const BACKOFF_JITTER = 0.25;
/** Never retry faster than this, however little time a token has left. */
export const BACKOFF_FLOOR_MS = 500;

/**
 * Failures an operator has to fix (credentials, roles, configuration) start three doublings
 * later (8 s): retrying them fast only floods Vidispine's log with failed logins.
 */
const SLOW_START = 3;

export interface BackoffInput {
  /** Consecutive failures, this one included (1 for the first). */
  readonly failures: number;
  readonly reason: MintFailureReason;
  /** ms the current token stays usable; 0 or less when none is held. */
  readonly timeLeftMs: number;
  /** A draw in [0, 1). */
  readonly random: number;
}

/**
 * ms until the next mint attempt: 1 s doubling per failure, capped at the smaller of 5 min
 * and half the time the current token has left (30 s when none is held), minus up to 25 %
 * jitter, never under 500 ms.
 */
export function backoffDelay({ failures, reason, timeLeftMs, random }: BackoffInput): number {
  const attempt = failures + (MINT_FAILURES[reason].operatorMustFix ? SLOW_START : 0);
  const cap = timeLeftMs > 0 ? Math.min(BACKOFF_MAX_MS, timeLeftMs / 2) : BACKOFF_NO_TOKEN_CAP_MS;
  const raw = Math.min(cap, BACKOFF_BASE_MS * 2 ** Math.min(attempt - 1, 20));
  return Math.max(BACKOFF_FLOOR_MS, Math.round(raw * (1 - BACKOFF_JITTER * random)));
}
