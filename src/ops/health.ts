/**
 * What each probe means, in one place. Kubernetes restarts a pod on a failing liveness
 * probe, holds the app container back on a failing startup probe and takes the pod out of
 * the Service on a failing readiness probe; each method answers exactly that question.
 */
import { holdsUnexpiredToken, type TokenStatusSource, type UserTokenView } from './views';

export type NotReadyReason = 'no_token_yet' | 'token_expired';

export interface UserProblem {
  readonly user: string;
  readonly reason: NotReadyReason;
  /** Class of the last failed mint (e.g. "unauthorized"), when there was one. */
  readonly lastFailure: string | null;
}

export interface ProbeResult {
  readonly ok: boolean;
  readonly shuttingDown: boolean;
  /** Users that keep the probe failing, with the reason for each. */
  readonly users: readonly UserProblem[];
}

export class Health {
  private shutdownBegun = false;

  constructor(
    private readonly tokens: TokenStatusSource,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The process is serving. Answered by the event loop itself, so a wedged loop fails it;
   * token trouble never does — restarting would not mint a token any sooner.
   */
  live(): boolean {
    return true;
  }

  /** Every configured user has held a token at least once since the process started. */
  started(): ProbeResult {
    const users = this.tokens
      .status()
      .filter((view) => !view.everHeld)
      .map((view) => problem(view, 'no_token_yet'));
    return { ok: users.length === 0, shuttingDown: this.shutdownBegun, users };
  }

  /** Every configured user holds an unexpired token now, and shutdown has not begun. */
  ready(): ProbeResult {
    const at = this.now();
    const users = this.tokens
      .status()
      .filter((view) => !holdsUnexpiredToken(view, at))
      .map((view) => problem(view, view.everHeld ? 'token_expired' : 'no_token_yet'));
    return {
      ok: users.length === 0 && !this.shutdownBegun,
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

function problem(view: UserTokenView, reason: NotReadyReason): UserProblem {
  return { user: view.user, reason, lastFailure: view.lastError?.reason ?? null };
}
