/** Time and timers, injectable so tests run renewals and backoff without waiting. */
export interface Clock {
  now(): number;
  /** Calls `fn` after `ms`, however long: delays beyond Node's timer limit are safe. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * Node fires a timer longer than 2^31 − 1 ms (24.8 days) after 1 ms instead, with a warning —
 * so a year-long token would renew in a loop. Longer waits are chained in pieces of this size.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer that may outlast `MAX_TIMER_MS`; `cancel` stops whichever piece is pending. */
class LongTimer {
  private handle: NodeJS.Timeout | undefined;

  constructor(
    private readonly fn: () => void,
    private readonly at: number,
  ) {
    this.arm();
  }

  cancel(): void {
    clearTimeout(this.handle);
    this.handle = undefined;
  }

  private arm(): void {
    const left = Math.max(0, this.at - Date.now());
    // unref: a pending renewal alone never keeps the process alive.
    this.handle = setTimeout(
      () => (left > MAX_TIMER_MS ? this.arm() : this.fn()),
      Math.min(left, MAX_TIMER_MS),
    ).unref();
  }
}

/** Real time. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => new LongTimer(fn, Date.now() + (ms > 0 ? ms : 0)),
  clearTimeout: (handle) => (handle as LongTimer | undefined)?.cancel(),
};
