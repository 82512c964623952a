import type { Clock } from './clock';
import type { TokenEventBus } from './events';
import { type HeldToken, isUsable } from './held-token';
import type { UserSlot } from './user-slot';

/**
 * One timer per user, at the earliest of: retry, renewal, the current token's last usable
 * instant. While a mint is under way only the last: a slow renewal does not hold back the
 * `expired` event, and the mint's end plans what comes next. The timers end with `stopping`.
 */
export class RenewalTimer {
  private readonly timers = new Map<UserSlot, unknown>();

  constructor(
    private readonly clock: Clock,
    private readonly events: TokenEventBus,
    private readonly stopping: AbortSignal,
    /** Starts the mint (coalesced) when a retry or renewal is due. */
    private readonly renew: (slot: UserSlot) => void,
  ) {
    stopping.addEventListener('abort', () => {
      for (const timer of this.timers.values()) this.clock.clearTimeout(timer);
      this.timers.clear();
    });
  }

  /** Plans the user's next wake for `held`, its current token (none: only a retry). */
  schedule(slot: UserSlot, held: HeldToken | undefined): void {
    this.clock.clearTimeout(this.timers.get(slot));
    this.timers.delete(slot);
    if (this.stopping.aborted) return;
    const now = this.clock.now();
    const live = held !== undefined && isUsable(held, now) ? held : undefined;
    const wakes: number[] = [];
    if (!slot.inFlight && slot.retryAt !== null) wakes.push(slot.retryAt);
    else if (!slot.inFlight && live) wakes.push(live.renewAt);
    if (live) wakes.push(live.usableUntil);
    if (wakes.length === 0) return;
    const wake = Math.min(...wakes);
    this.timers.set(
      slot,
      this.clock.setTimeout(() => this.tick(slot), Math.max(0, wake - now)),
    );
  }

  private tick(slot: UserSlot): void {
    this.timers.delete(slot);
    if (this.stopping.aborted) return;
    const now = this.clock.now();
    const held = slot.recent[0];
    if (held && !held.revoked && now >= held.usableUntil && !slot.expiredNotified) {
      slot.expiredNotified = true;
      this.events.emit('expired', { user: slot.user.name });
    }
    if (slot.inFlight) return;
    const renewing = slot.retryAt === null && held !== undefined && now >= held.renewAt;
    // A token that lived to its renewal ends a run of early deaths, checked or not.
    if (renewing && !held.revoked) {
      slot.deaths = 0;
      slot.lost = 0;
      slot.unchecked = 0;
    }
    const due = slot.retryAt !== null ? now >= slot.retryAt : renewing;
    if (due) this.renew(slot);
    else this.schedule(slot, held);
  }
}
