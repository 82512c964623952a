/**
 * A 401 on a token that still had more than this share of its lifetime left is "early": the
 * server gave a shorter lifetime than asked (`seconds` above `userTokenMaxInterval`, capped
 * silently) — or an administrator removed the token. One early rejection proves nothing;
 * from the second on, the shortest age seen becomes the lifetime.
 */
export const EARLY_SHARE = 0.2;
export const REJECTIONS_TO_LEARN = 2;

export interface LearningState {
  readonly earlyRejections: number;
  /** Shortest token age at an early rejection, ms. */
  readonly shortestAgeMs: number;
}

export const NOTHING_LEARNED: LearningState = {
  earlyRejections: 0,
  shortestAgeMs: Number.POSITIVE_INFINITY,
};

export interface Rejection {
  /** Time from the token's (modelled) start to the rejected request's send. */
  readonly ageMs: number;
  /** Lifetime the token was believed to have. */
  readonly lifetimeMs: number;
}

/** The new state, and the lifetime in whole seconds to use from now on when one is learned. */
export function learnFromRejection(
  state: LearningState,
  { ageMs, lifetimeMs }: Rejection,
): { state: LearningState; learnedSeconds?: number } {
  if (ageMs >= lifetimeMs * (1 - EARLY_SHARE)) return { state };
  const next: LearningState = {
    earlyRejections: state.earlyRejections + 1,
    shortestAgeMs: Math.min(state.shortestAgeMs, Math.max(0, ageMs)),
  };
  if (next.earlyRejections < REJECTIONS_TO_LEARN) return { state: next };
  return { state: next, learnedSeconds: Math.max(1, Math.floor(next.shortestAgeMs / 1000)) };
}
