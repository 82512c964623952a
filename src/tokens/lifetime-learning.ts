/**
 * A 401 on a token that still had more than this share of its lifetime left is "early": the
 * server gave a shorter lifetime than asked (`seconds` above `userTokenMaxInterval`, capped
 * silently) — or someone removed the token (server restart, administrator). A cap makes
 * tokens die at about the same age every time; removals strike at random ages. So a lifetime
 * is learned only from two early rejections whose ages agree within `AGREEMENT`. A rejection
 * only shows the token died at some age before it, up to the gap since the last request it
 * took (65 s for a 60 s cap and a request every 10 s); so the lifetime learned is the
 * greatest age at which one of those tokens was surely still taken (whole seconds, never
 * more than the shorter rejection): renewal planned from it comes before the server's
 * expiry. Under `MIN_CAP_MS` nothing is learned: no request showed a cap that a server could
 * have (tokens used seldom, or never before they died). Only 401s that GET /API/whoami
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

/** One early rejection remembered. */
export interface EarlyRejection {
  /** The token's age (ms) at the rejected request. */
  readonly ageMs: number;
  /** The greatest age (ms) at which that token was surely still taken. */
  readonly aliveMs: number;
}

export interface LearningState {
  /** Earlier early rejections, newest last. */
  readonly early: readonly EarlyRejection[];
}

export const NOTHING_LEARNED: LearningState = { early: [] };

export interface Rejection {
  /** Time from the token's (modelled) start to the rejected request's send. */
  readonly ageMs: number;
  /** Lifetime the token was believed to have. */
  readonly lifetimeMs: number;
  /**
   * A lower bound of the token's age when Vidispine last took it: the send of the latest
   * request it accepted less the arrival of the mint's answer (or of the latest push), 0 when
   * it took none.
   */
  readonly aliveAgeMs: number;
}

/** The new state, and the lifetime in whole seconds to use from now on when one is learned. */
export function learnFromRejection(
  state: LearningState,
  { ageMs, lifetimeMs, aliveAgeMs }: Rejection,
): { state: LearningState; learnedSeconds?: number } {
  if (ageMs >= lifetimeMs * (1 - EARLY_SHARE) || ageMs < MIN_CAP_MS) return { state };
  const age = ageMs;
  const alive = Math.max(0, Math.min(aliveAgeMs, age));
  const agreeing = state.early.filter(
    (b) => Math.abs(age - b.ageMs) <= AGREEMENT * Math.max(age, b.ageMs),
  );
  const next: LearningState = {
    early: [...state.early, { ageMs: age, aliveMs: alive }].slice(-REMEMBERED),
  };
  if (agreeing.length === 0) return { state: next };
  const shortest = Math.min(age, ...agreeing.map((b) => b.ageMs));
  const surelyAlive = Math.max(alive, ...agreeing.map((b) => b.aliveMs));
  const lowerBound = Math.min(surelyAlive, shortest);
  if (lowerBound < MIN_CAP_MS) return { state: next };
  return { state: next, learnedSeconds: Math.floor(lowerBound / 1000) };
}

/**
 * Vidispine accepted a token at `ageMs`: it keeps tokens at least that long, so remembered
 * early rejections at clearly shorter ages were removals, not a cap, and are forgotten.
 * Without this, a few restarts that happen to strike at similar ages would shorten the
 * lifetime for good.
 */
export function refuteShorter(state: LearningState, ageMs: number): LearningState {
  const kept = state.early.filter((b) => ageMs <= b.ageMs * (1 + AGREEMENT));
  return kept.length === state.early.length ? state : { early: kept };
}

/**
 * A retired token Vidispine still took at `ageMs`, counted from when the token surely existed
 * (so it was at least that old on the server): every remembered early rejection at a lower
 * age was not a cap that still holds, since each is counted from the mint's send and its
 * token was at most that old when refused. They were removals, or the cap has been raised
 * since; either way they are forgotten.
 */
export function refuteYounger(state: LearningState, ageMs: number): LearningState {
  const kept = state.early.filter((b) => b.ageMs >= ageMs);
  return kept.length === state.early.length ? state : { early: kept };
}

/**
 * The age at which a retired token is checked (GET /API/whoami) to test a learned lifetime:
 * just past the latest age of a remembered early rejection (by 10 %, at least 1 s, for the
 * time a request takes to reach Vidispine), and short of the configured lifetime. Still
 * taken there, it refutes them all (`refuteYounger`): the configured lifetime comes back, one
 * learned from removals for good, and a cap raised part of the way is learned anew from the
 * tokens that die at it. Undefined when nothing is remembered or no such age exists.
 */
export function retestAgeMs(state: LearningState, configuredMs: number): number | undefined {
  if (state.early.length === 0) return undefined;
  const latest = Math.max(...state.early.map((b) => b.ageMs));
  if (latest >= configuredMs) return undefined;
  return Math.min(latest + Math.max(1_000, latest * 0.1), (latest + configuredMs) / 2);
}
