/**
 * What each probe means, in one place. Kubernetes restarts a pod on a failing liveness
 * probe, holds the app container back on a failing startup probe and takes the pod out of
 * the Service on a failing readiness probe; each method answers exactly that question.
 */
import type { UserTokenStatus } from '../tokens/types';
import { holdsUnexpiredToken, type TokenStatusSource } from './views';

export type NotReadyReason = 'no_token_yet' | 'token_invalidated' | 'token_expired';

/** One user as a probe sees it. */
export interface UserProbe {
  readonly user: string;
  /** The token store's state: `pending`, `valid`, `failing`, `invalidated` or `expired`. */
  readonly state: string;
  /** Whether this user lets the probe pass. */
  readonly ok: boolean;
  /** Why not, or null when it does. */
  readonly reason: NotReadyReason | null;
  /** Class of the last failed mint (e.g. "unauthorized"), when there was one. */
  readonly lastFailure: string | null;
}

export interface ProbeResult {
  readonly ok: boolean;
  readonly shuttingDown: boolean;
  /** Every user with its state, those that keep the probe failing with the reason. */
  readonly users: readonly UserProbe[];
}

export class Health {
  private shutdownBegun = false;

  constructor(
    private readonly tokens: TokenStatusSource,
    private readonly now: () => number = Date.now,
  ) {}

  /** Every configured user has held a token at least once since the process started. */
  started(): ProbeResult {
    const users = this.tokens
      .status()
      .map((view) => probe(view, view.everHeld ? null : 'no_token_yet'));
    return { ok: users.every((u) => u.ok), shuttingDown: this.shutdownBegun, users };
  }

  /** Every configured user holds an unexpired token now, and shutdown has not begun. */
  ready(): ProbeResult {
    const at = this.now();
    const users = this.tokens
      .status()
      .map((view) => probe(view, holdsUnexpiredToken(view, at) ? null : withoutTokenReason(view)));
    return {
      ok: users.every((u) => u.ok) && !this.shutdownBegun,
      shuttingDown: this.shutdownBegun,
      users,
    };
  }

  /** From now on readiness fails, so the Service stops sending new traffic. */
  beginShutdown(): void {
    this.shutdownBegun = true;
  }

  get shuttingDown(): boolean {
    return this.shutdownBegun;
  }
}

/**
 * Why a user holds no usable token: none yet, or its last one was refused by Vidispine
 * before its expiry (confirmed with GET /API/whoami) and none replaced it yet, or it lapsed.
 */
function withoutTokenReason(view: UserTokenStatus): NotReadyReason {
  if (!view.everHeld) return 'no_token_yet';
  return view.state === 'invalidated' ? 'token_invalidated' : 'token_expired';
}

function probe(view: UserTokenStatus, reason: NotReadyReason | null): UserProbe {
  return {
    user: view.user,
    state: view.state,
    ok: reason === null,
    reason,
    lastFailure: view.lastError?.reason ?? null,
  };
}
