import type { Clock } from './clock';
import type { TokenEventBus } from './events';
import { type HeldToken, heldFromMint, isUsable, setLife } from './held-token';
import type { RenewalTimer } from './renewal-timer';
import type { RetestScheduler } from './retest-scheduler';
import { MintError, type MintedToken, type NoTokenError } from './types';
import {
  describeMintFailure,
  marginMsFor,
  mintFailedError,
  recordMinted,
  recordMintFailure,
  stoppedError,
  type UserSlot,
} from './user-slot';

/**
 * One mint of a user's token, the cache's `fetchMethod` (so the cache coalesces them), and
 * what its outcome changes: the token held, the backoff, the next wake of the renewal timer,
 * a re-test of the lifetime with the token it replaced, and what observers are told
 * (`minted`, `mintFailed`).
 */
export class MintRunner {
  constructor(
    private readonly clock: Clock,
    /** Draws in [0, 1) for jitter. */
    private readonly random: () => number,
    private readonly events: TokenEventBus,
    private readonly stopping: AbortSignal,
    private readonly renewals: RenewalTimer,
    private readonly retests: RetestScheduler,
  ) {}

  /** One HTTP mint plus its bookkeeping; rejects with NoTokenError. */
  async mint(slot: UserSlot, signal: AbortSignal): Promise<HeldToken> {
    const previous = slot.recent[0];
    slot.inFlight = true;
    this.renewals.schedule(slot, previous);
    const started = this.clock.now();
    slot.lastMintAt = started;
    let held: HeldToken | undefined;
    try {
      const token = await slot.minter.mint(signal);
      if (signal.aborted) throw signal.reason;
      held = this.accept(slot, token, started, previous);
      return held;
    } catch (err) {
      if (this.stopping.aborted || signal.aborted) throw stoppedError(slot.user.name);
      throw this.fail(slot, err, started, previous);
    } finally {
      slot.inFlight = false;
      if (!this.stopping.aborted) this.renewals.schedule(slot, held ?? previous);
    }
  }

  private accept(
    slot: UserSlot,
    token: MintedToken,
    started: number,
    previous: HeldToken | undefined,
  ): HeldToken {
    const now = this.clock.now();
    const lifetimeMs = Math.min(token.seconds, slot.lifetime.effectiveSeconds) * 1000;
    const held = heldFromMint(token, now, {
      lifetimeMs,
      marginMs: marginMsFor(slot.user, lifetimeMs / 1000),
      autoRefresh: slot.user.token.autoRefresh,
    });
    setLife(held, token.sentAt, token.sentAt + lifetimeMs, this.random());
    if (now >= held.usableUntil) {
      throw new MintError(
        'timeout',
        `the token for "${slot.user.name}" took ${((now - started) / 1000).toFixed(1)} s to arrive and was no longer usable`,
      );
    }
    recordMinted(slot, held, now);
    this.events.emit('minted', {
      user: slot.user.name,
      endpoint: slot.minter.endpoint,
      seconds: lifetimeMs / 1000,
      durationSeconds: (now - started) / 1000,
      expiresAt: this.clock.wall(held.expiresAt),
    });
    if (previous !== undefined && !previous.revoked) this.retests.plan(slot.lifetime, previous);
    return held;
  }

  private fail(
    slot: UserSlot,
    err: unknown,
    started: number,
    previous: HeldToken | undefined,
  ): NoTokenError {
    const now = this.clock.now();
    const failure = describeMintFailure(err, slot.minter.endpoint);
    const timeLeftMs = previous && isUsable(previous, now) ? previous.usableUntil - now : 0;
    const delay = recordMintFailure(slot, failure, { now, timeLeftMs, random: this.random() });
    this.events.emit('mintFailed', {
      user: slot.user.name,
      endpoint: failure.endpoint,
      reason: failure.reason,
      message: failure.message,
      durationSeconds: (now - started) / 1000,
      retryInMs: delay,
    });
    return mintFailedError(slot, failure, delay);
  }
}
