/**
 * The token store's contract: what the forwarder, the ops endpoints and the logs may rely
 * on. Nothing outside `tokens/` reaches into the store's insides; they call these methods
 * and subscribe to these events.
 */

import type { MintEndpoint } from '../vidispine/endpoints';
import type { MintFailureReason } from '../vidispine/failures';

export type { MintEndpoint } from '../vidispine/endpoints';
export type { MintFailureReason } from '../vidispine/failures';
export { MintError, type MintedToken, type TokenMinter } from '../vidispine/types';

/** Why `get()` could not produce a token; the forwarder turns it into `503` + `Retry-After`. */
export class NoTokenError extends Error {
  constructor(
    readonly user: string,
    readonly reason: MintFailureReason | 'stopped',
    message: string,
    /** Seconds until the next mint attempt, for `Retry-After`. */
    readonly retryAfterSeconds: number,
  ) {
    super(message);
    this.name = 'NoTokenError';
  }
}

/** A token handed out: value plus identity, so a later 401 can invalidate exactly this one. */
export interface TokenLease {
  readonly user: string;
  readonly value: string;
  /** Epoch ms after which this token will not be handed out (modelled expiry minus margin). */
  readonly usableUntil: number;
}

export type TokenState =
  | 'pending' // never held a token yet, first mint under way or failing
  | 'valid' // holds an unexpired token, last mint succeeded
  | 'failing' // holds an unexpired token, but renewal is failing
  | 'expired'; // held one before, none usable now

export interface UserTokenStatus {
  readonly user: string;
  readonly mode: 'renew' | 'autoRefresh';
  readonly endpoint: MintEndpoint;
  readonly state: TokenState;
  /** Epoch ms of the modelled expiry of the current token (no margin), or null. */
  readonly expiresAt: number | null;
  /** Epoch ms of the last successful mint, or null. */
  readonly lastRefreshAt: number | null;
  readonly lastError: {
    readonly reason: MintFailureReason;
    readonly message: string;
    readonly at: number;
  } | null;
  /** Consecutive failed mints since the last success. */
  readonly failures: number;
  /** Has held a token at least once (drives /startupz). */
  readonly everHeld: boolean;
  /** Lifetime in use, after any learning from early 401s. */
  readonly effectiveSeconds: number;
}

export interface TokenEvents {
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
    /** ms until the next attempt. */
    retryInMs: number;
  };
  expired: { user: string };
  invalidated: { user: string; cause: 'unauthorized' };
  lifetimeLearned: { user: string; configuredSeconds: number; observedSeconds: number };
}

export type TokenEventName = keyof TokenEvents;

export interface TokenStore {
  /** A usable token now, synchronously, or undefined (hot path: no promise when one is held). */
  current(user: string): TokenLease | undefined;
  /** A usable token, minting (coalesced) when none is held; rejects with NoTokenError. */
  get(user: string, signal?: AbortSignal): Promise<TokenLease>;
  /** Vidispine rejected this token: drop it only if it is still the current one, then re-mint. */
  invalidate(user: string, tokenValue: string): void;
  /** A request carrying this token was sent at `sentAt` and answered `status` (sliding expiry, learning). */
  observe(user: string, tokenValue: string, sentAt: number, status: number): void;
  status(): UserTokenStatus[];
  on<E extends TokenEventName>(event: E, listener: (payload: TokenEvents[E]) => void): this;
  /** Begin minting for every user and schedule renewals. */
  start(): void;
  /** Cancel timers and in-flight mints; pending get() calls reject with reason 'stopped'. */
  stop(): void;
}
