/**
 * Renders of `/metrics`, coalesced. A render of the registry costs about a millisecond of
 * the one thread that also serves the data listeners, and the ops listener is open to
 * anyone who reaches the pod: 780 scrapes a second took 57–63 % of a core, and the data
 * listener's p99 for small GETs went from 5.5–7.1 ms to 12–31 ms. Bounding connections does
 * not bound renders.
 *
 * So a scrape never starts a render of its own within `interval` ms of the end of the last
 * one: it waits for the next render, which starts `interval` ms after the last one ended,
 * and every scrape waiting for it shares its text. That caps the share of the thread renders
 * take at render / (render + interval), whatever the render costs and however many scrapes
 * come. Nothing is ever served stale: a scrape only takes the text of a render that started
 * after it arrived, so it shows every event before it; a render already under way when it
 * arrives is not its to share. A scrape that comes while none ran in the last `interval` ms
 * (Prometheus, every few seconds) is rendered at once, as before.
 */

/**
 * 50 ms: at most ~20 renders a second (~2 % of a core); a scrape waits at most 50 ms before
 * its render starts, besides the rest of a render already under way when it came.
 */
export const RENDER_INTERVAL_MS = 50;

/**
 * How long a scrape arriving at `now` waits before the render it will share may start:
 * none when no render ended in the last `interval` ms (or none ran yet).
 */
export function renderDelay(now: number, lastEnded: number | undefined, interval: number): number {
  if (lastEnded === undefined) return 0;
  return Math.max(0, Math.min(interval, lastEnded + interval - now));
}

/** One scrape waiting for a render: its text, or `undefined` once its client left. */
interface Waiter {
  resolve(text: string | undefined): void;
  reject(error: unknown): void;
  /** Stops listening for the client leaving. */
  forget(): void;
}

/** The text, from the one render at a time the coalescer lets run. */
export type Render = () => Promise<string>;

export class CoalescedRender {
  /** When the last render ended (monotonic ms), or undefined before the first. */
  private lastEnded: number | undefined;
  private running = false;
  /** Scrapes waiting for a render that has not started yet. */
  private waiting = new Set<Waiter>();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly render: Render,
    private readonly interval = RENDER_INTERVAL_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * Text rendered after this call. `undefined` when `left` is aborted first (the client went
   * away): the scrape is dropped, and a render no one waits for any more does not run.
   * A failed render rejects every scrape that shared it; the next scrape renders anew.
   */
  text(left?: AbortSignal): Promise<string | undefined> {
    if (left?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const gone = (): void => this.drop(waiter);
      const waiter: Waiter = {
        resolve,
        reject,
        forget: () => left?.removeEventListener('abort', gone),
      };
      left?.addEventListener('abort', gone, { once: true });
      this.waiting.add(waiter);
      this.schedule();
    });
  }

  private drop(waiter: Waiter): void {
    waiter.resolve(undefined);
    if (!this.waiting.delete(waiter) || this.waiting.size > 0) return;
    // No one waits for the next render: it need not run.
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Starts the next render now, or at its time, unless one runs or is already timed. */
  private schedule(): void {
    if (this.running || this.timer !== undefined || this.waiting.size === 0) return;
    const delay = renderDelay(this.now(), this.lastEnded, this.interval);
    if (delay === 0) {
      this.start();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.start();
    }, delay);
  }

  private start(): void {
    const sharing = [...this.waiting];
    this.waiting = new Set();
    this.running = true;
    let text: Promise<string>;
    try {
      text = this.render();
    } catch (error) {
      text = Promise.reject(error);
    }
    const settle = (each: (waiter: Waiter) => void): void => {
      this.running = false;
      this.lastEnded = this.now();
      for (const waiter of sharing) {
        waiter.forget();
        each(waiter);
      }
      this.schedule();
    };
    text.then(
      (t) => settle((waiter) => waiter.resolve(t)),
      (error: unknown) => settle((waiter) => waiter.reject(error)),
    );
  }
}
