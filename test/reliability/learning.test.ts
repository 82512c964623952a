/**
 * Lifetime learning must tell a silently capped lifetime (every token dies at the same age)
 * from Vidispine restarts (tokens die at any age): a token accepted at some age refutes
 * earlier early rejections at clearly shorter ages.
 */
import {
  AGREEMENT,
  learnFromRejection,
  NOTHING_LEARNED,
  refuteShorter,
} from '../../src/tokens/lifetime-learning';

const LIFETIME = 60_000;

describe('refuting early rejections', () => {
  it('forgets rejections at ages a later accepted request outlived', () => {
    let state = learnFromRejection(NOTHING_LEARNED, {
      ageMs: 20_000,
      lifetimeMs: LIFETIME,
      aliveAgeMs: 20_000,
    }).state;
    state = refuteShorter(state, 30_000);
    expect(state.early).toEqual([]);
    // A restart at a similar age now teaches nothing.
    expect(
      learnFromRejection(state, { ageMs: 22_000, lifetimeMs: LIFETIME, aliveAgeMs: 22_000 })
        .learnedSeconds,
    ).toBe(undefined);
  });

  it('keeps rejections an accepted request did not clearly outlive', () => {
    const state = learnFromRejection(NOTHING_LEARNED, {
      ageMs: 20_000,
      lifetimeMs: LIFETIME,
      aliveAgeMs: 20_000,
    }).state;
    expect(refuteShorter(state, 20_000 * (1 + AGREEMENT))).toBe(state);
    expect(refuteShorter(state, 10_000)).toBe(state);
  });

  it('still learns a cap: accepted requests never outlive it', () => {
    let state = NOTHING_LEARNED;
    let learned: number | undefined;
    for (const age of [29_000, 5_000, 29_500]) {
      const result = learnFromRejection(state, {
        ageMs: age,
        lifetimeMs: LIFETIME,
        aliveAgeMs: age - 100,
      });
      state = refuteShorter(result.state, age - 100);
      learned ??= result.learnedSeconds;
    }
    expect(learned).toBe(29);
  });
});
