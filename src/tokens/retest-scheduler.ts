import type { CheckRunner } from './check-runner';
import type { Clock } from './clock';
import { type HeldToken, surelyExistedFrom } from './held-token';
import type { LearnedLifetime } from './learned-lifetime';

/**
 * A token just retired by a renewal is checked just past the age its predecessors died at:
 * accepted, those deaths were removals or the cap has been raised since, and the configured
 * lifetime comes back (a cap raised part of the way is learned anew); refused, the next test
 * waits longer (1 min doubling to 1 h). The timers of re-tests end with `stopping`.
 */
export class RetestScheduler {
  /** Timers of re-tests waiting for their token's age. */
  private readonly timers = new Set<unknown>();

  constructor(
    private readonly clock: Clock,
    private readonly checks: CheckRunner,
    private readonly stopping: AbortSignal,
  ) {
    stopping.addEventListener('abort', () => {
      for (const timer of this.timers) this.clock.clearTimeout(timer);
      this.timers.clear();
    });
  }

  /** `retired` was just replaced by a renewal: a re-test of `lifetime` with it, if one is due. */
  plan(lifetime: LearnedLifetime, retired: HeldToken): void {
    const now = this.clock.now();
    const ageMs = lifetime.startRetest(now);
    if (ageMs === undefined) return;
    // The token surely existed from here: a lower bound of its age at the check.
    const born = surelyExistedFrom(retired);
    this.later(born + ageMs - now, () => void this.retest(lifetime, retired, born));
  }

  private async retest(lifetime: LearnedLifetime, retired: HeldToken, born: number): Promise<void> {
    const sentAt = this.clock.now();
    const result = await this.checks.ask(retired.value);
    if (this.stopping.aborted) return;
    lifetime.retested(result, sentAt - born, this.clock.now());
  }

  private later(ms: number, fn: () => void): void {
    const handle = this.clock.setTimeout(
      () => {
        this.timers.delete(handle);
        if (!this.stopping.aborted) fn();
      },
      Math.max(0, ms),
    );
    this.timers.add(handle);
  }
}
