import { LRUCache } from 'lru-cache';
import type { UserConfig } from '../config/types';
import {
  afterFailure,
  backoffDelay,
  type FailureRun,
  NO_FAILURE,
  rejectionBackoffDelay,
} from './backoff';
import { type Clock, systemClock } from './clock';
import { TokenEventBus } from './events';
import {
  type LearningState,
  learnFromRejection,
  NOTHING_LEARNED,
  refuteShorter,
  refuteYounger,
  retestAgeMs,
} from './lifetime-learning';
import { provesAccepted } from '../vidispine/acceptance';
import { abortable } from '../abortable';
import { messageOf } from '../error-message';
import { renewAt, safetyMarginMs } from './renew-policy';
import {
  mintedSliding,
  observeSliding,
  observeUncertain,
  type SlidingState,
} from './sliding-expiry';
import {
  MintError,
  type MintFailureReason,
  type MintedToken,
  type NoTokenReason,
  type Rejection,
  type TokenCheck,
  type TokenChecker,
  type TokenEventName,
  type TokenEvents,
  type TokenLease,
  type TokenMinter,
  type TokenStore,
  NoTokenError,
  type UserTokenStatus,
} from './types';

/** At most one check (GET /API/whoami) of a token in this window. */
export const CHECK_INTERVAL_MS = 1_000;
/** A learned lifetime that a re-test confirmed is tested again after this, doubling… */
const RETEST_FIRST_MS = 60_000;
/** …up to this. */
const RETEST_MAX_MS = 60 * 60_000;

export interface TokenStoreOptions {
  readonly users: readonly UserConfig[];
  /** The minter of each user (HTTP in production). Called once per user, at construction. */
  readonly minterFor: (user: UserConfig) => TokenMinter;
  /** Tells a dead token from a 401 that was the request's own (GET /API/whoami). */
  readonly checker: TokenChecker;
  /** Default: real time. Must be the clock the minters use for `sentAt`. */
  readonly clock?: Clock;
  /** Draws in [0, 1) for jitter. Default `Math.random`. */
  readonly random?: () => number;
}

/** One token as the store knows it. Mutable: autoRefresh pushes move its expiry. */
interface Held {
  readonly value: string;
  /** When the mint request was sent: the start of the token's life. */
  readonly sentAt: number;
  /** When the mint's answer arrived: the token surely existed from here on. */
  readonly receivedAt: number;
  readonly lifetimeMs: number;
  expiresAt: number;
  usableUntil: number;
  renewAt: number;
  sliding: SlidingState | null;
  revoked: boolean;
  /** Send time of the latest request or check Vidispine accepted this token for. */
  aliveAt: number;
  /** Vidispine accepted it at least once: minting works, whatever happens to it later. */
  proven: boolean;
  /** The check under way, which every 401 on this token joins until it answers. */
  check: PendingCheck | undefined;
  /** When the latest check of this token was sent (one per `CHECK_INTERVAL_MS`). */
  lastCheckAt: number;
}

interface PendingCheck {
  /** Earliest send time of the rejected requests it answers: the age learning looks at. */
  rejectedSentAt: number;
  /** The first `Reason:` header among them (token blanked out). */
  reason: string | undefined;
  result: Promise<TokenCheck>;
}

interface Slot {
  readonly user: UserConfig;
  readonly minter: TokenMinter;
  effectiveSeconds: number;
  /** The failed mints since the last success, which set the backoff. */
  failed: FailureRun;
  lastError: UserTokenStatus['lastError'];
  lastRefreshAt: number | null;
  everHeld: boolean;
  /** While failing, or after tokens kept dying: no mint attempt before this (on the clock). */
  retryAt: number | null;
  /**
   * Where the latest failure would have put the retry with no token held: the retry once the
   * token it was planned for (up to half its remaining life away) is found dead.
   */
  retryIfLost: number | null;
  /** What `get()` says while `retryAt` holds it back. */
  blocked: { reason: NoTokenReason; message: string } | null;
  /** When the last mint attempt started: replacing dead tokens is budgeted from there. */
  lastMintAt: number | null;
  /** Current tokens confirmed dead in a row that Vidispine never accepted even once. */
  deaths: number;
  /** A learned lifetime is re-tested at a renewal from this instant on (∞ while one runs). */
  retestAfter: number;
  retestDelayMs: number;
  /** Timers of re-tests; stop() clears them. */
  readonly sideTimers: Set<unknown>;
  inFlight: boolean;
  timer: unknown;
  expiredNotified: boolean;
  /** The current token and the one before, so a late answer can still be attributed. */
  recent: Held[];
  learning: LearningState;
}

