import type { UserConfig } from '../config/types';
import { messageOf } from '../error-message';
import {
  afterFailure,
  backoffDelay,
  type FailureRun,
  lostBackoffDelay,
  NO_FAILURE,
  rejectionBackoffDelay,
} from './backoff';
import type { HeldToken } from './held-token';
import type { LearnedLifetime } from './learned-lifetime';
import { safetyMarginMs } from './renew-policy';
import {
  type MintEndpoint,
  MintError,
  type MintFailureReason,
  type NoTokenReason,
  NoTokenError,
  type TokenMinter,
  type UserTokenStatus,
} from './types';

/** Everything the store knows of one user: its tokens, its mints and their backoff. */
export interface UserSlot {
  readonly user: UserConfig;
  readonly minter: TokenMinter;
  readonly lifetime: LearnedLifetime;
  /** The failed mints since the last success, which set the backoff. */
  failed: FailureRun;
  /** The latest failed mint (`at` on the clock), shown until the next one. */
  lastError: UserTokenStatus['lastError'];
  /** When the latest mint succeeded (on the clock). */
  lastRefreshAt: number | null;
  /** Held a token at least once (drives /startupz). */
  everHeld: boolean;
  /** While failing, or after tokens kept dying: no mint attempt before this (on the clock). */
  retryAt: number | null;
  /**
   * Where the latest failure would have put the retry with no token held: the retry once the
   * token it was planned for (up to half its remaining life away) is found dead.
   */
  retryIfLost: number | null;
  /** What `get()` says while `retryAt` holds it back. */
  blocked: { reason: NoTokenReason; message: string } | null;
  /** When the last mint attempt started: replacing dead tokens is budgeted from there. */
  lastMintAt: number | null;
  /** When the folder of the secret file its mints read last changed (`secretFolderChanged`). */
  secretChangedAt: number | null;
  /**
   * A retry a change of the secret file brought forward: `planned` until its mint ends, then
   * `refused` if Vidispine refused the secret it sent (no other change brings a retry forward
   * before a mint on the backoff's own schedule), else back to `none`.
   */
  secretRetry: 'none' | 'planned' | 'refused';
  /** Current tokens confirmed dead in a row that Vidispine never accepted even once. */
  deaths: number;
  /**
   * Current tokens found dead, accepted before or not, since a token last lived to its
   * renewal or was found dead `RUN_GAP_MS` or more after the previous mint. Acceptance
   * does not end the run: a GET /API/whoami that calls every token dead, with a client
   * mixing good requests with refused ones, gets most tokens accepted first.
   */
  lost: number;
  /**
   * Current tokens dropped on a 401 that GET /API/whoami could not check (the server has no
   * such route), since a token last lived to its renewal or was dropped `RUN_GAP_MS` or
   * more after the previous mint. Acceptance does not end the run: a client mixing good
   * requests with refused ones gets every token accepted.
   */
  unchecked: number;
  /** A mint for this user is under way (the cache's fetch). */
  inFlight: boolean;
  /** The `expired` event was emitted for the current token's lapse (a push may end one). */
  expiredNotified: boolean;
  /** The current token and the one before, so a late answer can still be attributed. */
  recent: HeldToken[];
}

export function newUserSlot(
  user: UserConfig,
  minter: TokenMinter,
  lifetime: LearnedLifetime,
): UserSlot {
  return {
    user,
    minter,
    lifetime,
    failed: NO_FAILURE,
    lastError: null,
    lastRefreshAt: null,
    everHeld: false,
    retryAt: null,
    retryIfLost: null,
    blocked: null,
    lastMintAt: null,
    secretChangedAt: null,
    secretRetry: 'none',
    deaths: 0,
    lost: 0,
    unchecked: 0,
    inFlight: false,
    expiredNotified: false,
    recent: [],
  };
}

/** The user's safety margin for a token of `lifetimeSeconds`. */
export function marginMsFor(user: UserConfig, lifetimeSeconds: number): number {
  return safetyMarginMs({
    configuredSeconds: user.token.seconds,
    marginSeconds: user.token.safetyMarginSeconds,
    lifetimeSeconds,
  });
}

/** `Retry-After` for a wait of `ms`: whole seconds, at least 1. */
function retryAfterSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** What `get()` waiting on a store that stops is told. */
export function stoppedError(user: string): NoTokenError {
  return new NoTokenError(user, 'stopped', 'the token store is stopping', 1);
}

/** Why `get()` must not mint at `now` (a backoff holds it back), or undefined. */
export function refusal(slot: UserSlot, now: number): NoTokenError | undefined {
  if (slot.inFlight || slot.retryAt === null || now >= slot.retryAt) return undefined;
  return new NoTokenError(
    slot.user.name,
    slot.blocked?.reason ?? 'network',
    slot.blocked?.message ?? 'no token yet',
    retryAfterSeconds(slot.retryAt - now),
  );
}

