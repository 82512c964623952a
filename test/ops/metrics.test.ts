import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import {
  OpsMetrics,
  SESSION_ENDS,
  recordTokenEvents,
  normaliseMethod,
  statusLabel,
} from '../../src/ops/metrics';
import type { SessionEnd } from '../../src/proxy/observer';
import { parseExposition, samples, value, type Exposition } from '../support/prom-parse';
import { ScriptedTokens } from '../support/ops';

const P = 'vidispine_auth_proxy_';
const T0 = Date.parse('2026-01-01T00:00:00Z');

function setup(defaultMetrics = false) {
  let now = T0;
  const clock = () => now;
  const tokens = new ScriptedTokens(['ingest', 'reporting'], clock);
  const metrics = new OpsMetrics({
    users: ['ingest', 'reporting'],
    tokens,
    now: clock,
    defaultMetrics,
  });
  recordTokenEvents(tokens, metrics);
  return {
    tokens,
    metrics,
    advance: (ms: number) => {
      now += ms;
    },
    scrape: async (): Promise<Exposition> => parseExposition(await metrics.render()),
  };
}

describe('OpsMetrics', () => {
  it('declares every metric with its type and a help text', async () => {
    const { scrape } = setup();
    const exposition = await scrape();
    const expected: Record<string, string> = {
      token_refreshes_total: 'counter',
      token_refresh_duration_seconds: 'histogram',
      token_expiry_timestamp_seconds: 'gauge',
      token_last_success_timestamp_seconds: 'gauge',
      token_valid: 'gauge',
      upstream_unauthorized_total: 'counter',
      requests_total: 'counter',
      request_duration_seconds: 'histogram',
      requests_in_flight: 'gauge',
      upstream_errors_total: 'counter',
      websocket_sessions_open: 'gauge',
      websocket_sessions_ended_total: 'counter',
    };
    for (const [name, type] of Object.entries(expected)) {
      const family = exposition.get(P + name);
      expect({ name, type: family?.type }).toEqual({ name, type });
      expect(family?.help?.length).toBeGreaterThan(20);
    }
  });

  it('starts with zeroed series for every configured user and reason', async () => {
    const { scrape } = setup();
    const e = await scrape();
    for (const user of ['ingest', 'reporting']) {
      expect(
        value(e, `${P}token_refreshes_total`, {
          user,
          result: 'success',
          reason: 'none',
        }),
      ).toBe(0);
      expect(
        value(e, `${P}token_refreshes_total`, {
          user,
          result: 'failure',
          reason: 'unauthorized',
        }),
      ).toBe(0);
      expect(value(e, `${P}token_valid`, { user })).toBe(0);
      expect(value(e, `${P}upstream_unauthorized_total`, { user, retried: 'true' })).toBe(0);
      expect(value(e, `${P}token_expiry_timestamp_seconds`, { user })).toBeUndefined();
      expect(value(e, `${P}websocket_sessions_open`, { user })).toBe(0);
    }
    expect(value(e, `${P}upstream_errors_total`, { reason: 'refused' })).toBe(0);
    expect(value(e, `${P}requests_in_flight`)).toBe(0);
    for (const end of SESSION_ENDS)
      expect(value(e, `${P}websocket_sessions_ended_total`, { end })).toBe(0);
  });

  it("counts a session's end under each end a session's log line names, and no other", () => {
    // Every `SessionEnd` and nothing else: a missing or an extra key fails to compile.
    const ends: Record<SessionEnd, true> = {
      client_closed: true,
      upstream_closed: true,
      error: true,
      shutdown: true,
      timeout: true,
    };
    expect([...SESSION_ENDS].sort()).toEqual(Object.keys(ends).sort());
  });

  it('counts scripted mint successes and failures with durations in the right buckets', async () => {
    const { tokens, scrape } = setup();
    tokens.minted('ingest', 60, 0.004);
    tokens.failed('ingest', 'server_error', 'HTTP 503', 0.3);
    tokens.failed('ingest', 'timeout', 'no answer', 10);
    tokens.minted('ingest', 60, 0.02);
    tokens.failed('reporting', 'forbidden', 'HTTP 403', 0.007);
    const e = await scrape();
    const refreshes = (user: string, result: string, reason: string) =>
      value(e, `${P}token_refreshes_total`, { user, result, reason });
    expect(refreshes('ingest', 'success', 'none')).toBe(2);
    expect(refreshes('ingest', 'failure', 'server_error')).toBe(1);
    expect(refreshes('ingest', 'failure', 'timeout')).toBe(1);
    expect(refreshes('ingest', 'failure', 'forbidden')).toBe(0);
    expect(refreshes('reporting', 'failure', 'forbidden')).toBe(1);
    expect(refreshes('reporting', 'success', 'none')).toBe(0);

    const bucket = (le: string) =>
      value(e, `${P}token_refresh_duration_seconds_bucket`, { user: 'ingest', le });
    expect(bucket('0.005')).toBe(1);
    expect(bucket('0.025')).toBe(2);
    expect(bucket('0.5')).toBe(3);
    expect(bucket('10')).toBe(4);
    expect(bucket('+Inf')).toBe(4);
    expect(value(e, `${P}token_refresh_duration_seconds_count`, { user: 'ingest' })).toBe(4);
    expect(value(e, `${P}token_refresh_duration_seconds_sum`, { user: 'ingest' })).toBeCloseTo(
      10.324,
      6,
    );
    const les = samples(e, `${P}token_refresh_duration_seconds_bucket`, { user: 'ingest' }).map(
      (s) => s.labels.le,
    );
    expect(les[0]).toBe('0.005');
    expect(les.at(-2)).toBe('600');
  });

  it('puts a mint cut by the mint timeout, the default or the largest, in a finite bucket', async () => {
    const { tokens, scrape } = setup();
    // A timed-out mint takes its timeout and a little more: 10 s by default, at most 300 s.
    tokens.failed('ingest', 'timeout', 'no answer', 10.004);
    tokens.failed('ingest', 'timeout', 'no answer', 300.02);
    const e = await scrape();
    const bucket = (le: string) =>
      value(e, `${P}token_refresh_duration_seconds_bucket`, { user: 'ingest', le });
    const les = samples(e, `${P}token_refresh_duration_seconds_bucket`, { user: 'ingest' }).map(
      (s) => s.labels.le ?? '',
    );
    // Past the last finite bucket histogram_quantile answers that bucket's bound: a p99 of
    // "10 s" for mints that waited 300 s.
    expect(bucket(les.at(-2)!)).toBe(2);
    // Told apart from mints answered within the default timeout, and from each other.
    expect(bucket('10')).toBe(0);
    expect(bucket('30')).toBe(1);
    // Few series per user.
    expect(les.length).toBeLessThanOrEqual(17);
  });

  it('reads validity, expiry and last success from the store at scrape time', async () => {
    const { tokens, scrape, advance } = setup();
    tokens.minted('ingest', 60);
    let e = await scrape();
    expect(value(e, `${P}token_valid`, { user: 'ingest' })).toBe(1);
    expect(value(e, `${P}token_valid`, { user: 'reporting' })).toBe(0);
    expect(value(e, `${P}token_expiry_timestamp_seconds`, { user: 'ingest' })).toBe(T0 / 1000 + 60);
    expect(value(e, `${P}token_last_success_timestamp_seconds`, { user: 'ingest' })).toBe(
      T0 / 1000,
    );

    advance(30_000);
    tokens.failed('ingest', 'network', 'ECONNREFUSED');
    e = await scrape();
    expect(value(e, `${P}token_valid`, { user: 'ingest' })).toBe(1);

    // No event: the token simply runs out between two scrapes.
    advance(30_001);
    e = await scrape();
    expect(value(e, `${P}token_valid`, { user: 'ingest' })).toBe(0);
    expect(value(e, `${P}token_last_success_timestamp_seconds`, { user: 'ingest' })).toBe(
      T0 / 1000,
    );

    tokens.expired('ingest');
    e = await scrape();
    expect(value(e, `${P}token_expiry_timestamp_seconds`, { user: 'ingest' })).toBeUndefined();
  });

  it('counts WebSocket sessions open by user, an unknown one under (unknown), outside requests in flight', async () => {
    const { metrics, scrape } = setup();
    metrics.sessionOpened('ingest');
    metrics.sessionOpened('ingest');
    metrics.sessionOpened('mallory');
    let e = await scrape();
    expect(value(e, `${P}websocket_sessions_open`, { user: 'ingest' })).toBe(2);
    expect(value(e, `${P}websocket_sessions_open`, { user: 'reporting' })).toBe(0);
    expect(value(e, `${P}websocket_sessions_open`, { user: '(unknown)' })).toBe(1);
    expect(value(e, `${P}requests_in_flight`)).toBe(0);
    metrics.sessionEnded('ingest', 'timeout');
    metrics.sessionEnded('mallory', 'client_closed');
    e = await scrape();
    expect(value(e, `${P}websocket_sessions_ended_total`, { end: 'timeout' })).toBe(1);
    expect(value(e, `${P}websocket_sessions_ended_total`, { end: 'client_closed' })).toBe(1);
    expect(value(e, `${P}websocket_sessions_ended_total`, { end: 'error' })).toBe(0);
    expect(value(e, `${P}websocket_sessions_open`, { user: 'ingest' })).toBe(1);
    expect(value(e, `${P}websocket_sessions_open`, { user: '(unknown)' })).toBe(0);
  });

  it('counts forwarded requests by normalised method and real status code', async () => {
    const { metrics, scrape } = setup();
    metrics.requestStarted();
    metrics.requestStarted();
    metrics.requestStarted();
    let e = await scrape();
    expect(value(e, `${P}requests_in_flight`)).toBe(3);
    metrics.requestFinished('ingest', 'get', 200, 0.0008);
    metrics.requestFinished('ingest', 'PROPFIND', 405, 0.02);
    metrics.requestFinished('mallory', 'GET', 503, 45);
    e = await scrape();
    expect(value(e, `${P}requests_in_flight`)).toBe(0);
    expect(value(e, `${P}requests_total`, { user: 'ingest', method: 'GET', code: '200' })).toBe(1);
    expect(value(e, `${P}requests_total`, { user: 'ingest', method: 'OTHER', code: '405' })).toBe(
      1,
    );
    expect(value(e, `${P}requests_total`, { user: '(unknown)', method: 'GET', code: '503' })).toBe(
      1,
    );
    expect(samples(e, `${P}requests_total`).every((s) => s.labels.user !== 'mallory')).toBe(true);
    expect(value(e, `${P}request_duration_seconds_bucket`, { user: 'ingest', le: '0.001' })).toBe(
      1,
    );
    expect(value(e, `${P}request_duration_seconds_bucket`, { user: '(unknown)', le: '30' })).toBe(
      0,
    );
    expect(value(e, `${P}request_duration_seconds_bucket`, { user: '(unknown)', le: '60' })).toBe(
      1,
    );
  });

  it('tells request durations apart up to the default upstream timeout (300 s), so a p99 is not capped at 60 s', async () => {
    const { metrics, scrape } = setup();
    metrics.requestStarted();
    metrics.requestStarted();
    metrics.requestFinished('ingest', 'GET', 200, 90);
    metrics.requestFinished('ingest', 'GET', 504, 300);
    const e = await scrape();
    const bucket = (le: string): number | undefined =>
      value(e, `${P}request_duration_seconds_bucket`, { user: 'ingest', le });
    expect([bucket('60'), bucket('120'), bucket('300'), bucket('+Inf')]).toEqual([0, 1, 2, 2]);
  });

  it('counts 401 replays and upstream errors', async () => {
    const { metrics, scrape } = setup();
    metrics.upstreamUnauthorized('ingest', true);
    metrics.upstreamUnauthorized('ingest', true);
    metrics.upstreamUnauthorized('ingest', false);
    metrics.upstreamError('refused');
    metrics.upstreamError('timeout');
    metrics.upstreamError('timeout');
    metrics.upstreamError('something new');
    const e = await scrape();
    expect(value(e, `${P}upstream_unauthorized_total`, { user: 'ingest', retried: 'true' })).toBe(
      2,
    );
    expect(value(e, `${P}upstream_unauthorized_total`, { user: 'ingest', retried: 'false' })).toBe(
      1,
    );
    expect(
      value(e, `${P}upstream_unauthorized_total`, { user: 'reporting', retried: 'true' }),
    ).toBe(0);
    expect(value(e, `${P}upstream_errors_total`, { reason: 'refused' })).toBe(1);
    expect(value(e, `${P}upstream_errors_total`, { reason: 'timeout' })).toBe(2);
    expect(value(e, `${P}upstream_errors_total`, { reason: 'other' })).toBe(1);
    expect(value(e, `${P}upstream_errors_total`, { reason: 'reset' })).toBe(0);
  });

  it('includes the default process and Node.js metrics', async () => {
    const { scrape } = setup(true);
    const e = await scrape();
    expect(e.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(value(e, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(e.get('nodejs_heap_size_used_bytes')?.type).toBe('gauge');
  });

  it('keeps the method and code labels bounded', () => {
    expect(['get', 'Post', 'DELETE', 'MKCOL', 'x'.repeat(100)].map(normaliseMethod)).toEqual([
      'GET',
      'POST',
      'DELETE',
      'OTHER',
      'OTHER',
    ]);
    expect([200, 599, 0, 99.5, 1000].map(statusLabel)).toEqual(['200', '599', '0', '0', '0']);
  });

  it('keeps what is reported before its registry is built, in order, and counts on after', async () => {
    const { metrics, scrape } = setup();
    for (let i = 0; i < 500; i += 1) {
      metrics.requestStarted();
      metrics.requestFinished('ingest', 'GET', 200, 0.004);
    }
    metrics.requestStarted();
    metrics.upstreamError('reset');
    const e = await scrape();
    expect(value(e, `${P}requests_in_flight`)).toBe(1);
    expect(value(e, `${P}requests_total`, { user: 'ingest', method: 'GET', code: '200' })).toBe(
      500,
    );
    expect(value(e, `${P}request_duration_seconds_count`, { user: 'ingest' })).toBe(500);
    expect(value(e, `${P}upstream_errors_total`, { reason: 'reset' })).toBe(1);
  });

  /** In a process of its own: whether prom-client is loaded after `reports` requests, then after a scrape. */
  function promClientLoaded(reports: number): { reported: boolean; scraped: boolean } {
    const built = join(__dirname, '..', '..', 'dist', 'ops', 'metrics.js');
    const script = `
      const { OpsMetrics } = require(${JSON.stringify(built)});
      const loaded = () => Object.keys(require.cache).some((f) => f.includes('/node_modules/prom-client/'));
      const metrics = new OpsMetrics({ users: ['ingest'], tokens: { status: () => [] } });
      for (let i = 0; i < ${reports}; i += 1) metrics.requestStarted();
      const reported = loaded();
      metrics.render().then((text) => {
        if (!text.includes('vidispine_auth_proxy_requests_in_flight ${reports}\\n')) throw new Error(text);
        process.stdout.write(JSON.stringify({ reported, scraped: loaded() }));
        process.exit(0);
      });`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    return JSON.parse(run.stdout) as { reported: boolean; scraped: boolean };
  }

  it('loads prom-client at the first scrape, not when the proxy is wired or serves its first requests', () => {
    expect(promClientLoaded(999)).toEqual({ reported: false, scraped: true });
  });

  it('loads prom-client once a thousand reports wait for it, scraped or not', () => {
    expect(promClientLoaded(1000)).toEqual({ reported: true, scraped: true });
  });
});
