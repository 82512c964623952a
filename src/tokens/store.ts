import { LRUCache } from 'lru-cache';
import type { UserConfig } from '../config/types';
import { backoffDelay } from './backoff';
import { type Clock, systemClock } from './clock';
import { TokenEventBus } from './events';
import {
  type LearningState,
  learnFromRejection,
  NOTHING_LEARNED,
  refuteShorter,
} from './lifetime-learning';
import { renewAt } from './renew-policy';
import { mintedSliding, observeSliding, type SlidingState } from './sliding-expiry';
import {
  MintError,
  type MintFailureReason,
  type MintedToken,
  type TokenEventName,
  type TokenEvents,
  type TokenLease,
  type TokenMinter,
  type TokenStore,
  NoTokenError,
  type UserTokenStatus,
} from './types';

export interface TokenStoreOptions {
  readonly users: readonly UserConfig[];
  /** The minter of each user (HTTP in production). Called once per user, at construction. */
  readonly minterFor: (user: UserConfig) => TokenMinter;
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
  readonly lifetimeMs: number;
  expiresAt: number;
  usableUntil: number;
  renewAt: number;
  sliding: SlidingState | null;
  revoked: boolean;
  rejectionCounted: boolean;
}

interface Slot {
  readonly user: UserConfig;
  readonly minter: TokenMinter;
  effectiveSeconds: number;
  failures: number;
  lastError: UserTokenStatus['lastError'];
  lastRefreshAt: number | null;
  everHeld: boolean;
  /** While failing: no mint attempt before this (epoch ms). */
  retryAt: number | null;
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
 * handed out. One timer per user drives renewal, retries and the `expired` event.
 */
class LruTokenStore implements TokenStore {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly slots = new Map<string, Slot>();
  private readonly cache: LRUCache<string, Held>;
  private readonly events = new TokenEventBus();
  private stopped = false;