export function createTokenStore(options: TokenStoreOptions): TokenStore {
  return new LruTokenStore(options);
}

/**
 * Holds one token per user in an lru-cache whose `fetchMethod` mints: concurrent `get()`s and
 * the refresher share one in-flight mint per user. During a renewal the cache keeps serving
 * the previous token (stale-while-fetching); since lru-cache knows nothing of our expiry, every
 * read checks the token's own `usableUntil` and `revoked` flag, so a dead token is never
 * handed out. One timer per user drives renewal, retries and the `expired` event; checks of
 * rejected tokens and re-tests of a learned lifetime have their own.
 *
 * Minting is budgeted whatever clients do: failed mints back off (`backoffDelay`), a 401
 * drops a token only once GET /API/whoami confirms it is dead, and replacing tokens that
 * die without ever having worked backs off the same way (`rejectionBackoffDelay`).
 */
class LruTokenStore implements TokenStore {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly checker: TokenChecker;
  private readonly slots = new Map<string, Slot>();
  private readonly cache: LRUCache<string, Held>;
  private readonly events = new TokenEventBus();
  /** Aborts token checks under way when the store stops. */
  private readonly checks = new AbortController();
  private stopped = false;

  constructor(options: TokenStoreOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.checker = options.checker;
    for (const user of options.users) {
      this.slots.set(user.name, {
        user,
        minter: options.minterFor(user),
        effectiveSeconds: user.token.seconds,
        failed: NO_FAILURE,
        lastError: null,
        lastRefreshAt: null,
        everHeld: false,
        retryAt: null,
        retryIfLost: null,
        blocked: null,
        lastMintAt: null,
        deaths: 0,
        retestAfter: Infinity,
        retestDelayMs: RETEST_FIRST_MS,
        sideTimers: new Set(),
        inFlight: false,
        timer: undefined,
        expiredNotified: false,
        recent: [],
        learning: NOTHING_LEARNED,
      });
    }
    this.cache = new LRUCache<string, Held>({
      max: Math.max(1, this.slots.size),
      // A failed renewal keeps the previous token in the cache; our own checks decide its use.
      noDeleteOnFetchRejection: true,
      fetchMethod: (user, _stale, { signal }) => this.mint(this.slot(user), signal),
    });
  }

  current(user: string): TokenLease | undefined {
    const held = this.cache.get(user);
    if (held === undefined || !this.usable(held, this.clock.now())) return undefined;
    return { user, value: held.value, usableUntil: held.usableUntil };
  }

  async get(user: string, signal?: AbortSignal): Promise<TokenLease> {
    const lease = this.current(user);
    if (lease) return lease;
    const slot = this.slot(user);
    if (this.stopped) throw stoppedError(user);
    const now = this.clock.now();
    if (!slot.inFlight && slot.retryAt !== null && now < slot.retryAt) {
      throw new NoTokenError(
        user,
        slot.blocked?.reason ?? 'network',
        slot.blocked?.message ?? 'no token yet',
        Math.max(1, Math.ceil((slot.retryAt - now) / 1000)),
      );
    }
    let held: Held | undefined;
    try {
      held = await abortable(this.refresh(slot), signal);
    } catch (err) {
      if (err instanceof NoTokenError || signal?.aborted) throw err;
      throw stoppedError(user);
    }
    if (held === undefined) throw stoppedError(user);
    return { user, value: held.value, usableUntil: held.usableUntil };
  }

