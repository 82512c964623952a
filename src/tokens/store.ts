import { basename, dirname } from 'node:path';
import { LRUCache } from 'lru-cache';
import type { UserConfig } from '../config/types';
import { provesAccepted } from '../vidispine/acceptance';
import { abortable } from '../abortable';
import { type CheckedRejection, CheckRunner } from './check-runner';
import { type Clock, systemClock } from './clock';
import { TokenEventBus } from './events';
import {
  type HeldToken,
  isUsable,
  markAlive,
  notePossiblePush,
  setLife,
  slideExpiry,
} from './held-token';
import { LearnedLifetime } from './learned-lifetime';
import { MintRunner } from './mint-runner';
import { RenewalTimer } from './renewal-timer';
import { RetestScheduler } from './retest-scheduler';
import {
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
import {
  mayDropUnchecked,
  mayReplaceLost,
  newUserSlot,
  planReplacement,
  recordAccepted,
  refusal,
  retryOnSecretChange,
  stoppedError,
  type UserSlot,
} from './user-slot';
import { statusOf } from './user-status';

export { CHECK_INTERVAL_MS } from './check-runner';

export interface TokenStoreOptions {
  /** The configured users: a token each. Asking for any other is a bug: `get()` throws. */
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

export function createTokenStore(options: TokenStoreOptions): TokenStore {
  return new LruTokenStore(options);
}

/**
 * Holds one token per user in an lru-cache whose `fetchMethod` mints: concurrent `get()`s and
 * the refresher share one in-flight mint per user. During a renewal the cache keeps serving
 * the previous token (stale-while-fetching); since lru-cache knows nothing of our expiry, every
 * read checks the token's own `usableUntil` and `revoked` flag, so a dead token is never
 * handed out. One timer per user drives renewal, retries and the `expired` event
 * (`RenewalTimer`); checks of rejected tokens (`CheckRunner`) and re-tests of a learned
 * lifetime (`RetestScheduler`) have their own.
 *
 * Minting is budgeted whatever clients do: failed mints back off (`backoffDelay`), a 401
 * drops a token only once GET /API/whoami confirms it is dead (on a server without it, only
 * as often as `rejectionBackoffDelay` allows: `mayDropUnchecked`), replacing tokens that
 * die without ever having worked backs off the same way (`rejectionBackoffDelay`), and so
 * does replacing tokens that worked and then died, after the first few (`lostBackoffDelay`).
 */
class LruTokenStore implements TokenStore {
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly slots = new Map<string, UserSlot>();
  private readonly cache: LRUCache<string, HeldToken>;
  private readonly events = new TokenEventBus();
  /** Aborted by stop(): ends checks under way and every timer. */
  private readonly stopping = new AbortController();
  private readonly checks: CheckRunner;
  private readonly retests: RetestScheduler;
  private readonly renewals: RenewalTimer;
  private readonly mints: MintRunner;

  constructor(options: TokenStoreOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    const { signal } = this.stopping;
    this.checks = new CheckRunner(options.checker, this.clock, this.events, signal, (...answer) =>
      this.settleCheck(...answer),
    );
    this.retests = new RetestScheduler(this.clock, this.checks, signal);
    this.renewals = new RenewalTimer(this.clock, this.events, signal, (slot) =>
      this.refreshInBackground(slot),
    );
    this.mints = new MintRunner(
      this.clock,
      this.random,
      this.events,
      signal,
      this.renewals,
      this.retests,
    );
    for (const user of options.users) {
      const lifetime = new LearnedLifetime(user, this.events);
      this.slots.set(user.name, newUserSlot(user, options.minterFor(user), lifetime));
    }
    this.cache = new LRUCache<string, HeldToken>({
      max: Math.max(1, this.slots.size),
      // A failed renewal keeps the previous token in the cache; our own checks decide its use.
      noDeleteOnFetchRejection: true,
      fetchMethod: (user, _stale, { signal }) => this.mints.mint(this.slot(user), signal),
    });
  }

  current(user: string): TokenLease | undefined {
    const held = this.cache.get(user);
    if (held === undefined || !isUsable(held, this.clock.now())) return undefined;
    return { user, value: held.value, usableUntil: held.usableUntil };
  }

  async get(user: string, signal?: AbortSignal): Promise<TokenLease> {
    const lease = this.current(user);
    if (lease) return lease;
    const slot = this.slot(user);
    if (this.stopped) throw stoppedError(user);
    const refused = refusal(slot, this.clock.now());
    if (refused) throw refused;
    let held: HeldToken | undefined;
    try {
      held = await abortable(this.refresh(slot), signal);
    } catch (err) {
      if (err instanceof NoTokenError || signal?.aborted) throw err;
      throw stoppedError(user);
    }
    if (held === undefined) throw stoppedError(user);
    return { user, value: held.value, usableUntil: held.usableUntil };
  }

  sent(user: string, tokenValue: string, sentAt: number): void {
    this.held(this.slots.get(user), tokenValue)?.inFlight?.add(sentAt);
  }

  answered(user: string, tokenValue: string, sentAt: number, status: number | undefined): void {
    const slot = this.slots.get(user);
    const held = this.held(slot, tokenValue);
    held?.inFlight?.remove(sentAt);
    if (!slot || !held || sentAt >= held.expiresAt) return;
    if (status === undefined || !provesAccepted(status)) {
      this.notePossiblePush(slot, held, sentAt);
      return;
    }
    this.noteAlive(slot, held, sentAt);
  }

  async rejected(
    user: string,
    tokenValue: string,
    sentAt: number,
    reason?: string,
  ): Promise<Rejection> {
    const slot = this.slots.get(user);
    const held = this.held(slot, tokenValue);
    held?.inFlight?.remove(sentAt);
    if (!slot || this.stopped) return 'pass';
    // Already known dead, or a newer token is held: send again with that one, no check needed.
    if (held === undefined || held.revoked || held !== slot.recent[0]) return 'replay';
    // A 401 that is the request's own (a refused RunAs) may come after Vidispine took the
    // token and pushed its expiry; for a dead token, noted or not makes no difference.
    this.notePossiblePush(slot, held, sentAt);
    const result = await this.checks.join(slot, held, sentAt, reason);
    // Dropped: for a dead token, within the replacement budget, or for one the server has no
    // way to check (settleCheck).
    if (held.revoked) return 'replay';
    // Uncheckable, and a renewal replaced the token meanwhile: sending again costs no mint.
    return result === 'unavailable' && held !== slot.recent[0] ? 'replay' : 'pass';
  }

  /** The token of `slot` whose value a request carried, while it is among the recent ones. */
  private held(slot: UserSlot | undefined, tokenValue: string): HeldToken | undefined {
    return slot?.recent.find((h) => h.value === tokenValue);
  }

  now(): number {
    return this.clock.now();
  }

  status(): UserTokenStatus[] {
    const now = this.clock.now();
    const wall = (at: number) => this.clock.wall(at);
    return [...this.slots.values()].map((slot) =>
      statusOf(slot, this.cache.peek(slot.user.name), now, wall),
    );
  }

  secretFolderChanged(folder: string, file?: string): void {
    if (this.stopped) return;
    const now = this.clock.now();
    for (const slot of this.slots.values()) {
      const path = slot.minter.secretFile;
      if (path === undefined || dirname(path) !== folder) continue;
      if (file !== undefined && basename(path) !== file) continue;
      slot.secretChangedAt = now;
      if (slot.inFlight) continue;
      const at = retryOnSecretChange(slot, now);
      if (at === undefined) continue;
      slot.retryAt = at;
      slot.secretRetry = 'planned';
      this.renewals.schedule(slot, slot.recent[0]);
    }
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
    this.stopping.abort();
    // Aborts in-flight mints; their waiters reject and get() turns that into 'stopped'.
    this.cache.clear();
  }

  private get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  private slot(user: string): UserSlot {
    const slot = this.slots.get(user);
    if (!slot) throw new Error(`unknown user "${user}"`);
    return slot;
  }

  /** Coalesced: joins the mint in flight for this user, or starts one. */
  private refresh(slot: UserSlot): Promise<HeldToken | undefined> {
    return this.cache.fetch(slot.user.name, { forceRefresh: true });
  }

  private refreshInBackground(slot: UserSlot): void {
    // Failures are reported through events; nobody waits on this one.
    this.refresh(slot).catch(() => undefined);
  }

  /** Vidispine accepted the token for a request sent at `sentAt`. */
  private noteAlive(slot: UserSlot, held: HeldToken, sentAt: number): void {
    markAlive(held, sentAt);
    recordAccepted(slot, held);
    slot.lifetime.accepted(held, sentAt);
    const now = this.clock.now();
    const slid = slideExpiry(held, sentAt, now, {
      lifetimeMs: held.lifetimeMs,
      intervalMs: slot.user.token.serverRefreshIntervalSeconds * 1000,
    });
    if (slid === undefined) return;
    setLife(held, slid.lastPushFrom, slid.expiresAt, this.random());
    if (held !== slot.recent[0]) return;
    // A late answer can show that a token that lapsed was pushed: usable again, its lapse is
    // over, and the next one is news to announce.
    if (isUsable(held, now)) slot.expiredNotified = false;
    this.renewals.schedule(slot, held);
  }

  private notePossiblePush(slot: UserSlot, held: HeldToken, sentAt: number): void {
    const intervalMs = slot.user.token.serverRefreshIntervalSeconds * 1000;
    notePossiblePush(held, sentAt, this.clock.now(), intervalMs);
  }

  /** The answer of a check of a rejected token. */
  private settleCheck(
    slot: UserSlot,
    held: HeldToken,
    result: TokenCheck,
    { sentAt, rejectedSentAt, reason }: CheckedRejection,
  ): void {
    if (result === 'alive') {
      this.noteAlive(slot, held, sentAt);
    } else if (
      result === 'dead'
        ? !this.dropDead(slot, held, rejectedSentAt, reason)
        : result !== 'unavailable' || !this.dropUnchecked(slot, held, rejectedSentAt, reason)
    ) {
      this.notePossiblePush(slot, held, sentAt);
    }
  }

  /**
   * GET /API/whoami says Vidispine no longer takes the token. The current one is kept while
   * the replacement budget allows no mint (`mayReplaceLost`), teaching no lifetime since the
   * whoami may be wrong — except in a run of tokens Vidispine never accepted (`deaths`),
   * whose replacement the rejection backoff holds back with `503`s as it always has. (The
   * current token, accepted, ended any such run.) Whether it dropped it.
   */
  private dropDead(
    slot: UserSlot,
    held: HeldToken,
    rejectedSentAt: number,
    reason: string | undefined,
  ): boolean {
    const random = this.random();
    const current = !held.revoked && held === slot.recent[0];
    if (current && slot.deaths === 0 && !mayReplaceLost(slot, this.clock.now(), random)) {
      return false;
    }
    this.kill(slot, held, rejectedSentAt, reason, { checked: true, random });
    return true;
  }

  /**
   * The server cannot check a 401 (no GET /API/whoami): the design's default, the 401 was
   * the token's — for the current token, within the rejection backoff (`mayDropUnchecked`).
   * Teaches no lifetime: the 401 may have been the request's own. Whether it dropped it.
   */
  private dropUnchecked(
    slot: UserSlot,
    held: HeldToken,
    rejectedSentAt: number,
    reason: string | undefined,
  ): boolean {
    if (held.revoked || held !== slot.recent[0]) return false;
    const random = this.random();
    if (!mayDropUnchecked(slot, this.clock.now(), random)) return false;
    this.kill(slot, held, rejectedSentAt, reason, { checked: false, random });
    return true;
  }

  /**
   * A check confirmed that Vidispine no longer takes this token, or (`checked: false`) the
   * server could not check a 401 on it. `random` is the draw for the replacement's backoff.
   */
  private kill(
    slot: UserSlot,
    held: HeldToken,
    rejectedSentAt: number,
    reason: string | undefined,
    { checked, random }: { checked: boolean; random: number },
  ): void {
    if (held.revoked) return;
    held.revoked = true;
    const current = held === slot.recent[0];
    // Decided before it is told, so the event says what will happen: the backoff may hold
    // the replacement back, and a token a renewal already replaced needs none.
    const retryInMs = current
      ? planReplacement(slot, held, { now: this.clock.now(), random, confirmed: checked })
      : null;
    this.events.emit('invalidated', {
      user: slot.user.name,
      cause: checked ? 'unauthorized' : 'unauthorized_unchecked',
      reason,
      retryInMs,
    });
    if (checked) slot.lifetime.died(held, rejectedSentAt, this.clock.now());
    if (!current || this.stopped || slot.inFlight) return;
    if (retryInMs === 0) this.refreshInBackground(slot);
    else this.renewals.schedule(slot, undefined);
  }
}
