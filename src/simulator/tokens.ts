/**
 * Vidispine's token lifetime rules as pure functions of time, so they can be checked
 * exhaustively and shared by every endpoint.
 */

export interface TokenState {
  readonly user: string;
  readonly seconds: number;
  readonly autoRefresh: boolean;
  readonly expiresAt: number;
  /** When the expiry was last set; creation counts as a push. */
  readonly lastPushAt: number;
}

export function newTokenState(
  user: string,
  seconds: number,
  autoRefresh: boolean,
  now: number,
): TokenState {
  return { user, seconds, autoRefresh, expiresAt: now + seconds * 1000, lastPushAt: now };
}

export function isExpired(state: TokenState, now: number): boolean {
  return now >= state.expiresAt;
}

/**
 * The state after an authenticated call at `now`: an autoRefresh token's expiry moves to
 * now + seconds, but only once at least `refreshIntervalMs` has passed since the last push
 * (the server saves database writes that way). Returns the same object when nothing moves.
 */
export function afterUse(state: TokenState, now: number, refreshIntervalMs: number): TokenState {
  if (!state.autoRefresh || now - state.lastPushAt < refreshIntervalMs) return state;
  return { ...state, expiresAt: now + state.seconds * 1000, lastPushAt: now };
}
