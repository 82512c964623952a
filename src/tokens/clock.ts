/** Time and timers, injectable so tests run renewals and backoff without waiting. */
export interface Clock {
  /**
   * Milliseconds on a clock that never goes back and never falls behind elapsed time: token
   * lifetimes, renewals and backoff are counted on it, so no step of the wall clock, and no
   * suspend of the machine, keeps a dead token in use.
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

/**
 * A jump of the wall clock against the monotonic one by more than this is a step or a
 * suspend; less is left alone (ms-level NTP steps, the clocks' resolutions).
 */
const JUMP_MS = 100;
/** Reads of the two clocks further apart than this are too far apart to compare. */
const READ_SLACK_MS = 10;

/**
 * The monotonic clock stops while the machine is suspended (CLOCK_MONOTONIC, which Node's
 * timers also run on), and Vidispine's clock does not: after a resume only the wall clock,
 * which the kernel or NTP sets right, shows the time that passed. The proxy cannot tell that
 * jump from a forward step of the wall clock, so it counts both as time passed — one early
 * mint after a step, where ignoring a suspend would hand out tokens that died during it. A
 * backward step is never counted. `counted`: ms of such jumps; `lead`: where the wall clock
 * stood against the monotonic one at the last jump (or the start).
 */
let counted = 0;
let lead = Date.now() - monotonicNow();

/** Timers waiting, re-armed when a jump is counted: what they wait for may have come. */
const pending = new Set<LongTimer>();

/** Elapsed time, with any suspend the wall clock has shown since the last look. */
function steadyNow(): number {
  // The wall clock read between two reads of the monotonic one: a pause between them (a
  // busy machine, a throttled container) would look like a jump, so that look is skipped.
  const before = monotonicNow();
  const wall = Date.now();
  const mono = monotonicNow();
  if (mono - before > READ_SLACK_MS) return mono + counted;
  const ahead = wall - mono;
  if (ahead > lead + JUMP_MS) {
    counted += ahead - lead;
    lead = ahead;
    for (const timer of pending) timer.rearm();
  } else if (ahead < lead - JUMP_MS) {
    lead = ahead;
  }
  return mono + counted;
}

/**
 * A timer that may outlast `MAX_TIMER_MS`; `cancel` stops whichever piece is pending. Its
 * instant is on `steadyNow`, so a suspend that passed it makes it fire at the next look.
 */
class LongTimer {
  private handle: NodeJS.Timeout | undefined;

  constructor(
    private readonly fn: () => void,
    private readonly at: number,
  ) {
    this.arm(at - monotonicNow() - counted);
  }

  cancel(): void {
    clearTimeout(this.handle);
    this.handle = undefined;
    pending.delete(this);
  }

  /** Arms again for what is left now that a jump was counted. */
  rearm(): void {
    this.arm(this.at - monotonicNow() - counted);
  }

  private arm(leftMs: number): void {
    const left = Math.max(0, leftMs);
    // One piece pending at a time: the look at the clock that arms the next piece may have
    // seen a jump and re-armed this timer already, and a piece left behind could not be
    // cancelled and would fire it twice.
    clearTimeout(this.handle);
    pending.add(this);
    // unref: a pending renewal alone never keeps the process alive.
    this.handle = setTimeout(() => this.fire(left), Math.min(left, MAX_TIMER_MS)).unref();
  }

  private fire(left: number): void {
    // Out of `pending` before the look at the clock: a jump that look counts would arm this
    // timer again, and that piece would call `fn` a second time after this one.
    pending.delete(this);
    this.handle = undefined;
    const now = steadyNow();
    // Node starts a timer from the event loop's cached time, which lags behind by whatever ran
    // since the loop last looked, so a timer can fire a little before its instant. A wake for
    // a token's last usable instant would then find the token still usable: wait out the rest.
    if (left > MAX_TIMER_MS || now < this.at) {
      this.arm(this.at - now);
      return;
    }
    this.fn();
  }
}

/** Real time: elapsed (suspends included) for lifetimes, the wall clock of the moment for what is shown. */
export const systemClock: Clock = {
  now: steadyNow,
  wall: (at) => at + (Date.now() - steadyNow()),
  setTimeout: (fn, ms) => new LongTimer(fn, steadyNow() + (ms > 0 ? ms : 0)),
  clearTimeout: (handle) => (handle as LongTimer | undefined)?.cancel(),
};