/** A mint succeeded at `now` with `held`: the backoff is over. */
export function recordMinted(slot: UserSlot, held: HeldToken, now: number): void {
  slot.failed = NO_FAILURE;
  slot.retryAt = null;
  slot.secretRetry = 'none';
  slot.retryIfLost = null;
  slot.blocked = null;
  slot.lastRefreshAt = now;
  slot.everHeld = true;
  slot.expiredNotified = false;
  slot.recent = [held, ...slot.recent.slice(0, 1)];
}

export interface MintFailure {
  readonly reason: MintFailureReason;
  readonly message: string;
  /** Vidispine's `Retry-After`, in ms. */
  readonly retryAfterMs: number | undefined;
  /** Where the failed request went. */
  readonly endpoint: MintEndpoint;
}

/** What a mint's error says; anything but a `MintError` is a network failure. */
export function describeMintFailure(err: unknown, endpoint: MintEndpoint): MintFailure {
  if (!(err instanceof MintError)) {
    return {
      reason: 'network',
      message: `token request failed unexpectedly: ${messageOf(err)}`,
      retryAfterMs: undefined,
      endpoint,
    };
  }
  return {
    reason: err.reason,
    message: err.message,
    retryAfterMs: err.retryAfterMs,
    endpoint: err.endpoint ?? endpoint,
  };
}

/**
 * A mint failed at `now` while the current token had `timeLeftMs` of use left (0: none):
 * plans the retry, and returns ms until it.
 */
export function recordMintFailure(
  slot: UserSlot,
  { reason, message, retryAfterMs, endpoint }: MintFailure,
  { now, timeLeftMs, random }: { now: number; timeLeftMs: number; random: number },
): number {
  const before = slot.failed;
  slot.failed = afterFailure(before, timeLeftMs > 0);
  const failure = { reason, random, retryAfterMs };
  const delay = backoffDelay({ ...failure, step: slot.failed.step, timeLeftMs });
  slot.retryAt = now + delay;
  slot.retryIfLost =
    timeLeftMs > 0
      ? now + backoffDelay({ ...failure, step: afterFailure(before, false).step, timeLeftMs: 0 })
      : null;
  slot.blocked = { reason, message };
  slot.lastError = { reason, message, at: now, endpoint };
  slot.secretRetry =
    slot.secretRetry === 'planned' && reason === 'unauthorized' ? 'refused' : 'none';
  // A Secret updated while this mint was under way holds no backoff on the secret it replaced.
  const sooner = secretChangedSinceMint(slot) ? retryOnSecretChange(slot, now) : undefined;
  if (sooner === undefined) return delay;
  // Whole milliseconds, as `backoffDelay` gives: the clock's instants have fractions.
  const soonerDelay = Math.ceil(sooner - now);
  slot.retryAt = now + soonerDelay;
  slot.secretRetry = 'planned';
  return soonerDelay;
}

/** Failures a new secret may cure: the one read was refused, or could not be read. */
const CURED_BY_NEW_SECRET: ReadonlySet<MintFailureReason> = new Set([
  'unauthorized',
  'secret_unreadable',
]);

/**
 * The least time between two mints that a change of the secret file starts: a file written
 * in place is changed twice (emptied, then written), and the first mint may read it empty.
 */
export const SECRET_CHANGE_GAP_MS = 1_000;

/**
 * When to mint again now that the secret file may have changed (at `now`, or while the last
 * mint was under way), or undefined to keep the plan: only while a backoff on a failure a new
 * secret may cure holds mints back, and never sooner than `SECRET_CHANGE_GAP_MS` after the
 * last mint started. (A mint under way is left alone: it plans what comes next when it ends.)
 * Not after a mint a change brought forward was refused: a change is only maybe a new secret
 * (a file touched, or written again with the same password, changes too), and each refused
 * login counts towards the lockout some Vidispine setups impose; the backoff decides then.
 */
export function retryOnSecretChange(slot: UserSlot, now: number): number | undefined {
  if (slot.retryAt === null || slot.failed.failures === 0) return undefined;
  if (slot.secretRetry === 'refused') return undefined;
  if (slot.lastError === null || !CURED_BY_NEW_SECRET.has(slot.lastError.reason)) return undefined;
  const at = Math.max(now, (slot.lastMintAt ?? now) + SECRET_CHANGE_GAP_MS);
  return at < slot.retryAt ? at : undefined;
}

/** Whether the secret file's folder changed since the last mint started: it may have read the old secret. */
function secretChangedSinceMint(slot: UserSlot): boolean {
  return (
    slot.secretChangedAt !== null &&
    slot.lastMintAt !== null &&
    slot.secretChangedAt >= slot.lastMintAt
  );
}

/** What `get()` waiting on a mint that failed is told: retry after `delayMs`. */
export function mintFailedError(
  slot: UserSlot,
  failure: MintFailure,
  delayMs: number,
): NoTokenError {
  return new NoTokenError(
    slot.user.name,
    failure.reason,
    failure.message,
    retryAfterSeconds(delayMs),
  );
}

/** Vidispine accepted `held`: minting works, so a run of tokens that died unused ends. */
export function recordAccepted(slot: UserSlot, held: HeldToken): void {
  if (held.proven) return;
  held.proven = true;
  slot.deaths = 0;
}

