import { type Clock, systemClock } from '../../src/tokens/clock';
import { settle } from './wait';

/**
 * Real time as the proxy counts it: epoch milliseconds on the monotonic clock, which a step
 * back of the machine's wall clock does not move. A test that compares the proxy's modelled
 * expiry with the simulator's, in real time, gives both this timeline; with `Date.now` on
 * one side, a step (NTP, a VM snapshot) in mid-test would show as a difference the proxy did
 * not make.
 */
export const steadyNow = systemClock.now;

/** The proxy's real clock, showing its instants on `steadyNow`'s timeline. */
export const steadyClock: Clock = { ...systemClock, wall: (at) => at };

/** A clock whose time moves only when a test says so; due timers fire in order. */
export class ManualClock implements Clock {
  private time: number;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 1_000_000_000) {
    this.time = start;
  }

  now = (): number => this.time;

  /** Its time is the wall clock's too. */
  wall = (at: number): number => at;

  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };

  /** Due times of pending timers, earliest first. */
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, firing each timer at its own instant and settling after it. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    await settle();
    for (;;) {
      const due = [...this.timers.entries()]
        .filter(([, t]) => t.at <= end)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].fn();
      await settle();
    }
    this.time = end;
    await settle();
  }

  /** Advances to an absolute instant. */
  advanceTo(at: number): Promise<void> {
    return this.advance(at - this.time);
  }
}
