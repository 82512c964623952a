/**
 * A whole ops scenario with known secret values: whatever path a secret takes towards the
 * ops side (config, error messages, URLs, headers, access log), it must not come out in
 * logs, metrics, /status or the page.
 */
import { YAML_NAMES } from '../../src/config/errors';
import type { ProxyConfig } from '../../src/config/types';
import { createOpsServer, type OpsServer } from '../../src/ops/server';
import { RecentRequests } from '../../src/ops/recent-requests';
import { statusSetup } from '../../src/ops/status';
import { Health } from '../../src/ops/health';
import { OpsMetrics, recordTokenEvents } from '../../src/ops/metrics';
import { createAccessLog, forwardLogObserver } from '../../src/ops/request-log';
import { combineObservers } from '../../src/proxy/observer';
import { logStartup } from '../../src/ops/startup-log';
import { logTokenEvents } from '../../src/ops/token-log';
import { captureLogs, ScriptedTokens } from '../support/ops';
import { password, userConfig } from '../support/config-fixtures';

const USER_PASSWORD = 'Ingest-Pa55word-7f3a';
const ADMIN_PASSWORD = 'Adm1n-S3cret-c0ffee';
const TOKEN = 'VSID-0d1e2a3d4b5e6e7f';
const BASIC = Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64');
const SECRETS = [USER_PASSWORD, ADMIN_PASSWORD, TOKEN, BASIC];

const config: ProxyConfig = {
  names: YAML_NAMES,
  vidispine: {
    url: new URL(`http://admin:${ADMIN_PASSWORD}@vidispine:8080`),
    admin: password('admin', ADMIN_PASSWORD),
    mintTimeoutSeconds: 10,
    connectTimeoutSeconds: 5,
    upstreamTimeoutSeconds: 300,
    readTimeoutSeconds: 300,
    maxSockets: 64,
  },
  users: [
    userConfig('ingest', {
      credential: password('ingest', USER_PASSWORD),
      listen: { host: '127.0.0.1', port: 8080 },
    }),
    userConfig('reporting', {
      listen: { host: '::1', port: 8081 },
      token: { seconds: 3600, autoRefresh: true },
    }),
  ],
  proxy: {
    replayBufferBytes: 65536,
    replayBufferTotalBytes: 1 << 25,
    clientBodyTimeoutSeconds: 60,
    sendTimeoutSeconds: 60,
    keepAliveTimeoutSeconds: 75,
    expectContinueTimeoutMs: 1000,
    accessLog: true,
  },
  ops: { listen: { host: '127.0.0.1', port: 0 } },
  log: { level: 'trace' },
  shutdown: { delaySeconds: 5, drainSeconds: 30 },
};

let server: OpsServer | undefined;
afterEach(() => server?.close());

it('no known secret reaches logs, metrics, /status or the page', async () => {
  const { logger, raw } = captureLogs('trace');
  const users = config.users.map((u) => u.name);
  const tokens = new ScriptedTokens(users, Date.now);
  const metrics = new OpsMetrics({ users, tokens, defaultMetrics: false });
  recordTokenEvents(tokens, metrics);
  logTokenEvents(tokens, logger, config.names);
  const observer = combineObservers(metrics, forwardLogObserver(logger, YAML_NAMES));
  const accessLog = createAccessLog(logger);
  server = createOpsServer({
    health: new Health(tokens),
    metrics,
    tokens,
    recent: new RecentRequests(),
    logger,
    setup: statusSetup(config, { version: '1.2.3', startedAt: Date.now(), renewFraction: 0.7 }),
  });
  await server.listen({ host: '127.0.0.1', port: 0 });

  logStartup(logger, config, '1.2.3');
  tokens.minted('ingest');
  tokens.failed(
    'ingest',
    'server_error',
    `GET http://ingest:${USER_PASSWORD}@vidispine:8080/API/token failed`,
  );
  tokens.failed('reporting', 'unauthorized', `HTTP 401, sent Authorization: Basic ${BASIC}`);
  tokens.invalidated('ingest');
  observer.requestStarted?.();
  observer.upstreamUnauthorized?.('ingest', true);
  observer.requestFinished?.('ingest', 'GET', 200, 0.01);
  accessLog({
    requestId: 'r1',
    user: 'ingest',
    method: 'GET',
    path: `/API/item?token=${TOKEN}`,
    status: 200,
    durationSeconds: 0.01,
  });
  logger.debug(
    { req: { headers: { authorization: `token ${TOKEN}`, cookie: `s=${TOKEN}` } } },
    'upstream request',
  );
  logger.error({ err: new Error(`replay failed: token ${TOKEN} rejected`) }, 'replay failed');
  logger.info(
    { password: USER_PASSWORD, nested: { adminPassword: ADMIN_PASSWORD } },
    'careless call',
  );

  const port = server.address()?.port;
  const bodies = await Promise.all(
    ['/status', '/', '/metrics', '/readyz', '/startupz'].map(async (path) =>
      (await fetch(`http://127.0.0.1:${port}${path}`)).text(),
    ),
  );
  const everything = [...raw, ...bodies];
  // The scenario really produced output that carried the secrets' surroundings.
  expect(raw.length).toBeGreaterThanOrEqual(10);
  expect(bodies[0]).toContain('vidispine:8080/API/token failed');
  expect(raw.join('')).toContain('"vidispine":"http://vidispine:8080"');
  for (const secret of SECRETS) {
    expect(everything.filter((text) => text.includes(secret))).toEqual([]);
  }
});
