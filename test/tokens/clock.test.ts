import { MAX_TIMER_MS, systemClock } from '../../src/tokens/clock';

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

  it('runs short and negative delays as soon as possible', () => {
    const fired = jest.fn();
    systemClock.setTimeout(fired, -5);
    systemClock.setTimeout(fired, 10);
    jest.advanceTimersByTime(10);
    expect(fired).toHaveBeenCalledTimes(2);
  });
});
