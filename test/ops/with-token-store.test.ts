/**
 * The ops endpoints, metrics and logs driven by the real token store (with a scripted minter
 * and a manual clock) through its whole cycle: no token yet → valid → failing but valid →
 * expired → valid again → shutting down.
 */
import { YAML_NAMES } from '../../src/config/errors';
import { createOpsServer, type OpsServer } from '../../src/ops/server';
import { Health } from '../../src/ops/health';
import { OpsMetrics, recordTokenEvents } from '../../src/ops/metrics';
import { logTokenEvents } from '../../src/ops/token-log';
import { RecentRequests } from '../../src/ops/recent-requests';
import { createTokenStore } from '../../src/tokens/store';
import { MintError, type TokenMinter, type TokenStore } from '../../src/tokens/types';
import { parseExposition, value } from '../support/prom-parse';
import { ManualClock } from '../support/clock';
import { captureLogs, scriptedSetup } from '../support/ops';
import { password, userConfig } from '../support/config-fixtures';

const T0 = Date.parse('2026-03-01T08:00:00Z');
const TOKEN = 'VSID-5e5e5e5e7a7a7a7a';

const user = userConfig('ingest', { credential: password('ingest', 'unused-here') });

let server: OpsServer | undefined;
let store: TokenStore | undefined;
afterEach(async () => {
  store?.stop();
  await server?.close();
});

it('serves each probe, /status and the metrics with the meaning the README section "Endpoints" gives them', async () => {
  const clock = new ManualClock(T0);
  const now = () => clock.now();
  let failWith: MintError | undefined;
  const minter: TokenMinter = {
    endpoint: 'token',
    mint: async () => {
      if (failWith) throw failWith;
      return { value: TOKEN, sentAt: clock.now(), seconds: 60 };
    },
  };
  store = createTokenStore({
    users: [user],
    minterFor: () => minter,
    checker: { check: () => Promise.resolve('alive') },
    clock,
    random: () => 0.5,
  });
  const capture = captureLogs('info');
  const health = new Health(store, now);
  const metrics = new OpsMetrics({ users: ['ingest'], tokens: store, now, defaultMetrics: false });
  recordTokenEvents(store, metrics);
  logTokenEvents(store, capture.logger, YAML_NAMES);
  server = createOpsServer({
    health,
    metrics,
    tokens: store,
    recent: new RecentRequests(now),
    logger: capture.logger,
    setup: scriptedSetup(['ingest']),
    now,
  });
  await server.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${server.address()?.port}`;
  const json = async (path: string) => {
    const res = await fetch(base + path);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const scrape = async () => parseExposition(await (await fetch(`${base}/metrics`)).text());
  const snapshot = async () => {
    const [startup, ready, status] = await Promise.all([
      json('/startupz'),
      json('/readyz'),
      json('/status'),
    ]);
    const e = await scrape();
    const users = status.body.users as Record<string, unknown>[];
    return {
      startup: startup.status,
      ready: ready.status,
      readyUsers: ready.body.users,
      state: users[0]?.state,
      valid: value(e, 'vidispine_auth_proxy_token_valid', { user: 'ingest' }),
      e,
      user: users[0],
    };
  };

  // None yet.
  let s = await snapshot();
  expect([s.startup, s.ready, s.state, s.valid]).toEqual([503, 503, 'pending', 0]);
  expect(s.readyUsers).toEqual([
    { user: 'ingest', state: 'pending', ok: false, reason: 'no_token_yet', lastFailure: null },
  ]);
  expect((await fetch(`${base}/livez`)).status).toBe(200);

  // Valid.
  store.start();
  await clock.advanceTo(T0);
  s = await snapshot();
  expect([s.startup, s.ready, s.state, s.valid]).toEqual([200, 200, 'valid', 1]);
  expect(
    value(s.e, 'vidispine_auth_proxy_token_expiry_timestamp_seconds', { user: 'ingest' }),
  ).toBe(T0 / 1000 + 60);
  expect(
    value(s.e, 'vidispine_auth_proxy_token_refreshes_total', {
      user: 'ingest',
      result: 'success',
      reason: 'none',
    }),
  ).toBe(1);

  // Failing but valid: renewal (at 70 % of the 55 s usable = 38.5 s) fails; 10 s still left.
  failWith = new MintError('server_error', 'HTTP 500 from GET /API/token', 500);
  await clock.advanceTo(T0 + 45_000);
  s = await snapshot();
  expect([s.startup, s.ready, s.state, s.valid]).toEqual([200, 200, 'failing', 1]);
  expect(s.user).toMatchObject({
    failures: expect.any(Number),
    lastError: { reason: 'server_error', hint: expect.stringContaining('5xx') },
    nextAttemptInSeconds: expect.any(Number),
  });
  expect(s.user?.nextAttemptInSeconds).toBeGreaterThan(0);
  const failures = value(s.e, 'vidispine_auth_proxy_token_refreshes_total', {
    user: 'ingest',
    result: 'failure',
    reason: 'server_error',
  });
  expect(failures).toBeGreaterThanOrEqual(1);
  expect(s.user?.failures).toBe(failures);

  // Expired: past the last usable instant (60 s − 5 s margin).
  await clock.advanceTo(T0 + 56_000);
  s = await snapshot();
  expect([s.startup, s.ready, s.state, s.valid]).toEqual([200, 503, 'expired', 0]);
  expect(s.readyUsers).toEqual([
    {
      user: 'ingest',
      state: 'expired',
      ok: false,
      reason: 'token_expired',
      lastFailure: 'server_error',
    },
  ]);
  expect(capture.lines.some((l) => l.event === 'token_expired' && l.user === 'ingest')).toBe(true);

  // Recovers at the next retry.
  failWith = undefined;
  await clock.advanceTo(T0 + 120_000);
  s = await snapshot();
  expect([s.startup, s.ready, s.state, s.valid]).toEqual([200, 200, 'valid', 1]);
  // The last failure stays on record once the user recovered (the README says so).
  expect(s.readyUsers).toEqual([
    { user: 'ingest', state: 'valid', ok: true, reason: null, lastFailure: 'server_error' },
  ]);

  // Shutting down.
  health.beginShutdown();
  s = await snapshot();
  expect([s.startup, s.ready, s.state, s.valid]).toEqual([200, 503, 'valid', 1]);

  const everything = [
    ...capture.raw,
    JSON.stringify(await json('/status')),
    await (await fetch(`${base}/`)).text(),
  ];
  expect(everything.filter((text) => text.includes(TOKEN))).toEqual([]);
  expect(capture.lines.filter((l) => l.event === 'token_minted').length).toBeGreaterThanOrEqual(2);
});
