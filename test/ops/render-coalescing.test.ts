import { CoalescedRender, RENDER_INTERVAL_MS, renderDelay } from '../../src/ops/render-coalescing';

describe('renderDelay', () => {
  it('lets the first render start at once', () => {
    expect(renderDelay(1000, undefined, 50)).toBe(0);
  });

  it('holds a render until the interval after the last one ended has passed', () => {
    expect(renderDelay(1000, 1000, 50)).toBe(50);
    expect(renderDelay(1030, 1000, 50)).toBe(20);
    expect(renderDelay(1049, 1000, 50)).toBe(1);
  });

  it('lets it start at once from the end of the interval on', () => {
    expect(renderDelay(1050, 1000, 50)).toBe(0);
    expect(renderDelay(9000, 1000, 50)).toBe(0);
  });

  it('never waits longer than the interval, whatever the clock did', () => {
    expect(renderDelay(900, 1000, 50)).toBe(50);
  });
});

/**
 * A registry stand-in whose renders the test finishes: each render's text says what its
 * `events` counter held when the render started, and which render it was.
 */
function source() {
  const s = {
    events: 0,
    renders: 0,
    finish: [] as Array<(ok: boolean) => void>,
    render: (): Promise<string> => {
      s.renders += 1;
      const text = `events ${s.events} render ${s.renders}\n`;
      return new Promise((resolve, reject) => {
        s.finish.push((ok) => (ok ? resolve(text) : reject(new Error('collect failed'))));
      });
    },
    /** Ends the oldest render still running. */
    end(ok = true): Promise<void> {
      const next = s.finish.shift();
      if (next === undefined) throw new Error('no render is running');
      next(ok);
      return flush();
    },
  };
  return s;
}

/** Lets the promise callbacks of an ended render run. */
const flush = (): Promise<void> => jest.advanceTimersByTimeAsync(0);

