import {
  afterFailure,
  backoffDelay,
  type FailureRun,
  LOST_AT_ONCE,
  lostBackoffDelay,
  NO_FAILURE,
  rejectionBackoffDelay,
} from '../../src/tokens/backoff';
import {
  learnFromRejection,
  NOTHING_LEARNED,
  refuteShorter,
  refuteYounger,
  retestAgeMs,
} from '../../src/tokens/lifetime-learning';
import { renewAt, safetyMarginMs } from '../../src/tokens/renew-policy';
import {
  mintedSliding,
  observeSliding,
  observeUncertain,
  type SlidingState,
} from '../../src/tokens/sliding-expiry';
import { MAY_PASS, OPERATOR_MUST_FIX } from '../support/mint-failures';

describe('renewAt', () => {
  // A 60 s token with a 5 s margin: usable for 55 s.
  const base = { from: 1_000_000, lifetimeMs: 60_000, marginMs: 5_000, mintMs: 20 };

  it('renews at 70 % of the usable window (lifetime − margin) with a middle draw', () => {
    expect(renewAt({ ...base, random: 0.5 })).toBe(1_038_500);
  });

  it('jitters within ±10 % of 70 % of the usable window (63–77 %)', () => {
    expect(renewAt({ ...base, random: 0 })).toBeCloseTo(1_034_650);
    expect(renewAt({ ...base, random: 0.999999 })).toBeCloseTo(1_042_350, 0);
    const random = seeded(5);
    const ats = Array.from({ length: 1000 }, () => renewAt({ ...base, random: random() }));
    expect(Math.min(...ats)).toBeGreaterThanOrEqual(1_034_650);
    expect(Math.max(...ats)).toBeLessThanOrEqual(1_042_350);
  });

  it('renews a 10 s token with a 5 s margin well before it stops being usable', () => {
    // The old cap (lifetime − margin) put this renewal exactly at the last usable instant.
    for (const random of [0, 0.5, 0.999999]) {
      const at = renewAt({ from: 0, lifetimeMs: 10_000, marginMs: 5_000, mintMs: 20, random });
      expect(at).toBeGreaterThanOrEqual(3_150);
      expect(at).toBeLessThanOrEqual(3_850);
    }
  });

  it('leaves twice the last mint’s duration (1 s at least) before the token stops being usable', () => {
    // Usable for 5 s; a mint took 1.5 s: renew by 2 s so a mint as slow arrives in time.
    expect(
      renewAt({ from: 0, lifetimeMs: 10_000, marginMs: 5_000, mintMs: 1_200, random: 0.5 }),
    ).toBe(2_600);
    // Usable for 2 s: 70 % would leave 0.6 s, less than the 1 s lead.
    expect(renewAt({ from: 0, lifetimeMs: 3_000, marginMs: 1_000, mintMs: 5, random: 0.99 })).toBe(
      1_000,
    );
  });

  it('never renews before half the usable window, however slow the mint', () => {
    expect(
      renewAt({ from: 0, lifetimeMs: 10_000, marginMs: 5_000, mintMs: 4_000, random: 0.5 }),
    ).toBe(2_500);
  });

  it('keeps every renewal inside the usable window, exhaustively', () => {
    const lifetimes = [1_000, 2_000, 3_000, 5_000, 10_000, 12_000, 30_000, 60_000, 3_600_000];
    const marginShares = [0, 0.01, 0.1, 0.2, 0.23, 0.25, 0.3, 0.4, 0.45, 0.5];
    const mints = [0, 5, 100, 400, 1_000, 2_500, 10_000];
    const draws = [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999999];
    for (const lifetimeMs of lifetimes)
      for (const share of marginShares)
        for (const mintMs of mints)
          for (const random of draws) {
            const from = 1_000_000;
            const marginMs = lifetimeMs * share;
            const window = lifetimeMs - marginMs;
            const usableUntil = from + window;
            const at = renewAt({ from, lifetimeMs, marginMs, mintMs, random });
            const lead = Math.max(1_000, 2 * mintMs);
            const where = { lifetimeMs, marginMs, mintMs, random, at };
            // Strictly before the last usable instant: a renewal never meets an expiry.
            expect({ ...where, ok: at < usableUntil }).toEqual({ ...where, ok: true });
            expect({ ...where, ok: at >= from + window / 2 }).toEqual({ ...where, ok: true });
            // The lead is kept whenever half the window allows it.
            if (lead <= window / 2)
              expect({ ...where, ok: at <= usableUntil - lead }).toEqual({ ...where, ok: true });
            // Jitter is 63–77 % of the window wherever the lead leaves room for it.
            if (lead <= window * 0.23) {
              expect({ ...where, ok: at >= from + window * 0.63 - 1e-6 }).toEqual({
                ...where,
                ok: true,
              });
              expect({ ...where, ok: at <= from + window * 0.77 + 1e-6 }).toEqual({
                ...where,
                ok: true,
              });
            }
          }
  });

  it('renews at once when no time is usable at all', () => {
    expect(renewAt({ from: 500, lifetimeMs: 1_000, marginMs: 5_000, mintMs: 0, random: 0.5 })).toBe(
      500,
    );
    // The boundary: a margin as long as the lifetime leaves nothing either.
    for (const random of [0, 0.5, 0.999999]) {
      expect(renewAt({ from: 500, lifetimeMs: 5_000, marginMs: 5_000, mintMs: 0, random })).toBe(
        500,
      );
    }
  });
});

