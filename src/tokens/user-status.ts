import { type HeldToken, isUsable } from './held-token';
import type { UserTokenStatus } from './types';
import { marginMsFor, type UserSlot } from './user-slot';

/**
 * What /status, the metrics and the probes see of one user at `now`. `cached`: the token in
 * the cache, which a failed renewal leaves there; `wall` turns clock instants into epoch ms.
 */
export function statusOf(
  slot: UserSlot,
  cached: HeldToken | undefined,
  now: number,
  wall: (at: number) => number,
): UserTokenStatus {
  const wallOrNull = (at: number | null) => (at === null ? null : wall(at));
  const live = cached !== undefined && !cached.revoked ? cached : undefined;
  const usable = live !== undefined && isUsable(live, now);
  return {
    user: slot.user.name,
    mode: slot.user.token.autoRefresh ? 'autoRefresh' : 'renew',
    endpoint: slot.minter.endpoint,
    state: !slot.everHeld
      ? 'pending'
      : !usable
        ? cached?.revoked === true
          ? 'invalidated'
          : 'expired'
        : slot.failed.failures > 0
          ? 'failing'
          : 'valid',
    expiresAt: wallOrNull(live?.expiresAt ?? null),
    lastRefreshAt: wallOrNull(slot.lastRefreshAt),
    lastError: slot.lastError && { ...slot.lastError, at: wall(slot.lastError.at) },
    failures: slot.failed.failures,
    everHeld: slot.everHeld,
    effectiveSeconds: slot.lifetime.effectiveSeconds,
    marginSeconds: marginMsFor(slot.user, slot.lifetime.effectiveSeconds) / 1000,
    nextAttemptAt: slot.retryAt !== null && slot.retryAt > now ? wall(slot.retryAt) : null,
  };
}
