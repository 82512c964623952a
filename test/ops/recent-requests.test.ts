import { RecentRequests } from '../../src/ops/recent-requests';

const MIN = 60_000;

describe('requests of the last minutes, per user', () => {
  it('counts answers and 5xx errors per user, sliding by the minute', () => {
    let now = 10 * MIN + 30_000;
    const recent = new RecentRequests(() => now);
    recent.requestFinished('alice', 'GET', 200);
    recent.requestFinished('alice', 'PUT', 503);
    recent.requestFinished('alice', 'GET', 404);
    recent.requestFinished('bob', 'GET', 502);
    expect(recent.counts('alice')).toEqual({ minutes: 5, requests: 3, errors: 1 });
    expect(recent.counts('bob')).toEqual({ minutes: 5, requests: 1, errors: 1 });
    expect(recent.counts('carol')).toEqual({ minutes: 5, requests: 0, errors: 0 });

    now += 4 * MIN;
    recent.requestFinished('alice', 'GET', 200);
    expect(recent.counts('alice')).toEqual({ minutes: 5, requests: 4, errors: 1 });
    // The minute of the first three leaves the window.
    now += MIN;
    expect(recent.counts('alice')).toEqual({ minutes: 5, requests: 1, errors: 0 });
    now += 10 * MIN;
    expect(recent.counts('alice')).toEqual({ minutes: 5, requests: 0, errors: 0 });
  });

  it('keeps a few numbers per user however much traffic', () => {
    let now = 0;
    const recent = new RecentRequests(() => now);
    // 50 minutes of traffic, one request every 30 ms, every tenth a 500.
    for (let i = 0; now < 50 * MIN; i++, now += 30) {
      recent.requestFinished('alice', 'GET', i % 10 === 0 ? 500 : 200);
    }
    now -= 30;
    // The last 5 minutes hold 5 × 2000 of them.
    expect(recent.counts('alice')).toEqual({ minutes: 5, requests: 10_000, errors: 1_000 });
  });
});