describe('safetyMarginMs', () => {
  it('keeps the configured margin for the configured lifetime, at most half of it', () => {
    expect(safetyMarginMs({ configuredSeconds: 60, marginSeconds: 5, lifetimeSeconds: 60 })).toBe(
      5_000,
    );
    expect(
      safetyMarginMs({ configuredSeconds: 100, marginSeconds: 30, lifetimeSeconds: 100 }),
    ).toBe(30_000);
    expect(safetyMarginMs({ configuredSeconds: 10, marginSeconds: 9, lifetimeSeconds: 10 })).toBe(
      5_000,
    );
  });

  it('derives the margin of a shorter, learned lifetime from that lifetime', () => {
    // The default 5 s margin of a 60 s lifetime is 42 % of a learned 12 s one: 1.2 s instead.
    expect(safetyMarginMs({ configuredSeconds: 60, marginSeconds: 5, lifetimeSeconds: 12 })).toBe(
      1_200,
    );
    // An hour asked, a minute granted: 5 s is still the default for 60 s.
    expect(safetyMarginMs({ configuredSeconds: 3600, marginSeconds: 5, lifetimeSeconds: 60 })).toBe(
      5_000,
    );
    // A smaller margin than that default is kept.
    expect(safetyMarginMs({ configuredSeconds: 60, marginSeconds: 0.5, lifetimeSeconds: 12 })).toBe(
      500,
    );
  });

  it('never leaves less than half of any lifetime usable', () => {
    for (const configuredSeconds of [2, 10, 60, 3600])
      for (const marginSeconds of [0, 0.5, 1, 5, 30].filter((m) => m < configuredSeconds))
        for (const lifetimeSeconds of [1, 2, 10, 12, 60, 3600].filter(
          (l) => l <= configuredSeconds,
        )) {
          const margin = safetyMarginMs({ configuredSeconds, marginSeconds, lifetimeSeconds });
          expect(margin).toBeLessThanOrEqual(lifetimeSeconds * 500);
          expect(margin).toBeLessThanOrEqual(marginSeconds * 1000);
        }
  });
});

