import type { UserConfig } from '../config/types';
import type { TokenEventBus } from './events';
import { type HeldToken, lastPushBy, lifeStart } from './held-token';
import {
  type LearningState,
  learnFromRejection,
  NOTHING_LEARNED,
  refuteShorter,
  refuteYounger,
  retestAgeMs,
} from './lifetime-learning';
import type { TokenCheck } from './types';

/** A learned lifetime that a re-test confirmed is tested again after this, doubling… */
const RETEST_FIRST_MS = 60_000;
/** …up to this. */
const RETEST_MAX_MS = 60 * 60_000;

/**
 * The lifetime one user's tokens get: the configured one, until tokens that died early teach
 * a shorter one (`lifetime-learning.ts` decides), and the configured one again once a token
 * outlives what was learned. Tells observers of both (`lifetimeLearned`, `lifetimeRestored`).
 */
export class LearnedLifetime {
  /** Lifetime in use (s), after any learning from early 401s. */
  private seconds: number;
  private learning: LearningState = NOTHING_LEARNED;
  /** A learned lifetime is re-tested at a renewal from this instant on (∞ while one runs). */
  private retestAfter = Infinity;
  private retestDelayMs = RETEST_FIRST_MS;

  constructor(
    private readonly user: UserConfig,
    private readonly events: TokenEventBus,
  ) {
    this.seconds = user.token.seconds;
  }

  get effectiveSeconds(): number {
    return this.seconds;
  }

  /** Vidispine accepted `held` for a request sent at `sentAt`: evidence against early deaths. */
  accepted(held: HeldToken, sentAt: number): void {
    if (this.learning.early.length === 0) return;
    this.learning = refuteShorter(this.learning, sentAt - lifeStart(held));
    this.restoreIfRefuted();
  }

  /** A check confirmed `held` dead; the earliest rejected request was sent at `rejectedSentAt`. */
  died(held: HeldToken, rejectedSentAt: number, now: number): void {
    const result = learnFromRejection(this.learning, {
      ageMs: rejectedSentAt - lifeStart(held),
      lifetimeMs: held.lifetimeMs,
      aliveAgeMs: held.aliveAt - lastPushBy(held),
    });
    this.learning = result.state;
    if (result.learnedSeconds === undefined || result.learnedSeconds >= this.seconds) return;
    this.seconds = result.learnedSeconds;
    // Test it at the next renewal already: removals that happened to agree are common.
    this.retestAfter = now;
    this.retestDelayMs = RETEST_FIRST_MS;
    this.events.emit('lifetimeLearned', {
      user: this.user.name,
      configuredSeconds: this.user.token.seconds,
      observedSeconds: result.learnedSeconds,
    });
  }

  /**
   * The age at which to check a retired token when a re-test of the learned lifetime is due
   * at `now`, or undefined; no other re-test starts until `retested` is told its answer.
   */
  startRetest(now: number): number | undefined {
    const configuredMs = this.user.token.seconds * 1000;
    if (this.seconds * 1000 >= configuredMs) return undefined;
    const ageMs = retestAgeMs(this.learning, configuredMs);
    if (ageMs === undefined || now < this.retestAfter) return undefined;
    this.retestAfter = Infinity;
    return ageMs;
  }

  /** The re-test's check, made at (at least) `ageMs`, answered `result` at `now`. */
  retested(result: TokenCheck, ageMs: number, now: number): void {
    if (result === 'alive') {
      this.learning = refuteYounger(this.learning, ageMs);
      this.restoreIfRefuted();
    }
    this.retestAfter = now + this.retestDelayMs;
    if (result === 'dead') this.retestDelayMs = Math.min(2 * this.retestDelayMs, RETEST_MAX_MS);
  }

  /** Every early rejection was refuted: tokens live as long as configured after all. */
  private restoreIfRefuted(): void {
    const configured = this.user.token.seconds;
    if (this.learning.early.length > 0 || this.seconds >= configured) return;
    const learnedSeconds = this.seconds;
    this.seconds = configured;
    this.retestAfter = Infinity;
    this.events.emit('lifetimeRestored', {
      user: this.user.name,
      configuredSeconds: configured,
      learnedSeconds,
    });
  }
}
