/**
 * The token store's contract: what the forwarder, the ops endpoints and the logs may rely
 * on. Nothing outside `tokens/` reaches into the store's insides; they call these methods
 * and subscribe to these events.
 */

import type { MintEndpoint } from '../vidispine/endpoints';
import type { MintFailureReason } from '../vidispine/failures';
import type { TokenCheck } from '../vidispine/types';

export type { MintEndpoint } from '../vidispine/endpoints';
export type { MintFailureReason } from '../vidispine/failures';
export {
  MintError,
  type MintedToken,
  type TokenCheck,
  type TokenChecker,
  type TokenMinter,
} from '../vidispine/types';

/**
 * Why `get()` could not produce a token; the forwarder turns it into `503` + `Retry-After`.
 * `rejected`: Vidispine kept rejecting fresh tokens, so the next mint waits its turn.
 */
export type NoTokenReason = MintFailureReason | 'rejected' | 'stopped';

export class NoTokenError extends Error {
  constructor(
    readonly user: string,
    readonly reason: NoTokenReason,
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
  /** The store's clock (`now()`) after which this token will not be handed out (modelled expiry minus margin). */
  readonly usableUntil: number;
}

export type TokenState =
  | 'pending' // never held a token yet, first mint under way or failing
  | 'valid' // holds an unexpired token, last mint succeeded
  | 'failing' // holds an unexpired token, but renewal is failing
  | 'invalidated' // Vidispine stopped taking the token before its expiry; no new one yet
  | 'expired'; // held one before, it lapsed, none usable now

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
    /** Where the failed request went. */
    readonly endpoint: MintEndpoint;
  } | null;
  /** Consecutive failed mints since the last success. */
  readonly failures: number;
  /** Has held a token at least once (drives /startupz). */
  readonly everHeld: boolean;
  /** Lifetime in use, after any learning from early 401s. */
  readonly effectiveSeconds: number;
  /** The safety margin for that lifetime: a token is not handed out this close to its expiry. */
  readonly marginSeconds: number;
  /** Epoch ms of the next mint after a failure (its backoff), or null when none is waiting. */
  readonly nextAttemptAt: number | null;
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
  /**
   * A 401 on the token dropped it. `cause`: `unauthorized` when GET /API/whoami confirmed
   * that Vidispine no longer takes the token (check `dead`); `unauthorized_unchecked` when the
   * server has no GET /API/whoami to ask (404, 405, 501: check `unavailable`) and the 401 was
   * taken as the token's — only for the current token, as often as the rejection backoff
   * allows. `retryInMs`: when the mint of its replacement starts — 0 at once (or one is under
   * way), later while a backoff holds it back; null when a newer token was already held.
   */
  invalidated: {
    user: string;
    cause: 'unauthorized' | 'unauthorized_unchecked';
    reason?: string;
    retryInMs: number | null;
  };
  /**
   * A 401 on a request was checked with GET /API/whoami on the same token: `alive` means the
   * 401 was the request's own (a refused RunAs, a path that answers 401) and was passed on.
   * `reason` is Vidispine's `Reason:` header of that 401, with the token blanked out.
   */
  checked: {
    user: string;
    result: TokenCheck;
    reason?: string;
    /** The token is dropped (`invalidated` told first): found dead, or uncheckable and replaced. */
    dropped: boolean;
  };
  lifetimeLearned: { user: string; configuredSeconds: number; observedSeconds: number };
  /** A retired token outlived the learned lifetime: the configured one is used again. */
  lifetimeRestored: { user: string; configuredSeconds: number; learnedSeconds: number };
}

export type TokenEventName = keyof TokenEvents;

/** What to do with a request that got a 401: see `TokenStore.rejected`. */
export type Rejection = 'replay' | 'pass';

export interface TokenStore {
  /**
   * The store's clock: elapsed time, unmoved by steps of the wall clock. `sentAt` given to
   * `answered` and `rejected` is read from it, as the minters stamp theirs.
   */
  now(): number;
  /** A usable token now, synchronously, or undefined (hot path: no promise when one is held). */
  current(user: string): TokenLease | undefined;
  /** A usable token, minting (coalesced) when none is held; rejects with NoTokenError. */
  get(user: string, signal?: AbortSignal): Promise<TokenLease>;
  /**
   * A request carrying this token goes, at `sentAt`, to a path where Vidispine looks at the
   * token (`authenticates`). Until its `answered` or `rejected`, Vidispine may take it at any
   * time and push an autoRefresh expiry, which holds back the push of a request sent later
   * that comes back first: the expiry that request shows is counted from this send.
   */
  sent(user: string, tokenValue: string, sentAt: number): void;
  /**
   * A request carrying this token, sent at `sentAt` to a path where Vidispine looks at the
   * token (`authenticates`), got an answer with this status (other than 401), or none
   * (`undefined`: reset, timed out, abandoned by its client). Only an answer that proves
   * Vidispine accepted the token (`provesAccepted`: not a front end's 503, never a 5xx) shows
   * it was alive then: it may slide an autoRefresh expiry and counts as evidence against a
   * learned lifetime. Other answers, and no answer, move no expiry, but a push Vidispine may
   * have made for them holds back the next one the model counts.
   */
  answered(user: string, tokenValue: string, sentAt: number, status: number | undefined): void;
  /**
   * Vidispine answered 401 to a request carrying this token, sent at `sentAt`. A 401 is not
   * always the token's fault (a refused `RunAs`, a path that always answers 401), so unless
   * a newer token is already held, the token is checked with GET /API/whoami first: one check
   * shared by every 401 that arrives while it is under way, at most one a second per token
   * (a 401 in between is passed on at once). Resolves `replay` when the token is dead —
   * or the server has no GET /API/whoami and the rejection backoff allows taking the 401 as
   * the token's — it has been dropped and a new one is minted within the mint budget; send
   * the request again with a fresh lease — or `pass` when the token works (or was not, or
   * could not be, checked): the 401 belongs to the request. Vidispine may have taken the token, and pushed
   * an autoRefresh expiry, before refusing the request: that push is held possible, as for
   * `answered`'s answers that prove nothing. Never rejects.
   */
  rejected(user: string, tokenValue: string, sentAt: number, reason?: string): Promise<Rejection>;
  status(): UserTokenStatus[];
  /**
   * Something changed in `folder`, which holds the secret file of some users' mints (a
   * Secret's update, a file written again). A user whose mints back off on a failure a new
   * secret may cure (`unauthorized`, `secret_unreadable`) is minted again at once (at least
   * 1 s after its last mint): a Secret updated after the password changed in Vidispine is
   * used when it lands, not up to 30 s later. So is one whose mint was under way at the
   * change, should it fail: it may have read the old secret. `file`, when given, names the
   * one file of the folder that changed: only the users whose secret it holds are concerned.
   */
  secretFolderChanged(folder: string, file?: string): void;
  on<E extends TokenEventName>(event: E, listener: (payload: TokenEvents[E]) => void): this;
  /** Removes a listener `on` added: one that waits for a single event removes itself. */
  off<E extends TokenEventName>(event: E, listener: (payload: TokenEvents[E]) => void): this;
  /** Begin minting for every user and schedule renewals. */
  start(): void;
  /** Cancel timers and in-flight mints; pending get() calls reject with reason 'stopped'. */
  stop(): void;
}