describe('backoffDelay', () => {
  const delays = (reason: Parameters<typeof backoffDelay>[0]['reason'], timeLeftMs: number) =>
    Array.from({ length: 12 }, (_, i) =>
      backoffDelay({ step: i + 1, reason, timeLeftMs, random: 0 }),
    );

  it('doubles from 1 s up to 30 s when no valid token is held', () => {
    expect(delays('server_error', 0)).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000, 30000, 30000, 30000,
    ]);
  });

  it('caps at 5 min while a long-lived token is still valid', () => {
    expect(delays('network', 3_600_000).slice(7)).toEqual([128000, 256000, 300000, 300000, 300000]);
  });

  it('caps at half the time the current token has left', () => {
    expect(delays('timeout', 20_000)).toEqual([
      1000, 2000, 4000, 8000, 10000, 10000, 10000, 10000, 10000, 10000, 10000, 10000,
    ]);
  });

  it('never goes under 500 ms, however little time is left', () => {
    expect(backoffDelay({ step: 1, reason: 'network', timeLeftMs: 10, random: 0 })).toBe(500);
  });

  it('starts configuration problems three doublings later', () => {
    for (const reason of OPERATOR_MUST_FIX) {
      expect(delays(reason, 0).slice(0, 3)).toEqual([8000, 16000, 30000]);
    }
    for (const reason of MAY_PASS) {
      expect(delays(reason, 0)[0]).toBe(1000);
    }
  });

  it("honours Vidispine's Retry-After, but never beyond the cap", () => {
    const base = { step: 1, reason: 'server_error' as const, random: 0 };
    expect(backoffDelay({ ...base, timeLeftMs: 0, retryAfterMs: 3_000 })).toBe(3_000);
    expect(backoffDelay({ ...base, timeLeftMs: 0, retryAfterMs: 3_600_000 })).toBe(30_000);
    expect(backoffDelay({ ...base, timeLeftMs: 40_000, retryAfterMs: 3_600_000 })).toBe(20_000);
    expect(backoffDelay({ ...base, timeLeftMs: 0, retryAfterMs: 10 })).toBe(1_000);
  });

  it('takes at most a quarter off as jitter', () => {
    expect(backoffDelay({ step: 3, reason: 'network', timeLeftMs: 0, random: 0.999999 })).toBe(
      3000,
    );
    const random = seeded(3);
    const delays = Array.from({ length: 1000 }, () =>
      backoffDelay({ step: 4, reason: 'network', timeLeftMs: 0, random: random() }),
    );
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(6000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(8000);
  });

  it('survives absurd failure counts', () => {
    expect(backoffDelay({ step: 10_000, reason: 'network', timeLeftMs: 0, random: 0 })).toBe(30000);
  });
});

