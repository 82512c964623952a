import type { Rejection, TokenStore } from '../tokens/types';
import type { ForwardObserver } from './observer';
import { refusalReason } from './unauthorized';

/** A 401 Vidispine answered to one attempt, as the step "on 401" needs to judge it. */
export interface Unauthorized {
  readonly store: Pick<TokenStore, 'rejected'>;
  readonly observer: ForwardObserver;
  readonly user: string;
  /** The token the attempt carried. */
  readonly token: string;
  /** When the attempt went out: the store blames no token minted after it. */
  readonly sentAt: number;
  /** The 401's headers, for its `Reason:`. */
  readonly rawHeaders: readonly string[];
  /** Whether the request may still be sent once more (`canReplay`). */
  readonly replayable: boolean;
  /** Whether the attempt still speaks for the client, asked once the token was checked. */
  readonly current: () => boolean;
}

/**
 * Step "on 401", for plain requests and WebSocket upgrades alike: a 401 is not always our
 * token's fault (a refused RunAs, a path that answers 401 whatever the token), so the store
 * checks the token before dropping it. `replay`: it was dead, send the request once more
 * with a fresh one. `pass`: the 401 is the request's own and goes to the client — at once,
 * without waiting for the check, when the request cannot be sent again. `undefined`: the
 * client left, or the attempt failed, while the token was checked.
 *
 * A `pass` is counted here (`upstreamUnauthorized`, not retried); a `replay` only by
 * `replayed`, once it is known whether a new token could be had and the request went out.
 */
export async function verdictOn401(a: Unauthorized): Promise<Rejection | undefined> {
  const reason = refusalReason(a.rawHeaders, a.token);
  if (!a.replayable) {
    a.observer.upstreamUnauthorized?.(a.user, false);
    // Not awaited: a dead token is still dropped for the requests that follow.
    void a.store.rejected(a.user, a.token, a.sentAt, reason);
    return 'pass';
  }
  const verdict = await a.store.rejected(a.user, a.token, a.sentAt, reason);
  if (!a.current()) return undefined;
  if (verdict === 'pass') a.observer.upstreamUnauthorized?.(a.user, false);
  return verdict;
}

/**
 * Step "on 401 replay" done: `sent` when the request went out again with a new token, not
 * when none could be had (the client got 503) or the client left first. Counts the 401 only
 * now, so `retried="true"` (and the access log's `replayed`) always means a replay was sent.
 */
export function replayed(observer: ForwardObserver, user: string, sent: boolean): void {
  observer.upstreamUnauthorized?.(user, sent);
}