describe('CoalescedRender', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('renders a lone scrape at once', async () => {
    const s = source();
    const renders = new CoalescedRender(s.render);
    s.events = 3;
    const text = renders.text();
    expect(s.renders).toBe(1);
    await s.end();
    await expect(text).resolves.toBe('events 3 render 1\n');
  });

  it('gives the scrapes of one interval one render, started after the last of them arrived', async () => {
    const s = source();
    const renders = new CoalescedRender(s.render);
    const first = renders.text();
    await s.end();
    await expect(first).resolves.toBe('events 0 render 1\n');

    const waiting: Array<Promise<string | undefined>> = [];
    for (let i = 1; i <= 10; i += 1) {
      s.events = i;
      waiting.push(renders.text());
      await jest.advanceTimersByTimeAsync(4);
    }
    // 40 ms after the last render ended: none started yet.
    expect(s.renders).toBe(1);
    await jest.advanceTimersByTimeAsync(RENDER_INTERVAL_MS - 41);
    expect(s.renders).toBe(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(s.renders).toBe(2);
    await s.end();
    // Every one of them shows the event that happened last, just before the last scrape.
    expect(await Promise.all(waiting)).toEqual(Array(10).fill('events 10 render 2\n'));
  });

  it('never hands a scrape the text of a render that started before it arrived', async () => {
    const s = source();
    const renders = new CoalescedRender(s.render);
    const early = renders.text();
    s.events = 1;
    // Arrives while the first render runs, after an event that render may not show.
    const late = renders.text();
    expect(s.renders).toBe(1);
    await s.end();
    await expect(early).resolves.toBe('events 0 render 1\n');

    await jest.advanceTimersByTimeAsync(RENDER_INTERVAL_MS);
    expect(s.renders).toBe(2);
    await s.end();
    await expect(late).resolves.toBe('events 1 render 2\n');
  });

  it('counts the interval from the end of a render, so slow renders never run back to back', async () => {
    const s = source();
    const renders = new CoalescedRender(s.render);
    void renders.text();
    await jest.advanceTimersByTimeAsync(RENDER_INTERVAL_MS * 3);
    const waiting = renders.text();
    expect(s.renders).toBe(1);
    await s.end();
    // The interval counts from the end of a render: CPU is bounded however long one takes.
    expect(s.renders).toBe(1);
    await jest.advanceTimersByTimeAsync(RENDER_INTERVAL_MS - 1);
    expect(s.renders).toBe(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(s.renders).toBe(2);
    await s.end();
    await expect(waiting).resolves.toBe('events 0 render 2\n');
  });

  it('renders at once again once an interval passed without a render', async () => {
    const s = source();
    const renders = new CoalescedRender(s.render);
    void renders.text();
    await s.end();
    await jest.advanceTimersByTimeAsync(RENDER_INTERVAL_MS);
    s.events = 7;
    const text = renders.text();
    expect(s.renders).toBe(2);
    await s.end();
    await expect(text).resolves.toBe('events 7 render 2\n');
  });

  it('drops a waiting scrape whose client left, and skips a render no one waits for', async () => {
    const s = source();
    const renders = new CoalescedRender(s.render);
    void renders.text();
    await s.end();

    const left = new AbortController();
    const stays = new AbortController();
    const gone = renders.text(left.signal);
    const kept = renders.text(stays.signal);
    left.abort();
    await expect(gone).resolves.toBeUndefined();
    await jest.advanceTimersByTimeAsync(RENDER_INTERVAL_MS);
    expect(s.renders).toBe(2);
    await s.end();
    await expect(kept).resolves.toBe('events 0 render 2\n');

    const alone = new AbortController();
    const lone = renders.text(alone.signal);
    alone.abort();
    await expect(lone).resolves.toBeUndefined();
    await jest.advanceTimersByTimeAsync(RENDER_INTERVAL_MS * 10);
    expect(s.renders).toBe(2);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('answers undefined at once to a client gone before it asked', async () => {
    const s = source();
    const renders = new CoalescedRender(s.render);
    await expect(renders.text(AbortSignal.abort())).resolves.toBeUndefined();
    expect(s.renders).toBe(0);
  });

  it('drops a scrape whose client left during its render, and still answers the others', async () => {
    const s = source();
    const renders = new CoalescedRender(s.render);
    const left = new AbortController();
    const gone = renders.text(left.signal);
    left.abort();
    await expect(gone).resolves.toBeUndefined();
    // The render had started: it ends as usual and the interval counts from its end.
    await s.end();
    const next = renders.text();
    expect(s.renders).toBe(1);
    await jest.advanceTimersByTimeAsync(RENDER_INTERVAL_MS);
    await s.end();
    await expect(next).resolves.toBe('events 0 render 2\n');
  });

  it('fails every scrape that shared a failed render, and renders anew for the next', async () => {
    const s = source();
    const renders = new CoalescedRender(s.render);
    void renders.text();
    await s.end();
    const a = renders.text();
    const b = renders.text();
    await jest.advanceTimersByTimeAsync(RENDER_INTERVAL_MS);
    await s.end(false);
    await expect(a).rejects.toThrow('collect failed');
    await expect(b).rejects.toThrow('collect failed');

    const after = renders.text();
    await jest.advanceTimersByTimeAsync(RENDER_INTERVAL_MS);
    await s.end();
    await expect(after).resolves.toBe('events 0 render 3\n');
  });

  it('fails the scrapes of a render that throws instead of rejecting, and keeps going', async () => {
    let throws = true;
    const renders = new CoalescedRender(() => {
      if (throws) throw new Error('registry broken');
      return Promise.resolve('up 1\n');
    });
    await expect(renders.text()).rejects.toThrow('registry broken');
    throws = false;
    const next = renders.text();
    await jest.advanceTimersByTimeAsync(RENDER_INTERVAL_MS);
    await expect(next).resolves.toBe('up 1\n');
  });
});