describe('afterFailure', () => {
  const runs = (holding: boolean[]) =>
    holding.reduce<FailureRun[]>(
      (out, h) => [...out, afterFailure(out.at(-1) ?? NO_FAILURE, h)],
      [],
    );
  const steps = (holding: boolean[]) => runs(holding).map((run) => run.step);

  it('counts failures one step each while the token is held, and while none is', () => {
    expect(steps([true, true, true])).toEqual([1, 2, 3]);
    expect(steps([false, false, false])).toEqual([1, 2, 3]);
  });

  it('starts the step again at 1 with the first failure after the token lapsed', () => {
    expect(steps([true, true, true, true, false, false, false])).toEqual([1, 2, 3, 4, 1, 2, 3]);
    expect(afterFailure({ failures: 9, step: 9, holding: true }, false)).toEqual({
      failures: 10,
      step: 1,
      holding: false,
    });
    expect(afterFailure({ failures: 9, step: 9, holding: false }, false)).toEqual({
      failures: 10,
      step: 10,
      holding: false,
    });
  });

  it('counts every failure of the run, the lapse of the token included', () => {
    const holding = [true, true, true, true, false, false, false];
    expect(runs(holding).map((run) => run.failures)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(runs(holding).map((run) => run.holding)).toEqual(holding);
  });
});

describe('sliding expiry (autoRefresh)', () => {
  const rules = { lifetimeMs: 60_000, intervalMs: 10_000 };
  const s = (x: number) => x * 1000;
  // Requests answered 5 ms after they are sent, unless given.
  const use = (state: SlidingState, sentSec: number, latencyMs = 5) =>
    observeSliding(state, s(sentSec), s(sentSec) + latencyMs, rules);

  it('follows the documented example: used at 8 s no push, at 16 s pushed to 76 s', () => {
    let state = mintedSliding(0, 5, 60_000);
    expect(state.expiresAt).toBe(s(60));
    state = use(state, 8);
    expect(state.expiresAt).toBe(s(60));
    state = use(state, 16);
    expect(state.expiresAt).toBe(s(76));
  });

  it('counts a push from the earliest request still in flight, which may have pushed first', () => {
    const state = mintedSliding(0, 5, 60_000);
    // Sent at 12 s and still running when one sent at 20 s comes back: the token may die at 72 s.
    expect(observeSliding(state, s(20), s(20) + 5, rules, s(12))).toEqual({
      expiresAt: s(72),
      lastPushFrom: s(12),
      lastPushBy: s(20) + 5,
      possible: null,
    });
    // One sent after it changes nothing.
    expect(observeSliding(state, s(20), s(20) + 5, rules, s(21)).expiresAt).toBe(s(80));
    // A push that held this one back came at most an interval before: one in flight since
    // 12 s counts from 20 s for a request sent at 30 s.
    expect(observeSliding(state, s(30), s(30) + 5, rules, s(12)).expiresAt).toBe(s(80));
  });

  it('counts a push only when the send is an interval after the last push could have happened', () => {
    const state = mintedSliding(0, 50, 60_000);
    expect(use(state, 10.02).expiresAt).toBe(s(60));
    expect(use(state, 10.05).expiresAt).toBe(s(70.05));
  });

  it('returns the same object when nothing changes', () => {
    const state = mintedSliding(0, 5, 60_000);
    expect(use(state, 3)).toBe(state);
    const possible = use(state, 9.999, 20);
    expect(possible).not.toBe(state);
    expect(observeSliding(possible, s(9.9995), s(10.01), rules)).toBe(possible);
  });

  it('records a possible push from an answer exactly one interval after the last certain push', () => {
    const state = mintedSliding(0, 5_000, 60_000);
    expect(observeSliding(state, s(9), s(10) - 1, rules)).toBe(state);
    expect(observeSliding(state, s(9), s(10), rules).possible).toEqual({ from: s(9), by: s(10) });
  });

  it('widens the window of possible pushes with each overlapping request, both ways', () => {
    // Minted at [0, 5]: a push is possible for answers from 10 s on, certain for sends from 15 s.
    let state = mintedSliding(0, s(5), 60_000);
    state = observeSliding(state, s(10), s(11), rules);
    expect(state.possible).toEqual({ from: s(10), by: s(11) });
    // Sent earlier, answered later (concurrent requests): the window grows at both ends.
    state = observeSliding(state, s(9.5), s(11.5), rules);
    expect(state.possible).toEqual({ from: s(9.5), by: s(11.5) });
    // Sent earlier only, or answered later only.
    expect(observeSliding(state, s(9), s(11), rules).possible).toEqual({ from: s(9), by: s(11.5) });
    expect(observeSliding(state, s(10), s(12), rules).possible).toEqual({
      from: s(9.5),
      by: s(12),
    });
    // Inside the window, boundaries included: nothing new is known.
    expect(observeSliding(state, s(9.5), s(11.5), rules)).toBe(state);
    // A certain push then counts from the earliest possible one and waits for the latest.
    state = observeSliding(state, s(16), s(16.1), rules);
    expect(state).toEqual({
      expiresAt: s(69.5),
      lastPushFrom: s(9.5),
      lastPushBy: s(16.1),
      possible: null,
    });
  });

  it('stays conservative when a request that may have pushed is followed by one that may not', () => {
    // Minted at [0, 0.1]. A: sent 9.95, answered 10.2 — the server may have pushed at ~10.15.
    let state = mintedSliding(0, 100, 60_000);
    state = observeSliding(state, s(9.95), s(10.2), rules);
    expect(state.expiresAt).toBe(s(60));
    // B: sent 12 ≥ 0.1 + 10. If A pushed at 10.15, B did not (12 − 10.15 < 10): the server's
    // expiry is 70.15 — the model must not claim 72.
    state = use(state, 12);
    expect(state.expiresAt).toBeLessThanOrEqual(s(70.15));
    expect(state.expiresAt).toBe(s(69.95));
  });

  it('takes an answer that proves nothing for a push that may have happened, never a certain one', () => {
    const state = mintedSliding(0, s(0.1), 60_000);
    // Too early to push, whether Vidispine took the token or not: nothing is known.
    expect(observeUncertain(state, s(9), s(10) - 1, rules)).toBe(state);
    // Late enough for a push, sent or answered: possible only, the expiry stays.
    const later = observeUncertain(state, s(30), s(30.5), rules);
    expect(later).toEqual({ ...state, possible: { from: s(30), by: s(30.5) } });
    expect(observeUncertain(state, s(9), s(10), rules).possible).toEqual({
      from: s(9),
      by: s(10),
    });
    // It widens the window as a proven answer does, and returns the same object inside it.
    expect(observeUncertain(later, s(29), s(30.2), rules).possible).toEqual({
      from: s(29),
      by: s(30.5),
    });
    expect(observeUncertain(later, s(30.1), s(31), rules).possible).toEqual({
      from: s(30),
      by: s(31),
    });
    expect(observeUncertain(later, s(30), s(30.5), rules)).toBe(later);
    // A certain push after it counts from it: the server may have pushed at 30 s.
    expect(use(later, 35).expiresAt).toBe(s(90));
  });

  it('keeps a busy token alive: the model never falls near expiry under steady traffic', () => {
    const random = seeded(7);
    let state = mintedSliding(0, 5, 60_000);
    let lowestLeft = Infinity;
    for (let t = 0; t < 3_600_000;) {
      t += 400 + random() * 1_200; // one request every ~1 s, answered within 50 ms
      state = observeSliding(state, t, t + random() * 50, rules);
      lowestLeft = Math.min(lowestLeft, state.expiresAt - t);
    }
    // An hour of traffic: never closer to expiry than the 70 % renewal point would allow.
    expect(lowestLeft).toBeGreaterThan(60_000 * 0.3);
  });

  it('pays at most one request gap per push when requests align with the interval', () => {
    let state = mintedSliding(0, 5, 60_000);
    for (let t = 1; t <= 60; t++) state = use(state, t);
    expect(state.lastPushFrom).toBe(s(50));
    expect(state.expiresAt).toBe(s(110));
  });

  it('never claims more than the server, whatever the server does within the latency', () => {
    // Simulate the real rule with the server acting at a random moment inside [sent, received].
    const random = seeded(11);
    let violations = 0;
    for (let run = 0; run < 500; run++) {
      let serverLastPush = random() * 50;
      let serverExpiry = serverLastPush + 60_000;
      let state = mintedSliding(0, 50, 60_000);
      let t = 0;
      for (let i = 0; i < 300; i++) {
        t += random() * 3_000;
        const latency = random() * 400;
        const at = t + random() * latency;
        if (at >= serverExpiry) break;
        if (at - serverLastPush >= 10_000) {
          serverLastPush = at;
          serverExpiry = at + 60_000;
        }
        state = observeSliding(state, t, t + latency, rules);
        if (state.expiresAt > serverExpiry) violations += 1;
      }
    }
    expect(violations).toBe(0);
  });
});

describe('rejectionBackoffDelay', () => {
  it('replaces the first dead token at once, then 1 s doubling up to 30 s after the last mint', () => {
    expect(Array.from({ length: 9 }, (_, i) => rejectionBackoffDelay(i + 1, 0))).toEqual([
      0, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000,
    ]);
    expect(rejectionBackoffDelay(1_000_000, 0.999999)).toBeGreaterThanOrEqual(22_500);
  });
});

describe('lostBackoffDelay', () => {
  it('replaces the first ten tokens found dead at once, then as the rejection backoff does', () => {
    expect(Array.from({ length: 17 }, (_, i) => lostBackoffDelay(i + 1, 0))).toEqual([
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ]);
    expect(LOST_AT_ONCE).toBe(10);
    expect(lostBackoffDelay(LOST_AT_ONCE + 3, 0.999999)).toBe(rejectionBackoffDelay(4, 0.999999));
  });
});

describe('lifetime learning', () => {
  /** Early rejections of tokens that were taken up to `aliveAgeMs` (up to the rejection by default). */
  const learn = (ages: number[], lifetimeMs = 3_600_000, alive: number[] = ages) => {
    let state = NOTHING_LEARNED;
    const learned: (number | undefined)[] = [];
    for (const [i, ageMs] of ages.entries()) {
      const result = learnFromRejection(state, { ageMs, lifetimeMs, aliveAgeMs: alive[i] });
      state = result.state;
      learned.push(result.learnedSeconds);
    }
    return learned;
  };

  it('learns nothing from a 401 near the end of the lifetime', () => {
    expect(
      learnFromRejection(NOTHING_LEARNED, { ageMs: 50_000, lifetimeMs: 60_000, aliveAgeMs: 0 }),
    ).toEqual({ state: NOTHING_LEARNED });
  });

  it('learns the greatest age at which an agreeing token was surely still taken, not the rejection', () => {
    // A 60 s cap, requests every 10 s, 5 s off the mint: 401s at 65 s, last taken at 55 s.
    expect(learn([65_000, 65_000], 600_000, [55_000, 55_000])).toEqual([undefined, 55]);
    expect(learn([65_000, 61_000], 600_000, [58_000, 51_000])).toEqual([undefined, 58]);
    // Never above the shorter rejection; nothing under 10 s, the shortest cap there is.
    expect(learn([40_000, 30_000], 600_000, [39_000, 0])).toEqual([undefined, 30]);
    expect(learn([30_000, 30_000], 600_000, [0, 9_999])).toEqual([undefined, undefined]);
    expect(learn([30_000, 30_000, 31_000], 600_000, [0, 9_999, 12_000])).toEqual([
      undefined,
      undefined,
      12,
    ]);
  });

  it('waits for a second early rejection at a similar age, then takes the shorter, in whole seconds', () => {
    expect(learn([31_500, 30_200])).toEqual([undefined, 30]);
    expect(learn([61_000, 70_000])).toEqual([undefined, 61]);
  });

  it('ignores early rejections at unrelated ages (tokens removed by a restart)', () => {
    expect(learn([5_000, 900_000, 40_000])).toEqual([undefined, undefined, undefined]);
    expect(learn([5_000, 900_000, 40_000, 42_000])).toEqual([undefined, undefined, undefined, 40]);
  });

  it('takes rejections younger than 10 s for removals: no server caps tokens that short', () => {
    expect(learn([800, 700, 1_500, 1_400], 60_000)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(learn([9_999, 9_999], 60_000)).toEqual([undefined, undefined]);
    expect(learn([10_000, 10_500], 60_000)).toEqual([undefined, 10]);
    // Nor are they remembered, where they would push out rejections that may agree later.
    expect(
      learnFromRejection(NOTHING_LEARNED, { ageMs: 9_999, lifetimeMs: 60_000, aliveAgeMs: 9_000 }),
    ).toEqual({ state: NOTHING_LEARNED });
  });

  it('counts a rejection at 80 % of the lifetime or later as due, not early', () => {
    expect(learn([48_000, 48_000], 60_000)).toEqual([undefined, undefined]);
    expect(learn([47_999, 47_999], 60_000)).toEqual([undefined, 47]);
  });

  it('takes ages a quarter of the longer one apart as agreeing, not more', () => {
    expect(learn([40_000, 30_000])).toEqual([undefined, 30]);
    expect(learn([30_000, 40_000])).toEqual([undefined, 30]);
    expect(learn([40_000, 29_999])).toEqual([undefined, undefined]);
  });

  it('remembers the last five early rejections while waiting for one that agrees', () => {
    // Five ages no two of which agree, then one that agrees only with the oldest.
    const apart = [11_000, 16_000, 23_000, 33_000, 47_000];
    expect(learn([...apart, 16_500]).at(-1)).toBe(16);
    expect(learn([...apart, 67_000, 11_500]).at(-1)).toBeUndefined();
    // Each token's last accepted age is forgotten with its rejection, so the two stay paired:
    // 48 s, after six others, agrees with 47 s, whose token was last taken at 46 s.
    const alive = [10_000, 15_000, 22_000, 32_000, 46_000];
    expect(learn([...apart, 67_000, 48_000], 3_600_000, [...alive, 0, 40_000]).at(-1)).toBe(46);
  });

  /** Early rejections at 20 s and 40 s. */
  const twoEarly = {
    early: [
      { ageMs: 20_000, aliveMs: 15_000 },
      { ageMs: 40_000, aliveMs: 35_000 },
    ],
  };
  const only40 = { early: [{ ageMs: 40_000, aliveMs: 35_000 }] };

  it('forgets early rejections that an accepted older token refutes, keeping the rest', () => {
    const state = twoEarly;
    // Accepted within the agreement band (up to a quarter more) refutes nothing.
    expect(refuteShorter(state, 25_000)).toBe(state);
    expect(refuteShorter(state, 25_001)).toEqual(only40);
    expect(refuteShorter(state, 50_001)).toEqual(NOTHING_LEARNED);
    expect(refuteShorter(state, 10_000)).toBe(state);
  });

  it('forgets, after a re-test, every early rejection at a lower age than the retired token was taken at', () => {
    expect(refuteYounger(twoEarly, 20_000)).toBe(twoEarly);
    expect(refuteYounger(twoEarly, 20_001)).toEqual(only40);
    expect(refuteYounger(twoEarly, 40_000)).toEqual(only40);
    expect(refuteYounger(twoEarly, 40_001)).toEqual(NOTHING_LEARNED);
  });

  it('re-tests a learned lifetime just past the latest early rejection, short of the configured one', () => {
    const state = {
      early: [
        { ageMs: 21_000, aliveMs: 0 },
        { ageMs: 20_000, aliveMs: 0 },
      ],
    };
    // 10 % past the latest…
    expect(retestAgeMs(state, 60_000)).toBe(23_100);
    // …at least 1 s…
    expect(retestAgeMs({ early: [{ ageMs: 9_000, aliveMs: 0 }] }, 60_000)).toBe(10_000);
    // …and no further than halfway to the configured lifetime.
    expect(retestAgeMs({ early: [{ ageMs: 40_000, aliveMs: 0 }] }, 44_000)).toBe(42_000);
    expect(retestAgeMs({ early: [{ ageMs: 49_999, aliveMs: 0 }] }, 50_000)).toBe(49_999.5);
    expect(retestAgeMs({ early: [{ ageMs: 50_000, aliveMs: 0 }] }, 50_000)).toBeUndefined();
    expect(retestAgeMs(NOTHING_LEARNED, 60_000)).toBeUndefined();
    // A token taken at that age refutes every remembered rejection.
    expect(refuteYounger(state, retestAgeMs(state, 60_000) ?? 0)).toEqual(NOTHING_LEARNED);
  });
});

/** Deterministic draws in [0, 1) so a failure can be reproduced. */
function seeded(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    return x / 2_147_483_648;
  };
}