  constructor(options: TokenStoreOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    for (const user of options.users) {
      this.slots.set(user.name, {
        user,
        minter: options.minterFor(user),
        effectiveSeconds: user.token.seconds,
        failures: 0,
        lastError: null,
        lastRefreshAt: null,
        everHeld: false,
        retryAt: null,
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
      const error = slot.lastError;
      throw new NoTokenError(
        user,
        error?.reason ?? 'network',
        error?.message ?? 'no token yet',
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

  invalidate(user: string, tokenValue: string): void {
    const slot = this.slots.get(user);
    const held = this.cache.get(user);
    if (!slot || held === undefined || held.value !== tokenValue || held.revoked) return;
    held.revoked = true;
    this.events.emit('invalidated', { user, cause: 'unauthorized' });
    if (this.stopped || slot.inFlight) return;
    if (slot.retryAt === null || this.clock.now() >= slot.retryAt) this.refreshInBackground(slot);
  }

  observe(user: string, tokenValue: string, sentAt: number, status: number): void {
    const slot = this.slots.get(user);
    const held = slot?.recent.find((h) => h.value === tokenValue);
    if (!slot || !held || sentAt >= held.expiresAt) return;
    if (status === 401) {
      this.learn(slot, held, sentAt);
      return;
    }
    if (slot.learning.earlyAges.length > 0) {
      const from = held.sliding?.lastPushFrom ?? held.sentAt;
      slot.learning = refuteShorter(slot.learning, sentAt - from);
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

  status(): UserTokenStatus[] {
    const now = this.clock.now();
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
            ? 'expired'
            : slot.failures > 0
              ? 'failing'
              : 'valid',
        expiresAt: live?.expiresAt ?? null,
        lastRefreshAt: slot.lastRefreshAt,
        lastError: slot.lastError,
        failures: slot.failures,
        everHeld: slot.everHeld,
        effectiveSeconds: slot.effectiveSeconds,
      };
    });
  }

  on<E extends TokenEventName>(event: E, listener: (payload: TokenEvents[E]) => void): this {
    this.events.on(event, listener);
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
    for (const slot of this.slots.values()) this.clock.clearTimeout(slot.timer);
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
    this.clock.clearTimeout(slot.timer);
    const started = this.clock.now();
    let held: Held | undefined;
    try {
      const token = await slot.minter.mint(signal);
      if (signal.aborted) throw signal.reason;
      held = this.accept(slot, token, started);
      return held;
    } catch (err) {
      if (this.stopped || signal.aborted) throw stoppedError(slot.user.name);
      throw this.fail(slot, err, started, previous);
    } finally {
      slot.inFlight = false;
      if (!this.stopped) this.schedule(slot, held ?? previous);
    }
  }

  private accept(slot: Slot, token: MintedToken, started: number): Held {
    const now = this.clock.now();
    const lifetimeMs = Math.min(token.seconds, slot.effectiveSeconds) * 1000;
    const held: Held = {
      value: token.value,
      sentAt: token.sentAt,
      lifetimeMs,
      expiresAt: 0,
      usableUntil: 0,
      renewAt: 0,
      sliding: slot.user.token.autoRefresh ? mintedSliding(token.sentAt, now, lifetimeMs) : null,
      revoked: false,
      rejectionCounted: false,
    };
    this.setLife(slot, held, token.sentAt, token.sentAt + lifetimeMs);
    if (now >= held.usableUntil) {
      throw new MintError(
        'timeout',
        `the token for "${slot.user.name}" took ${((now - started) / 1000).toFixed(1)} s to arrive and was no longer usable`,
      );
    }
    slot.failures = 0;
    slot.retryAt = null;
    slot.lastRefreshAt = now;
    slot.everHeld = true;
    slot.expiredNotified = false;
    slot.recent = [held, ...slot.recent.slice(0, 1)];
    this.events.emit('minted', {
      user: slot.user.name,
      endpoint: slot.minter.endpoint,
      seconds: lifetimeMs / 1000,
      durationSeconds: (now - started) / 1000,
      expiresAt: held.expiresAt,
    });
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
        : `token request failed unexpectedly: ${describe(err)}`;
    slot.failures += 1;
    const timeLeftMs = previous && this.usable(previous, now) ? previous.usableUntil - now : 0;
    const delay = backoffDelay({
      failures: slot.failures,
      reason,
      timeLeftMs,
      random: this.random(),
    });
    slot.retryAt = now + delay;
    slot.lastError = { reason, message, at: now };
    this.events.emit('mintFailed', {
      user: slot.user.name,
      endpoint: slot.minter.endpoint,
      reason,
      message,
      durationSeconds: (now - started) / 1000,
      retryInMs: delay,
    });
    return new NoTokenError(slot.user.name, reason, message, Math.max(1, Math.ceil(delay / 1000)));
  }

  /** Sets expiry, last usable instant and renewal instant for a lifetime starting at `from`. */
  private setLife(slot: Slot, held: Held, from: number, expiresAt: number): void {
    const marginMs =
      Math.min(slot.user.token.safetyMarginSeconds, slot.effectiveSeconds / 2) * 1000;
    held.expiresAt = expiresAt;
    held.usableUntil = expiresAt - marginMs;
    held.renewAt = renewAt({
      from,
      lifetimeMs: expiresAt - from,
      marginMs,
      random: this.random(),
    });
  }

  private learn(slot: Slot, held: Held, sentAt: number): void {
    if (held.rejectionCounted) return;
    held.rejectionCounted = true;
    const from = held.sliding?.lastPushFrom ?? held.sentAt;
    const result = learnFromRejection(slot.learning, {
      ageMs: sentAt - from,
      lifetimeMs: held.lifetimeMs,
    });
    slot.learning = result.state;
    if (result.learnedSeconds === undefined || result.learnedSeconds >= slot.effectiveSeconds)
      return;
    slot.effectiveSeconds = result.learnedSeconds;
    this.events.emit('lifetimeLearned', {
      user: slot.user.name,
      configuredSeconds: slot.user.token.seconds,
      observedSeconds: result.learnedSeconds,
    });
  }

  /** One timer per user, at the earliest of: retry, renewal, the current token's last usable instant. */
  private schedule(slot: Slot, held: Held | undefined): void {
    this.clock.clearTimeout(slot.timer);
    slot.timer = undefined;
    if (this.stopped || slot.inFlight) return;
    const now = this.clock.now();
    const live = held !== undefined && this.usable(held, now) ? held : undefined;
    const wakes: number[] = [];
    if (slot.retryAt !== null) wakes.push(slot.retryAt);
    else if (live) wakes.push(live.renewAt);
    if (live) wakes.push(live.usableUntil);
    if (wakes.length === 0) return;
    const wake = Math.min(...wakes);
    slot.timer = this.clock.setTimeout(() => this.tick(slot), Math.max(0, wake - now));
  }

  private tick(slot: Slot): void {
    slot.timer = undefined;
    if (this.stopped || slot.inFlight) return;
    const now = this.clock.now();
    const held = slot.recent[0];
    if (held && !held.revoked && now >= held.usableUntil && !slot.expiredNotified) {
      slot.expiredNotified = true;
      this.events.emit('expired', { user: slot.user.name });
    }
    const due =
      slot.retryAt !== null ? now >= slot.retryAt : held !== undefined && now >= held.renewAt;
    if (due) this.refreshInBackground(slot);
    else this.schedule(slot, held);
  }
}

function stoppedError(user: string): NoTokenError {
  return new NoTokenError(user, 'stopped', 'the token store is stopping', 1);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Lets one waiter give up without cancelling the mint the others share. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}
