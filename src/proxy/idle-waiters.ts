/**
 * Those waiting for what a listener has in flight to end (its close waits for the requests
 * and the upgrades it received): each counts its own, and says when it reached none.
 */
export class IdleWaiters {
  private waiters: (() => void)[] = [];

  /** Resolves at once when `inFlight` is 0, else when `idle` is next called. */
  wait(inFlight: number): Promise<void> {
    if (inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Nothing is in flight any more: every wait ends. */
  idle(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const resolve of waiters) resolve();
  }
}
