import type { CallEndpoint, CallFilter } from './types';

/** Requests counted per endpoint and user; one Map update per request. */
export class CallCounter {
  private readonly counts = new Map<CallEndpoint, Map<string | undefined, number>>();

  count(endpoint: CallEndpoint, user: string | undefined): void {
    let perUser = this.counts.get(endpoint);
    if (!perUser) this.counts.set(endpoint, (perUser = new Map()));
    perUser.set(user, (perUser.get(user) ?? 0) + 1);
  }

  total(filter: CallFilter = {}): number {
    let sum = 0;
    for (const [endpoint, perUser] of this.counts) {
      if (filter.endpoint !== undefined && filter.endpoint !== endpoint) continue;
      for (const [user, n] of perUser) {
        if (filter.user === undefined || filter.user === user) sum += n;
      }
    }
    return sum;
  }

  reset(): void {
    this.counts.clear();
  }
}