/**
 * Whether a 401 on the current token that could not be checked (GET /API/whoami is not
 * there) may drop it at `now`. Unchecked, the 401 may be the request's own (a refused RunAs),
 * so these drops follow the rejection backoff from the last mint (at once, then 1 s, 2 s …
 * 30 s): a client that provokes 401s costs a bounded number of mints, and a token that died
 * is replaced within that backoff. Not while a mint backoff holds mints back: the token is
 * kept rather than every request answered 503. `random` must be the draw `planReplacement`
 * gets, so that it sees the replacement due at once.
 */
export function mayDropUnchecked(slot: UserSlot, now: number, random: number): boolean {
  if (refusal(slot, now) !== undefined) return false;
  const unchecked = inRun(slot, slot.unchecked, now);
  const earliest = (slot.lastMintAt ?? now) + rejectionBackoffDelay(unchecked + 1, random);
  return now >= earliest;
}

/**
 * Whether the current token, confirmed dead at `now`, may be dropped and replaced: at once
 * for the first `LOST_AT_ONCE` in a run, then only once the rejection backoff from the last
 * mint allows (`lostBackoffDelay`). Until then it is kept and the 401
 * passed on, as for a 401 the server could not check: a GET /API/whoami that calls tokens
 * that work dead (a client mixing good requests with refused ones) would otherwise cost a
 * mint per round trip, and clients keep a token that may well work rather than get `503`s.
 * A token that really died is replaced at its first 401 once the backoff allows (at most
 * 30 s after the last mint). `random` must be the draw `planReplacement` gets.
 */
export function mayReplaceLost(slot: UserSlot, now: number, random: number): boolean {
  const lost = inRun(slot, slot.lost, now);
  return now >= (slot.lastMintAt ?? now) + lostBackoffDelay(lost + 1, random);
}

/**
 * A token dropped this long after the previous mint (found dead, or on a 401 that could not
 * be checked) ends the run of such drops before it (`lost`, `unchecked`): renewal, which
 * ends them otherwise, may be hours away for a long token, and never comes for an
 * autoRefresh token in steady use, so drops far apart (restarts over days) would add up and
 * hold back, for good, the replacement of any token that dies soon after another. A client
 * that gets tokens dropped (refused requests, a whoami that calls working tokens dead) gets
 * its burst again only after leaving a token alone this long.
 */
export const RUN_GAP_MS = 10 * 60_000;

/** `count`, a run of drops, or 0 when the current token, dropped at `now`, ends that run. */
function inRun(slot: UserSlot, count: number, now: number): number {
  return slot.lastMintAt !== null && now - slot.lastMintAt >= RUN_GAP_MS ? 0 : count;
}

/**
 * When the current token, just found dead at `now` (`confirmed` by GET /API/whoami, or
 * dropped on a 401 the server could not check), is replaced: ms from now (0: at once or
 * under way).
 */
export function planReplacement(
  slot: UserSlot,
  held: HeldToken,
  { now, random, confirmed }: { now: number; random: number; confirmed: boolean },
): number {
  // Tokens that never work are replaced on the backoff schedule. One that worked and then
  // died (a restart, a removal) is dropped only within the budget of `mayReplaceLost`, so
  // replaced at once; the run counts every token confirmed dead, accepted before its check
  // or not (acceptance ends a run of `deaths`, not of `lost`), so a whoami that calls every
  // token dead cannot make the proxy mint on every round trip by killing some before their
  // first acceptance. Unchecked drops have their own budget (`mayDropUnchecked`) and run.
  // Either run ends at a drop `RUN_GAP_MS` after the previous mint (`inRun`).
  if (confirmed) slot.lost = inRun(slot, slot.lost, now) + 1;
  else slot.unchecked = inRun(slot, slot.unchecked, now) + 1;
  if (!held.proven) slot.deaths += 1;
  // With no token every request is a 503: a retry planned for this token's remaining life
  // (minutes, for a long one) comes when a failure without a token would have had it.
  if (slot.retryAt !== null && slot.retryIfLost !== null) {
    slot.retryAt = Math.min(slot.retryAt, slot.retryIfLost);
  }
  slot.retryIfLost = null;
  const rejection = rejectionBackoffDelay(slot.deaths, random);
  const lost = lostBackoffDelay(slot.lost, random);
  const earliest = (slot.lastMintAt ?? now) + Math.max(rejection, lost);
  if (earliest > now) {
    slot.retryAt = Math.max(slot.retryAt ?? 0, earliest);
    slot.blocked = {
      reason: 'rejected',
      message:
        lost > rejection
          ? `${slot.lost} tokens were found dead (GET /API/whoami) less than ${RUN_GAP_MS / 60_000} min apart; the next one is minted when the backoff allows`
          : `Vidispine rejected ${slot.deaths} new tokens in a row before accepting any; the next one is minted when the backoff allows`,
    };
  }
  if (slot.inFlight || slot.retryAt === null) return 0;
  return Math.max(0, Math.ceil(slot.retryAt - now));
}
