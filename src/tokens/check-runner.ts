import type { Clock } from './clock';
import type { TokenEventBus } from './events';
import type { HeldToken, PendingCheck } from './held-token';
import type { TokenCheck, TokenChecker } from './types';
import type { UserSlot } from './user-slot';

/** At most one check (GET /API/whoami) of a token in this window. */
export const CHECK_INTERVAL_MS = 1_000;

/** What a check of a rejected token was about, for the store to act on its answer. */
export interface CheckedRejection {
  /** When the check was sent. */
  readonly sentAt: number;
  /** Earliest send time of the rejected requests it answers. */
  readonly rejectedSentAt: number;
  /** The first `Reason:` header among them (token blanked out). */
  readonly reason: string | undefined;
}

/** What the store does with a check's answer, before observers hear of it. */
export type CheckSettler = (
  slot: UserSlot,
  held: HeldToken,
  result: TokenCheck,
  check: CheckedRejection,
) => void;

/**
 * Asks Vidispine whether a token still works (GET /API/whoami), for 401s and for re-tests of
 * a learned lifetime, and reports each check of a rejected token (`checked`). Every check
 * under way ends with `stopping`: a stopped store waits for no answer.
 */
export class CheckRunner {
  constructor(
    private readonly checker: TokenChecker,
    private readonly clock: Clock,
    private readonly events: TokenEventBus,
    private readonly stopping: AbortSignal,
    private readonly settle: CheckSettler,
  ) {}

  /** The checker's answer for `value`: 'unknown' when it fails or the store stops. */
  ask(value: string): Promise<TokenCheck> {
    return this.checker.check(value, this.stopping).catch((): TokenCheck => 'unknown');
  }

  /**
   * The verdict on a 401 for the current token. A check sent after the 401 arrived is proof
   * either way, since a token never comes back to life; every 401 that arrives while it is
   * under way shares it. At most one check of a token starts per `CHECK_INTERVAL_MS`: a 401
   * in between, with no check under way, is passed on at once (the token answered a check
   * less than a second ago), so a client that provokes 401s costs Vidispine one
   * GET /API/whoami a second and waits for nothing, and a token that really died is caught
   * by the next check. (Only the current token is checked; a new one, which the store mints
   * only within its budget of replacements, may be checked at once.)
   */
  join(
    slot: UserSlot,
    held: HeldToken,
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
      pending.result = this.run(slot, held, pending);
    }
    pending.rejectedSentAt = Math.min(pending.rejectedSentAt, sentAt);
    pending.reason ??= reason;
    return pending.result;
  }

  private async run(slot: UserSlot, held: HeldToken, pending: PendingCheck): Promise<TokenCheck> {
    const sentAt = this.clock.now();
    // Vidispine may take the token for the check, and push its expiry, before a request
    // answered while the check runs: the check is in flight like a request.
    held.inFlight?.add(sentAt);
    const result = await this.ask(held.value);
    held.inFlight?.remove(sentAt);
    if (held.check === pending) held.check = undefined;
    if (this.stopping.aborted) return 'unknown';
    this.settle(slot, held, result, {
      sentAt,
      rejectedSentAt: pending.rejectedSentAt,
      reason: pending.reason,
    });
    this.events.emit('checked', {
      user: slot.user.name,
      result,
      reason: pending.reason,
      dropped: held.revoked,
    });
    return result;
  }
}