  answered(user: string, tokenValue: string, sentAt: number, status: number | undefined): void {
    const slot = this.slots.get(user);
    const held = slot?.recent.find((h) => h.value === tokenValue);
    if (!slot || !held || sentAt >= held.expiresAt) return;
    if (status === undefined || !provesAccepted(status)) {
      this.notePossiblePush(slot, held, sentAt);
      return;
    }
    if (sentAt > held.aliveAt) held.aliveAt = sentAt;
    this.noteAlive(slot, held, sentAt);
  }

  async rejected(
    user: string,
    tokenValue: string,
    sentAt: number,
    reason?: string,
  ): Promise<Rejection> {
    const slot = this.slots.get(user);
    if (!slot || this.stopped) return 'pass';
    const held = slot.recent.find((h) => h.value === tokenValue);
    // Already known dead, or a newer token is held: send again with that one, no check needed.
    if (held === undefined || held.revoked || held !== slot.recent[0]) return 'replay';
    // A 401 that is the request's own (a refused RunAs) may come after Vidispine took the
    // token and pushed its expiry; for a dead token, noted or not makes no difference.
    this.notePossiblePush(slot, held, sentAt);
    const result = await this.joinCheck(slot, held, sentAt, reason);
    return result === 'dead' ? 'replay' : 'pass';
  }

  now(): number {
    return this.clock.now();
  }

  status(): UserTokenStatus[] {
    const now = this.clock.now();
    const wall = (at: number | null) => (at === null ? null : this.clock.wall(at));
    return [...this.slots.values()].map((slot) => {
      const held = this.cache.peek(slot.user.name);
      const live = held !== undefined && !held.revoked ? held : undefined;
      const usable = live !== undefined && this.usable(live, now);
      return {
        user: slot.user.name,
        mode: slot.user.token.autoRefresh ? 'autoRefresh' : 'renew',
        endpoint: slot.minter.endpoint,
        state: !slot.everHeld
          ? 'pending'
          : !usable
            ? held?.revoked === true
              ? 'invalidated'
              : 'expired'
            : slot.failed.failures > 0
              ? 'failing'
              : 'valid',
        expiresAt: wall(live?.expiresAt ?? null),
        lastRefreshAt: wall(slot.lastRefreshAt),
        lastError: slot.lastError && { ...slot.lastError, at: this.clock.wall(slot.lastError.at) },
        failures: slot.failed.failures,
        everHeld: slot.everHeld,
        effectiveSeconds: slot.effectiveSeconds,
        marginSeconds: marginMsFor(slot, slot.effectiveSeconds) / 1000,
        nextAttemptAt: slot.retryAt !== null && slot.retryAt > now ? wall(slot.retryAt) : null,
      };
    });
  }

  on<E extends TokenEventName>(event: E, listener: (payload: TokenEvents[E]) => void): this {
    this.events.on(event, listener);
    return this;
  }

  off<E extends TokenEventName>(event: E, listener: (payload: TokenEvents[E]) => void): this {
    this.events.off(event, listener);
    return this;
  }

