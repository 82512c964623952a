/** Time and timers, injectable so tests run renewals and backoff without waiting. */
export interface Clock {
  /**
   * Milliseconds on a clock that moves only with elapsed time: token lifetimes, renewals and
   * backoff are counted on it, so a step of the wall clock (an NTP correction, a `date -s`)
   * neither keeps a dead token in use nor throws a live one away.
   */
  now(): number;
  /** The wall-clock time (epoch ms) of the instant `at` of `now()`: what people and Prometheus read. */
  wall(at: number): number;
  /** Calls `fn` after `ms`, however long: delays beyond Node's timer limit are safe. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/**
 * Node fires a timer longer than 2^31 − 1 ms (24.8 days) after 1 ms instead, with a warning —
 * so a year-long token would renew in a loop. Longer waits are chained in pieces of this size.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Elapsed time since the process started, on the epoch scale it started at: Node's timers run
 * on the same monotonic clock, and the values read like the epoch ms they were at the start.
 */
const monotonicNow = (): number => performance.timeOrigin + performance.now();

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
    const left = Math.max(0, this.at - monotonicNow());
    // unref: a pending renewal alone never keeps the process alive.
    this.handle = setTimeout(
      () => (left > MAX_TIMER_MS ? this.arm() : this.fn()),
      Math.min(left, MAX_TIMER_MS),
    ).unref();
  }
}

/** Real time: monotonic for lifetimes, the wall clock of the moment for what is shown. */
export const systemClock: Clock = {
  now: monotonicNow,
  wall: (at) => at + (Date.now() - monotonicNow()),
  setTimeout: (fn, ms) => new LongTimer(fn, monotonicNow() + (ms > 0 ? ms : 0)),
  clearTimeout: (handle) => (handle as LongTimer | undefined)?.cancel(),
};
