import { MAX_TIMER_MS, systemClock } from '../../src/tokens/clock';
import { createTokenStore } from '../../src/tokens/store';
import type { TokenMinter, TokenStore } from '../../src/tokens/types';
import { password, userConfig } from '../support/config-fixtures';

describe('systemClock timers', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('waits the whole of a delay longer than Node can hold in one timer', () => {
    const fired = jest.fn();
    const warnings = jest.fn();
    process.on('warning', warnings);
    try {
      const yearMs = 365 * 24 * 3600 * 1000;
      systemClock.setTimeout(fired, yearMs);
      jest.advanceTimersByTime(MAX_TIMER_MS);
      expect(fired).not.toHaveBeenCalled();
      jest.advanceTimersByTime(yearMs - MAX_TIMER_MS - 1);
      expect(fired).not.toHaveBeenCalled();
      jest.advanceTimersByTime(1);
      expect(fired).toHaveBeenCalledTimes(1);
      jest.advanceTimersByTime(yearMs);
      expect(fired).toHaveBeenCalledTimes(1);
      expect(warnings).not.toHaveBeenCalled();
    } finally {
      process.off('warning', warnings);
    }
  });

  it('cancels a long timer whichever piece is pending', () => {
    const fired = jest.fn();
    const handle = systemClock.setTimeout(fired, 3 * MAX_TIMER_MS);
    jest.advanceTimersByTime(MAX_TIMER_MS + 5);
    systemClock.clearTimeout(handle);
    jest.advanceTimersByTime(3 * MAX_TIMER_MS);
    expect(fired).not.toHaveBeenCalled();
  });

  it('fires a timer whose time came while the machine was suspended as soon as the clock is read', () => {
    const fired = jest.fn();
    systemClock.setTimeout(fired, 10_000);
    jest.setSystemTime(Date.now() + 3600_000);
    systemClock.now();
    jest.advanceTimersByTime(0);
    expect(fired).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(10_000);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('fires a long timer once, and cancels it, when the wall clock jumps before its first piece ends', () => {
    const hourMs = 3600_000;
    const fired = jest.fn();
    systemClock.setTimeout(fired, MAX_TIMER_MS + 2 * hourMs);
    const cancelled = jest.fn();
    const handle = systemClock.setTimeout(cancelled, MAX_TIMER_MS + 2 * hourMs);
    // Resumed after an hour suspended, with nothing reading the clock before the first piece ends.
    jest.setSystemTime(Date.now() + hourMs);
    jest.advanceTimersByTime(MAX_TIMER_MS);
    systemClock.clearTimeout(handle);
    jest.advanceTimersByTime(hourMs - 1);
    expect(fired).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    jest.advanceTimersByTime(3 * hourMs);
    expect(fired).toHaveBeenCalledTimes(1);
    expect(cancelled).not.toHaveBeenCalled();
  });

  it('fires a timer once when its own wake is the first look at the clock after a jump', () => {
    const fired = jest.fn();
    systemClock.setTimeout(fired, 10_000);
    // Resumed after an hour suspended; nothing reads the clock until the timer's wake.
    jest.setSystemTime(Date.now() + 3600_000);
    jest.advanceTimersByTime(10_000);
    expect(fired).toHaveBeenCalledTimes(1);
    jest.advanceTimersByTime(10_000);
    expect(fired).toHaveBeenCalledTimes(1);
  });

  it('re-arms the other timers when a wake sees a jump: each runs once, one cancelled by that wake never', () => {
    const first = jest.fn();
    const second = jest.fn();
    const cancelled = jest.fn();
    const handle = systemClock.setTimeout(cancelled, 30_000);
    systemClock.setTimeout(() => {
      first();
      // Armed again for 0 ms by this wake's look at the clock, just before this call.
      systemClock.clearTimeout(handle);
    }, 10_000);
    systemClock.setTimeout(second, 20_000);
    jest.setSystemTime(Date.now() + 3600_000);
    jest.advanceTimersByTime(10_000);
    // Node runs a 0 ms timer after at least 1 ms.
    jest.advanceTimersByTime(1);
    expect([first, second, cancelled].map((fn) => fn.mock.calls.length)).toEqual([1, 1, 0]);
    jest.advanceTimersByTime(3600_000);
    expect([first, second, cancelled].map((fn) => fn.mock.calls.length)).toEqual([1, 1, 0]);
  });

  it('runs short and negative delays as soon as possible', () => {
    const fired = jest.fn();
    systemClock.setTimeout(fired, -5);
    systemClock.setTimeout(fired, 10);
    jest.advanceTimersByTime(10);
    expect(fired).toHaveBeenCalledTimes(2);
  });
});

describe('token lifetimes against steps of the wall clock', () => {
  const HOUR = 3600_000;
  let store: TokenStore | undefined;

  beforeEach(() => jest.useFakeTimers());
  afterEach(() => {
    store?.stop();
    store = undefined;
    jest.useRealTimers();
  });

  /** A store on the real clock; its minter stamps `sentAt` as the HTTP minter does. */
  async function holding(seconds: number): Promise<{ store: TokenStore; mints: () => number }> {
    let serial = 0;
    const minter: TokenMinter = {
      endpoint: 'token',
      mint: () => {
        serial += 1;
        return Promise.resolve({ value: `tok-${serial}`, sentAt: systemClock.now(), seconds });
      },
    };
    const s = createTokenStore({
      users: [
        userConfig('alice', {
          credential: password('alice', 'unused'),
          token: { seconds, safetyMarginSeconds: 1 },
        }),
      ],
      minterFor: () => minter,
      checker: { check: () => Promise.resolve('alive') },
      random: () => 0.5,
    });
    store = s;
    s.start();
    await jest.advanceTimersByTimeAsync(0);
    return { store: s, mints: () => serial };
  }

  it('renews on time, and hands out no token past its life, after the wall clock steps back', async () => {
    const { store: s, mints } = await holding(10);
    expect(s.current('alice')?.value).toBe('tok-1');
    jest.setSystemTime(Date.now() - HOUR);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(mints()).toBe(2);
    expect(s.current('alice')?.value).toBe('tok-2');
    // What people and Prometheus read is wall-clock time, whatever the step.
    const [view] = s.status();
    expect(view.expiresAt).toBeGreaterThan(Date.now());
    expect(view.expiresAt).toBeLessThanOrEqual(Date.now() + 10_000);
  });

  it('hands out no token whose life ended while the machine was suspended, and renews it at once', async () => {
    const { store: s, mints } = await holding(10);
    expect(s.current('alice')?.value).toBe('tok-1');
    // Resumed an hour later: the wall clock jumps by the suspend, the monotonic clock (which
    // Node's timers and performance.now() run on) does not count it.
    jest.setSystemTime(Date.now() + HOUR);
    expect(s.current('alice')).toBeUndefined();
    expect(s.status()[0]).toMatchObject({ state: 'expired' });
    await jest.advanceTimersByTimeAsync(0);
    expect(mints()).toBe(2);
    expect(s.current('alice')?.value).toBe('tok-2');
    const [view] = s.status();
    expect(view).toMatchObject({ state: 'valid' });
    expect(view.expiresAt).toBeGreaterThan(Date.now());
    expect(view.expiresAt).toBeLessThanOrEqual(Date.now() + 10_000);
  });

  it('counts a forward step of the wall clock as time passed, never a backward one', async () => {
    const { store: s, mints } = await holding(10);
    jest.setSystemTime(Date.now() + 5_000);
    await jest.advanceTimersByTimeAsync(0);
    // 5 s of a 10 s token (1 s margin) are gone: usable 4 s more, renewed within them.
    expect(s.current('alice')?.usableUntil).toBe(s.now() + 4_000);
    jest.setSystemTime(Date.now() - HOUR);
    expect(s.current('alice')?.usableUntil).toBe(s.now() + 4_000);
    await jest.advanceTimersByTimeAsync(4_000);
    expect(mints()).toBe(2);
  });
});

describe('systemClock timers in real time', () => {
  it('never fires a timer before its instant on now(), though Node fires on the loop’s cached time', async () => {
    // Node starts a timer from the event loop's cached time, so work done since the loop last
    // looked at the clock makes it fire early: a renewal's wake for a token's last usable
    // instant then found the token still usable and let its lapse go unannounced.
    const early: number[] = [];
    const one = (ms: number): Promise<void> =>
      new Promise((resolve) => {
        const busyUntil = performance.now() + 2;
        while (performance.now() < busyUntil);
        const at = systemClock.now() + ms;
        systemClock.setTimeout(() => {
          const left = at - systemClock.now();
          if (left > 0) early.push(left);
          resolve();
        }, ms);
      });
    await Promise.all([3.7, 5.2, 10.3, 20.9].flatMap((ms) => [one(ms), one(ms + 0.5)]));
    for (let round = 0; round < 5; round++) await Promise.all([one(4.3), one(7.1)]);
    expect(early).toEqual([]);
  });
});
