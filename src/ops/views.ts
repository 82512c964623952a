/**
 * What the ops side reads of the token store: its status and its events, as the store's
 * contract (`tokens/types.ts`) states them. Only that contract, never the store itself: the
 * ops parts take these narrow views, so a scripted stand-in serves their tests.
 */
import type { TokenEventName, TokenEvents, TokenStore, UserTokenStatus } from '../tokens/types';

export type TokenStatusSource = Pick<TokenStore, 'status'>;

export interface TokenEventSource {
  on<E extends TokenEventName>(event: E, listener: (payload: TokenEvents[E]) => void): unknown;
}

/**
 * Whether the user holds a token that is still unexpired at `now`. The store's own state is
 * trusted only together with the expiry, so a token that lapses between two events (no
 * timer fired yet) already counts as gone.
 */
export function holdsUnexpiredToken(view: UserTokenStatus, now: number): boolean {
  return (
    (view.state === 'valid' || view.state === 'failing') &&
    view.expiresAt !== null &&
    view.expiresAt > now
  );
}
