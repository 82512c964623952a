/**
 * Vidispine's autoRefresh rule, modelled so the expiry we believe is never later than the real
 * one. A call with the token at server time t pushes the expiry to t + seconds only when
 * t − lastPush ≥ interval (creating the token counts as a push). We see only when a request was
 * sent (s ≤ t) and when its answer arrived (r ≥ t), so:
 * - a push is certain when s ≥ latestPossibleLastPush + interval; the new expiry is at least
 *   s + seconds;
 * - a push is possible when r ≥ earliestPossibleLastPush + interval; it is not counted, but it
 *   widens what we know about the last push, because a possible push can suppress a later one.
 * When a certain push follows possible ones, the last push lies somewhere from the earliest
 * possible one on; the expiry is counted from there. So it is when requests sent before it are
 * still in flight: Vidispine may have taken one of them first, and its push held this one's
 * back (a slow request pushes at 12 s; a quick one sent at 20 s and answered first pushes
 * nothing: the token dies at 72 s, not 80 s).
 */
export interface SlidingState {
  /** Modelled expiry (epoch ms), a lower bound of the server's. */
  readonly expiresAt: number;
  /** The server's last push happened at or after this… */
  readonly lastPushFrom: number;
  /** …and at or before this (ignoring `possible` pushes). */
  readonly lastPushBy: number;
  /** Requests that may have pushed since: earliest send, latest answer. */
  readonly possible: { readonly from: number; readonly by: number } | null;
}

export interface SlidingRules {
  readonly lifetimeMs: number;
  readonly intervalMs: number;
}

/** The state of a token minted by a request sent at `sentAt` and answered at `receivedAt`. */
export function mintedSliding(
  sentAt: number,
  receivedAt: number,
  lifetimeMs: number,
): SlidingState {
  return {
    expiresAt: sentAt + lifetimeMs,
    lastPushFrom: sentAt,
    lastPushBy: receivedAt,
    possible: null,
  };
}

/**
 * A request with the token, sent at `sentAt`, answered (not 401) at `receivedAt`, while other
 * requests with it, the earliest sent at `inFlightFrom`, are still in flight.
 * Returns the same object when nothing changed, so the hot path allocates nothing.
 */
export function observeSliding(
  state: SlidingState,
  sentAt: number,
  receivedAt: number,
  { lifetimeMs, intervalMs }: SlidingRules,
  inFlightFrom: number = sentAt,
): SlidingState {
  if (sentAt >= state.lastPushBy + intervalMs) {
    // A push that kept this request from pushing came within the interval before Vidispine
    // took it, so never before `sentAt - intervalMs`: a request in flight for minutes costs
    // no more than that.
    const inFlight = Math.max(inFlightFrom, sentAt - intervalMs);
    const from = Math.min(state.possible?.from ?? sentAt, sentAt, inFlight);
    const by = Math.max(state.possible?.by ?? receivedAt, receivedAt);
    return {
      expiresAt: Math.max(state.expiresAt, from + lifetimeMs),
      lastPushFrom: from,
      lastPushBy: by,
      possible: null,
    };
  }
  return observeUncertain(state, sentAt, receivedAt, { intervalMs });
}

/**
 * A request with the token whose push is possible but not certain: its answer proves
 * Vidispine accepted the token but it may have come too early to push, or its answer (a 5xx,
 * a front end's 4xx) does not prove Vidispine took the token at all — though it may have,
 * and pushed. Never counted as a push, it widens the window of possible pushes, so a later
 * certain push is counted from the earliest of them: a push that did happen suppresses the
 * server's next one for an interval.
 */
export function observeUncertain(
  state: SlidingState,
  sentAt: number,
  receivedAt: number,
  { intervalMs }: Pick<SlidingRules, 'intervalMs'>,
): SlidingState {
  if (receivedAt < state.lastPushFrom + intervalMs) return state;
  const { possible } = state;
  if (possible && possible.from <= sentAt && possible.by >= receivedAt) return state;
  return {
    ...state,
    possible: {
      from: Math.min(possible?.from ?? sentAt, sentAt),
      by: Math.max(possible?.by ?? receivedAt, receivedAt),
    },
  };
}