  start(): void {
    for (const slot of this.slots.values()) {
      if (!slot.inFlight && this.current(slot.user.name) === undefined) {
        this.refreshInBackground(slot);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    this.checks.abort();
    for (const slot of this.slots.values()) {
      this.clock.clearTimeout(slot.timer);
      for (const timer of slot.sideTimers) this.clock.clearTimeout(timer);
      slot.sideTimers.clear();
    }
    // Aborts in-flight mints; their waiters reject and get() turns that into 'stopped'.
    this.cache.clear();
  }

  private slot(user: string): Slot {
    const slot = this.slots.get(user);
    if (!slot) throw new Error(`unknown user "${user}"`);
    return slot;
  }

  private usable(held: Held, now: number): boolean {
    return !held.revoked && now < held.usableUntil;
  }

  /** Coalesced: joins the mint in flight for this user, or starts one. */
  private refresh(slot: Slot): Promise<Held | undefined> {
    return this.cache.fetch(slot.user.name, { forceRefresh: true });
  }

  private refreshInBackground(slot: Slot): void {
    // Failures are reported through events; nobody waits on this one.
    this.refresh(slot).catch(() => undefined);
  }

  /** The lru-cache fetchMethod: one HTTP mint plus its bookkeeping. */
  private async mint(slot: Slot, signal: AbortSignal): Promise<Held> {
    const previous = slot.recent[0];
    slot.inFlight = true;
    this.schedule(slot, previous);
    const started = this.clock.now();
    slot.lastMintAt = started;
    let held: Held | undefined;
    try {
      const token = await slot.minter.mint(signal);
      if (signal.aborted) throw signal.reason;
      held = this.accept(slot, token, started, previous);
      return held;
    } catch (err) {
      if (this.stopped || signal.aborted) throw stoppedError(slot.user.name);
      throw this.fail(slot, err, started, previous);
    } finally {
      slot.inFlight = false;
      if (!this.stopped) this.schedule(slot, held ?? previous);
    }
  }

  private accept(
    slot: Slot,
    token: MintedToken,
    started: number,
    previous: Held | undefined,
  ): Held {
    const now = this.clock.now();
    const lifetimeMs = Math.min(token.seconds, slot.effectiveSeconds) * 1000;
    const held: Held = {
      value: token.value,
      sentAt: token.sentAt,
      receivedAt: now,
      lifetimeMs,
      expiresAt: 0,
      usableUntil: 0,
      renewAt: 0,
      sliding: slot.user.token.autoRefresh ? mintedSliding(token.sentAt, now, lifetimeMs) : null,
      revoked: false,
      aliveAt: token.sentAt,
      proven: false,
      check: undefined,
      lastCheckAt: -Infinity,
    };
    this.setLife(slot, held, token.sentAt, token.sentAt + lifetimeMs);
    if (now >= held.usableUntil) {
      throw new MintError(
        'timeout',
        `the token for "${slot.user.name}" took ${((now - started) / 1000).toFixed(1)} s to arrive and was no longer usable`,
      );
    }
    slot.failed = NO_FAILURE;
    slot.retryAt = null;
    slot.retryIfLost = null;
    slot.blocked = null;
    slot.lastRefreshAt = now;
    slot.everHeld = true;
    slot.expiredNotified = false;
    slot.recent = [held, ...slot.recent.slice(0, 1)];
    this.events.emit('minted', {
      user: slot.user.name,
      endpoint: slot.minter.endpoint,
      seconds: lifetimeMs / 1000,
      durationSeconds: (now - started) / 1000,
      expiresAt: this.clock.wall(held.expiresAt),
    });
    if (previous !== undefined && !previous.revoked) this.planRetest(slot, previous);
    return held;
  }

  private fail(
    slot: Slot,
    err: unknown,
    started: number,
    previous: Held | undefined,
  ): NoTokenError {
    const now = this.clock.now();
    const reason: MintFailureReason = err instanceof MintError ? err.reason : 'network';
    const message =
      err instanceof MintError
        ? err.message
        : `token request failed unexpectedly: ${messageOf(err)}`;
    const timeLeftMs = previous && this.usable(previous, now) ? previous.usableUntil - now : 0;
    const before = slot.failed;
    slot.failed = afterFailure(before, timeLeftMs > 0);
    const failure = {
      reason,
      random: this.random(),
      retryAfterMs: err instanceof MintError ? err.retryAfterMs : undefined,
    };
    const delay = backoffDelay({ ...failure, step: slot.failed.step, timeLeftMs });
    slot.retryAt = now + delay;
    slot.retryIfLost =
      timeLeftMs > 0
        ? now + backoffDelay({ ...failure, step: afterFailure(before, false).step, timeLeftMs: 0 })
        : null;
    const endpoint = (err instanceof MintError ? err.endpoint : undefined) ?? slot.minter.endpoint;
    slot.blocked = { reason, message };
    slot.lastError = { reason, message, at: now, endpoint };
    this.events.emit('mintFailed', {
      user: slot.user.name,
      endpoint,
      reason,
      message,
      durationSeconds: (now - started) / 1000,
      retryInMs: delay,
    });
    return new NoTokenError(slot.user.name, reason, message, Math.max(1, Math.ceil(delay / 1000)));
  }

  /** Sets expiry, last usable instant and renewal instant for a lifetime starting at `from`. */
  private setLife(slot: Slot, held: Held, from: number, expiresAt: number): void {
    const marginMs = marginMsFor(slot, held.lifetimeMs / 1000);
    held.expiresAt = expiresAt;
    held.usableUntil = expiresAt - marginMs;
    held.renewAt = renewAt({
      from,
      lifetimeMs: expiresAt - from,
      marginMs,
      mintMs: held.receivedAt - held.sentAt,
      random: this.random(),
    });
  }

  /** Vidispine accepted the token for a request sent at `sentAt`. */
  private noteAlive(slot: Slot, held: Held, sentAt: number): void {
    if (!held.proven) {
      held.proven = true;
      slot.deaths = 0;
    }
    if (slot.learning.early.length > 0) {
      const from = held.sliding?.lastPushFrom ?? held.sentAt;
      slot.learning = refuteShorter(slot.learning, sentAt - from);
      this.restoreIfRefuted(slot);
    }
    if (held.sliding === null || held.revoked) return;
    const next = observeSliding(held.sliding, sentAt, this.clock.now(), {
      lifetimeMs: held.lifetimeMs,
      intervalMs: slot.user.token.serverRefreshIntervalSeconds * 1000,
    });
    if (next === held.sliding) return;
    held.sliding = next;
    if (next.expiresAt === held.expiresAt) return;
    this.setLife(slot, held, next.lastPushFrom, next.expiresAt);
    if (held === slot.recent[0]) this.schedule(slot, held);
  }

  /**
   * An answer that proves nothing (a 5xx, a front end's 4xx, none in time) to a request or
   * check Vidispine may still have taken the token for: an autoRefresh push it may have made
   * is remembered, so the next push the model counts does not outrun the server's.
   */
  private notePossiblePush(slot: Slot, held: Held, sentAt: number): void {
    if (held.sliding === null || held.revoked) return;
    held.sliding = observeUncertain(held.sliding, sentAt, this.clock.now(), {
      intervalMs: slot.user.token.serverRefreshIntervalSeconds * 1000,
    });
  }

  /**
   * The verdict on a 401 for the current token. A check sent after the 401 arrived is proof
   * either way, since a token never comes back to life; every 401 that arrives while it is
   * under way shares it. At most one check of a token starts per `CHECK_INTERVAL_MS`: a 401
   * in between, with no check under way, is passed on at once (the token answered a check
   * less than a second ago), so a client that provokes 401s costs Vidispine one
   * GET /API/whoami a second and waits for nothing, and a token that really died is caught
   * by the next check. (Only the current token is checked, so that is one a second per user.)
   */
  private joinCheck(
    slot: Slot,
    held: Held,
    sentAt: number,
    reason: string | undefined,
  ): Promise<TokenCheck> {
    let pending = held.check;
    if (pending === undefined) {
      const now = this.clock.now();
      if (now < held.lastCheckAt + CHECK_INTERVAL_MS) return Promise.resolve('unknown');
      held.lastCheckAt = now;
      pending = { rejectedSentAt: sentAt, reason, result: Promise.resolve('unknown') };
      held.check = pending;
      pending.result = this.runCheck(slot, held, pending);
    }
    pending.rejectedSentAt = Math.min(pending.rejectedSentAt, sentAt);
    pending.reason ??= reason;
    return pending.result;
  }

  private async runCheck(slot: Slot, held: Held, pending: PendingCheck): Promise<TokenCheck> {
    const sentAt = this.clock.now();
    const result = await this.checker
      .check(held.value, this.checks.signal)
      .catch((): TokenCheck => 'unknown');
    if (held.check === pending) held.check = undefined;
    if (this.stopped) return 'unknown';
    if (result === 'alive') {
      if (sentAt > held.aliveAt) held.aliveAt = sentAt;
      this.noteAlive(slot, held, sentAt);
    } else if (result === 'dead') {
      this.kill(slot, held, pending.rejectedSentAt, pending.reason);
    } else {
      this.notePossiblePush(slot, held, sentAt);
    }
    this.events.emit('checked', { user: slot.user.name, result, reason: pending.reason });
    return result;
  }

  /** A check confirmed that Vidispine no longer takes this token. */
  private kill(slot: Slot, held: Held, rejectedSentAt: number, reason: string | undefined): void {
    if (held.revoked) return;
    held.revoked = true;
    const current = held === slot.recent[0];
    // Decided before it is told, so the event says what will happen: the backoff may hold
    // the replacement back, and a token a renewal already replaced needs none.
    const retryInMs = current ? this.planReplacement(slot, held) : null;
    this.events.emit('invalidated', {
      user: slot.user.name,
      cause: 'unauthorized',
      reason,
      retryInMs,
    });
    this.learn(slot, held, rejectedSentAt);
    if (!current || this.stopped || slot.inFlight) return;
    if (retryInMs === 0) this.refreshInBackground(slot);
    else this.schedule(slot, undefined);
  }

  /** When the current token, just found dead, is replaced: ms from now (0: at once or under way). */
  private planReplacement(slot: Slot, held: Held): number {
    // A token that worked and then died (a restart, a removal) is replaced at once, however
    // often that happens; tokens that never work are replaced on the backoff schedule.
    if (!held.proven) slot.deaths += 1;
    const now = this.clock.now();
    // With no token every request is a 503: a retry planned for this token's remaining life
    // (minutes, for a long one) comes when a failure without a token would have had it.
    if (slot.retryAt !== null && slot.retryIfLost !== null) {
      slot.retryAt = Math.min(slot.retryAt, slot.retryIfLost);
    }
    slot.retryIfLost = null;
    const earliest = (slot.lastMintAt ?? now) + rejectionBackoffDelay(slot.deaths, this.random());
    if (earliest > now) {
      slot.retryAt = Math.max(slot.retryAt ?? 0, earliest);
      slot.blocked = {
        reason: 'rejected',
        message: `Vidispine rejected ${slot.deaths} new tokens in a row before accepting any; the next one is minted when the backoff allows`,
      };
    }
    if (slot.inFlight || slot.retryAt === null) return 0;
    return Math.max(0, Math.ceil(slot.retryAt - now));
  }

  private learn(slot: Slot, held: Held, rejectedSentAt: number): void {
    const from = held.sliding?.lastPushFrom ?? held.sentAt;
    // The last push, possible ones included, came at the latest by here.
    const pushedBy = held.sliding
      ? Math.max(held.sliding.lastPushBy, held.sliding.possible?.by ?? -Infinity)
      : held.receivedAt;
    const result = learnFromRejection(slot.learning, {
      ageMs: rejectedSentAt - from,
      lifetimeMs: held.lifetimeMs,
      aliveAgeMs: held.aliveAt - pushedBy,
    });
    slot.learning = result.state;
    if (result.learnedSeconds === undefined || result.learnedSeconds >= slot.effectiveSeconds)
      return;
    slot.effectiveSeconds = result.learnedSeconds;
    // Test it at the next renewal already: removals that happened to agree are common.
    slot.retestAfter = this.clock.now();
    slot.retestDelayMs = RETEST_FIRST_MS;
    this.events.emit('lifetimeLearned', {
      user: slot.user.name,
      configuredSeconds: slot.user.token.seconds,
      observedSeconds: result.learnedSeconds,
    });
  }

  /**
   * A token just retired by a renewal is checked just past the age its predecessors died at:
   * accepted, those deaths were removals or the cap has been raised since, and the configured
   * lifetime comes back (a cap raised part of the way is learned anew); refused, the next test
   * waits longer (1 min doubling to 1 h).
   */
  private planRetest(slot: Slot, retired: Held): void {
    const configuredMs = slot.user.token.seconds * 1000;
    if (slot.effectiveSeconds * 1000 >= configuredMs) return;
    const now = this.clock.now();
    const ageMs = retestAgeMs(slot.learning, configuredMs);
    if (ageMs === undefined || now < slot.retestAfter) return;
    // The token surely existed from here: a lower bound of its age at the check.
    const born = retired.sliding?.lastPushBy ?? retired.receivedAt;
    slot.retestAfter = Infinity;
    this.later(slot, born + ageMs - now, () => void this.retest(slot, retired, born));
  }

  private async retest(slot: Slot, retired: Held, born: number): Promise<void> {
    const sentAt = this.clock.now();
    const result = await this.checker
      .check(retired.value, this.checks.signal)
      .catch((): TokenCheck => 'unknown');
    if (this.stopped) return;
    const now = this.clock.now();
    if (result === 'alive') {
      slot.learning = refuteYounger(slot.learning, sentAt - born);
      this.restoreIfRefuted(slot);
    }
    slot.retestAfter = now + slot.retestDelayMs;
    if (result === 'dead') slot.retestDelayMs = Math.min(2 * slot.retestDelayMs, RETEST_MAX_MS);
  }

  /** Every early rejection was refuted: tokens live as long as configured after all. */
  private restoreIfRefuted(slot: Slot): void {
    const configured = slot.user.token.seconds;
    if (slot.learning.early.length > 0 || slot.effectiveSeconds >= configured) return;
    const learnedSeconds = slot.effectiveSeconds;
    slot.effectiveSeconds = configured;
    slot.retestAfter = Infinity;
    this.events.emit('lifetimeRestored', {
      user: slot.user.name,
      configuredSeconds: configured,
      learnedSeconds,
    });
  }

  /** A side timer for `slot` (a re-test), cleared by stop(). */
  private later(slot: Slot, ms: number, fn: () => void): void {
    const handle = this.clock.setTimeout(
      () => {
        slot.sideTimers.delete(handle);
        if (!this.stopped) fn();
      },
      Math.max(0, ms),
    );
    slot.sideTimers.add(handle);
  }

  /**
   * One timer per user, at the earliest of: retry, renewal, the current token's last usable
   * instant. While a mint is under way only the last: a slow renewal does not hold back the
   * `expired` event, and the mint's end plans what comes next.
   */
  private schedule(slot: Slot, held: Held | undefined): void {
    this.clock.clearTimeout(slot.timer);
    slot.timer = undefined;
    if (this.stopped) return;
    const now = this.clock.now();
    const live = held !== undefined && this.usable(held, now) ? held : undefined;
    const wakes: number[] = [];
    if (!slot.inFlight && slot.retryAt !== null) wakes.push(slot.retryAt);
    else if (!slot.inFlight && live) wakes.push(live.renewAt);
    if (live) wakes.push(live.usableUntil);
    if (wakes.length === 0) return;
    const wake = Math.min(...wakes);
    slot.timer = this.clock.setTimeout(() => this.tick(slot), Math.max(0, wake - now));
  }

  private tick(slot: Slot): void {
    slot.timer = undefined;
    if (this.stopped) return;
    const now = this.clock.now();
    const held = slot.recent[0];
    if (held && !held.revoked && now >= held.usableUntil && !slot.expiredNotified) {
      slot.expiredNotified = true;
      this.events.emit('expired', { user: slot.user.name });
    }
    if (slot.inFlight) return;
    const renewing = slot.retryAt === null && held !== undefined && now >= held.renewAt;
    // A token that lived to its renewal ends a run of early deaths.
    if (renewing && !held.revoked) slot.deaths = 0;
    const due = slot.retryAt !== null ? now >= slot.retryAt : renewing;
    if (due) this.refreshInBackground(slot);
    else this.schedule(slot, held);
  }
}

/** The user's safety margin for a token of `lifetimeSeconds`. */
function marginMsFor(slot: Slot, lifetimeSeconds: number): number {
  return safetyMarginMs({
    configuredSeconds: slot.user.token.seconds,
    marginSeconds: slot.user.token.safetyMarginSeconds,
    lifetimeSeconds,
  });
}

function stoppedError(user: string): NoTokenError {
  return new NoTokenError(user, 'stopped', 'the token store is stopping', 1);
}
