/**
 * A 401 on a token that still had more than this share of its lifetime left is "early": the
 * server gave a shorter lifetime than asked (`seconds` above `userTokenMaxInterval`, capped
 * silently) — or someone removed the token (server restart, administrator). A cap makes
 * tokens die at about the same age every time; removals strike at random ages. So a lifetime
 * is learned only from two early rejections whose ages agree within `AGREEMENT`, and the
 * shorter of the two (whole seconds) becomes the lifetime. Only 401s that GET /API/whoami
 * confirmed (the token itself was dead) count.
 */
const EARLY_SHARE = 0.2;
export const AGREEMENT = 0.25;
/**
 * Rejections younger than this are removals, never a cap: no server caps tokens that short
 * (`userTokenMaxInterval` defaults to 60 s), and learning one would mint every few seconds.
 */
const MIN_CAP_MS = 10_000;
/** Early rejections remembered while waiting for one that agrees. */
const REMEMBERED = 5;

export interface LearningState {
  /** Ages (ms) at earlier early rejections, newest last. */
  readonly earlyAges: readonly number[];
}

export const NOTHING_LEARNED: LearningState = { earlyAges: [] };

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
  if (ageMs >= lifetimeMs * (1 - EARLY_SHARE) || ageMs < MIN_CAP_MS) return { state };
  const age = ageMs;
  const agreeing = state.earlyAges.filter((b) => Math.abs(age - b) <= AGREEMENT * Math.max(age, b));
  const next: LearningState = { earlyAges: [...state.earlyAges, age].slice(-REMEMBERED) };
  if (agreeing.length === 0) return { state: next };
  const shortest = Math.min(age, ...agreeing);
  return { state: next, learnedSeconds: Math.floor(shortest / 1000) };
}

/**
 * Vidispine accepted a token at `ageMs`: it keeps tokens at least that long, so remembered
 * early rejections at clearly shorter ages were removals, not a cap, and are forgotten.
 * Without this, a few restarts that happen to strike at similar ages would shorten the
 * lifetime for good.
 */
export function refuteShorter(state: LearningState, ageMs: number): LearningState {
  const kept = state.earlyAges.filter((b) => ageMs <= b * (1 + AGREEMENT));
  return kept.length === state.earlyAges.length ? state : { earlyAges: kept };
}

/**
 * The age at which a token must still be accepted to refute every remembered early
 * rejection: just past the agreement band of the oldest one (by 10 %, at least 1 s), and
 * short of the configured lifetime. Undefined when nothing is remembered or no such age
 * exists. A learned lifetime is tested this way (GET /API/whoami with a retired token at
 * that age) soon after it was learned, so one that came from removals grows back quickly.
 */
export function retestAgeMs(state: LearningState, configuredMs: number): number | undefined {
  if (state.earlyAges.length === 0) return undefined;
  const beyond = Math.max(...state.earlyAges) * (1 + AGREEMENT);
  if (beyond >= configuredMs) return undefined;
  return Math.min(beyond + Math.max(1_000, beyond * 0.1), (beyond + configuredMs) / 2);
}
