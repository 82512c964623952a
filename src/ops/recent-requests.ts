/**
 * Requests served and failed per user over the last few minutes, for the status page: what
 * an operator asks first ("is anything getting through?") without a Prometheus at hand.
 * Counted in one-minute buckets, so the window slides by the minute and the memory is a
 * few numbers per user, whatever the traffic.
 */

/** Minutes the window covers. */
const RECENT_MINUTES = 5;
const MINUTE_MS = 60_000;

/** An answer that counts as an error: the proxy's own 502/503/504 and Vidispine's 5xx. */
const isErrorStatus = (status: number): boolean => status >= 500;

export interface RecentCounts {
  readonly minutes: number;
  /** Answers sent (client aborts included, as 499). */
  readonly requests: number;
  /** Of those, answers with status 500 or above. */
  readonly errors: number;
}

interface Bucket {
  minute: number;
  requests: number;
  errors: number;
}

export class RecentRequests {
  private readonly byUser = new Map<string, Bucket[]>();

  constructor(private readonly now: () => number = Date.now) {}

  requestFinished(user: string, _method: string, status: number): void {
    const minute = Math.floor(this.now() / MINUTE_MS);
    let buckets = this.byUser.get(user);
    if (buckets === undefined) this.byUser.set(user, (buckets = []));
    let bucket = buckets[buckets.length - 1];
    if (bucket?.minute !== minute) {
      bucket = { minute, requests: 0, errors: 0 };
      buckets.push(bucket);
      if (buckets.length > RECENT_MINUTES) buckets.shift();
    }
    bucket.requests += 1;
    if (isErrorStatus(status)) bucket.errors += 1;
  }

  /** The user's counts over the last `RECENT_MINUTES` minutes (this one included). */
  counts(user: string): RecentCounts {
    const first = Math.floor(this.now() / MINUTE_MS) - RECENT_MINUTES + 1;
    const recent = (this.byUser.get(user) ?? []).filter((b) => b.minute >= first);
    return {
      minutes: RECENT_MINUTES,
      requests: recent.reduce((n, b) => n + b.requests, 0),
      errors: recent.reduce((n, b) => n + b.errors, 0),
    };
  }
}
