import { renewAt } from './renew-policy';
import {
  mintedSliding,
  observeSliding,
  observeUncertain,
  type SlidingRules,
  type SlidingState,
} from './sliding-expiry';
import { InFlightSends } from './in-flight';
import type { MintedToken, TokenCheck } from './types';

/** One token as the store knows it. Mutable: autoRefresh pushes move its expiry. */
export interface HeldToken {
  readonly value: string;
  /** When the mint request was sent: the start of the token's life. */
  readonly sentAt: number;
  /** When the mint's answer arrived: the token surely existed from here on. */
  readonly receivedAt: number;
  readonly lifetimeMs: number;
  /** The user's safety margin for `lifetimeMs`: not handed out this close to its expiry. */
  readonly marginMs: number;
  expiresAt: number;
  usableUntil: number;
  renewAt: number;
  sliding: SlidingState | null;
  /** Requests (and checks) with an autoRefresh token still in flight; null otherwise. */
  readonly inFlight: InFlightSends | null;
  revoked: boolean;
  /** Send time of the latest request or check Vidispine accepted this token for. */
  aliveAt: number;
  /** Vidispine accepted it at least once: minting works, whatever happens to it later. */
  proven: boolean;
  /** The check under way, which every 401 on this token joins until it answers. */
  check: PendingCheck | undefined;
  /** When the latest check of this token was sent (one per `CHECK_INTERVAL_MS`). */
  lastCheckAt: number;
}

export interface PendingCheck {
  /** Earliest send time of the rejected requests it answers: the age learning looks at. */
  rejectedSentAt: number;
  /** The first `Reason:` header among them (token blanked out). */
  reason: string | undefined;
  result: Promise<TokenCheck>;
}

/** What the store grants a token it mints. */
export interface MintTerms {
  /** The lifetime it is counted with: the one asked for, or the shorter one learned. */
  readonly lifetimeMs: number;
  /** The user's safety margin for that lifetime. */
  readonly marginMs: number;
  /** Vidispine pushes its expiry on use (`autoRefresh`): its life is modelled as it slides. */
  readonly autoRefresh: boolean;
}

/**
 * A token just minted, with no life set yet (`setLife` gives it one). `sliding`: autoRefresh
 * tokens count their creation as a push.
 */
export function heldFromMint(
  token: MintedToken,
  receivedAt: number,
  { lifetimeMs, marginMs, autoRefresh }: MintTerms,
): HeldToken {
  return {
    value: token.value,
    sentAt: token.sentAt,
    receivedAt,
    lifetimeMs,
    marginMs,
    expiresAt: 0,
    usableUntil: 0,
    renewAt: 0,
    sliding: autoRefresh ? mintedSliding(token.sentAt, receivedAt, lifetimeMs) : null,
    inFlight: autoRefresh ? new InFlightSends() : null,
    revoked: false,
    aliveAt: token.sentAt,
    proven: false,
    check: undefined,
    lastCheckAt: -Infinity,
  };
}

/**
 * lru-cache knows nothing of our expiry, so every read asks the token itself: a dead token
 * is never handed out.
 */
export function isUsable(held: HeldToken, now: number): boolean {
  return !held.revoked && now < held.usableUntil;
}

/**
 * Sets expiry, last usable instant and renewal instant for a lifetime starting at `from` (the
 * mint's send, or the latest autoRefresh push); `random`, a draw in [0, 1), jitters the renewal.
 */
export function setLife(held: HeldToken, from: number, expiresAt: number, random: number): void {
  held.expiresAt = expiresAt;
  held.usableUntil = expiresAt - held.marginMs;
  held.renewAt = renewAt({
    from,
    lifetimeMs: expiresAt - from,
    marginMs: held.marginMs,
    mintMs: held.receivedAt - held.sentAt,
    random,
  });
}

/** Where the token's age is counted from: its mint's send, or the latest autoRefresh push. */
export function lifeStart(held: HeldToken): number {
  return held.sliding?.lastPushFrom ?? held.sentAt;
}

/** From here on the token surely existed: its mint's answer, or the latest certain push. */
export function surelyExistedFrom(held: HeldToken): number {
  return held.sliding?.lastPushBy ?? held.receivedAt;
}

/** The last push, possible ones included, came at the latest by here. */
export function lastPushBy(held: HeldToken): number {
  return held.sliding
    ? Math.max(held.sliding.lastPushBy, held.sliding.possible?.by ?? -Infinity)
    : held.receivedAt;
}

/** Vidispine accepted the token for a request or check sent at `sentAt`. */
export function markAlive(held: HeldToken, sentAt: number): void {
  if (sentAt > held.aliveAt) held.aliveAt = sentAt;
}

/**
 * An accepted request sent at `sentAt` and answered at `now` may have pushed an autoRefresh
 * expiry (counted from the earliest send still `inFlight`, this one's already removed).
 * Returns the new state when the modelled expiry moved (the caller sets the life anew from
 * it), undefined otherwise.
 */
export function slideExpiry(
  held: HeldToken,
  sentAt: number,
  now: number,
  rules: SlidingRules,
): SlidingState | undefined {
  if (held.sliding === null || held.revoked) return undefined;
  const next = observeSliding(held.sliding, sentAt, now, rules, held.inFlight?.earliest());
  if (next === held.sliding) return undefined;
  held.sliding = next;
  return next.expiresAt === held.expiresAt ? undefined : next;
}

/**
 * An answer that proves nothing (a 5xx, a front end's 4xx, none in time) to a request or
 * check Vidispine may still have taken the token for: an autoRefresh push it may have made
 * is remembered, so the next push the model counts does not outrun the server's.
 */
export function notePossiblePush(
  held: HeldToken,
  sentAt: number,
  now: number,
  intervalMs: number,
): void {
  if (held.sliding === null || held.revoked) return;
  held.sliding = observeUncertain(held.sliding, sentAt, now, { intervalMs });
}
