import type { MintEndpoint } from '../vidispine/endpoints';
import type { MintFailureReason } from '../vidispine/failures';
import type { TokenCheck } from '../vidispine/types';

/**
 * What the ops side reads from the token store, stated structurally so that `ops/` never
 * imports `tokens/`: the real store satisfies these shapes (checked by
 * test/ops/contracts.ts). The forwarder's reports need no such view: its observer's
 * methods are optional, and the composition root checks that the metrics and logs fit.
 */

export type TokenStateView = 'pending' | 'valid' | 'failing' | 'expired';

export interface UserTokenView {
  readonly user: string;
  readonly mode: 'renew' | 'autoRefresh';
  readonly endpoint: MintEndpoint;
  readonly state: TokenStateView;
  /** Epoch ms of the modelled expiry of the current token, or null. */
  readonly expiresAt: number | null;
  /** Epoch ms of the last successful mint, or null. */
  readonly lastRefreshAt: number | null;
  readonly lastError: {
    readonly reason: MintFailureReason;
    readonly message: string;
    readonly at: number;
  } | null;
  readonly failures: number;
  readonly everHeld: boolean;
  readonly effectiveSeconds: number;
  /** Epoch ms of the next mint after a failure (its backoff), or null when none is waiting. */
  readonly nextAttemptAt: number | null;
}

export interface TokenStatusSource {
  status(): readonly UserTokenView[];
}

export interface TokenEventsView {
  minted: {
    user: string;
    endpoint: MintEndpoint;
    seconds: number;
    durationSeconds: number;
    expiresAt: number;
  };
  mintFailed: {
    user: string;
    endpoint: MintEndpoint;
    reason: MintFailureReason;
    message: string;
    durationSeconds: number;
    retryInMs: number;
  };
  expired: { user: string };
  invalidated: { user: string; cause: string; reason?: string };
  checked: { user: string; result: TokenCheck; reason?: string };
  lifetimeLearned: { user: string; configuredSeconds: number; observedSeconds: number };
  lifetimeRestored: { user: string; configuredSeconds: number; learnedSeconds: number };
}

export interface TokenEventSource {
  on(event: 'minted', listener: (payload: TokenEventsView['minted']) => void): unknown;
  on(event: 'mintFailed', listener: (payload: TokenEventsView['mintFailed']) => void): unknown;
  on(event: 'expired', listener: (payload: TokenEventsView['expired']) => void): unknown;
  on(event: 'invalidated', listener: (payload: TokenEventsView['invalidated']) => void): unknown;
  on(event: 'checked', listener: (payload: TokenEventsView['checked']) => void): unknown;
  on(
    event: 'lifetimeLearned',
    listener: (payload: TokenEventsView['lifetimeLearned']) => void,
  ): unknown;
  on(
    event: 'lifetimeRestored',
    listener: (payload: TokenEventsView['lifetimeRestored']) => void,
  ): unknown;
}

/**
 * Whether the user holds a token that is still unexpired at `now`. The store's own state is
 * trusted only together with the expiry, so a token that lapses between two events (no
 * timer fired yet) already counts as gone.
 */
export function holdsUnexpiredToken(view: UserTokenView, now: number): boolean {
  return (
    (view.state === 'valid' || view.state === 'failing') &&
    view.expiresAt !== null &&
    view.expiresAt > now
  );
}
