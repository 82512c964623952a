/**
 * Environment-only configuration (single-user sidecar). Each variable maps onto a key of the
 * YAML shape, so one schema validates both; problems are reported under the variable's name.
 *
 * | variable | key | default |
 * |---|---|---|
 * | VIDISPINE_URL | vidispine.url | required |
 * | VIDISPINE_CA_FILE | vidispine.caFile (extra PEM CA bundle for https) | — |
 * | VIDISPINE_USER | users[0].name | required |
 * | VIDISPINE_PASSWORD / VIDISPINE_PASSWORD_FILE | users[0].password / passwordFile | — |
 * | VIDISPINE_ADMIN_USER | vidispine.admin.username | — |
 * | VIDISPINE_ADMIN_PASSWORD / VIDISPINE_ADMIN_PASSWORD_FILE | vidispine.admin.password / passwordFile | — |
 * | VIDISPINE_MINT_TIMEOUT_SECONDS | vidispine.mintTimeoutSeconds | 10 |
 * | VIDISPINE_CONNECT_TIMEOUT_SECONDS | vidispine.connectTimeoutSeconds | 5 |
 * | VIDISPINE_UPSTREAM_TIMEOUT_SECONDS | vidispine.upstreamTimeoutSeconds | 300 |
 * | VIDISPINE_MAX_SOCKETS | vidispine.maxSockets | 256 |
 * | PROXY_LISTEN | users[0].listen | 127.0.0.1:8080 |
 * | ALLOW_RUNAS | users[0].allowRunAs | false |
 * | TOKEN_SECONDS | token.seconds | 60 |
 * | TOKEN_AUTO_REFRESH | token.autoRefresh | false |
 * | TOKEN_SERVER_REFRESH_INTERVAL_SECONDS | token.serverRefreshIntervalSeconds | 10 |
 * | TOKEN_SAFETY_MARGIN_SECONDS | token.safetyMarginSeconds | min(5, 10 % of seconds) |
 * | PROXY_REPLAY_BUFFER_BYTES | proxy.replayBufferBytes | 1048576 |
 * | PROXY_EXPECT_CONTINUE_TIMEOUT_MS | proxy.expectContinueTimeoutMs | 1000 |
 * | ACCESS_LOG | proxy.accessLog | false |
 * | OPS_LISTEN | ops.listen (empty or `off` disables) | 0.0.0.0:9090 |
 * | LOG_LEVEL | log.level (also overrides the file's value) | info |
 * | SHUTDOWN_DELAY_SECONDS | shutdown.delaySeconds | 5 |
 * | SHUTDOWN_DRAIN_SECONDS | shutdown.drainSeconds | 30 |
 *
 * Unknown variables are ignored: Kubernetes injects `VIDISPINE_PORT`-style service variables.
 * Numbers and booleans (`true`/`false`, `1`/`0`, `yes`/`no`) are converted here; anything
 * else is passed on as text so the schema reports it under the variable's name.
 */

import { keyPath } from './errors';

type Kind = 'string' | 'number' | 'boolean';
type Path = readonly (string | number)[];

interface EnvKey {
  readonly name: string;
  readonly path: Path;
  readonly kind: Kind;
}

const key = (name: string, path: string, kind: Kind = 'string'): EnvKey => ({
  name,
  path: path.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
  kind,
});

const ENV_KEYS: readonly EnvKey[] = [
  key('VIDISPINE_URL', 'vidispine.url'),
  key('VIDISPINE_CA_FILE', 'vidispine.caFile'),
  key('VIDISPINE_ADMIN_USER', 'vidispine.admin.username'),
  key('VIDISPINE_ADMIN_PASSWORD', 'vidispine.admin.password'),
  key('VIDISPINE_ADMIN_PASSWORD_FILE', 'vidispine.admin.passwordFile'),
  key('VIDISPINE_MINT_TIMEOUT_SECONDS', 'vidispine.mintTimeoutSeconds', 'number'),
  key('VIDISPINE_CONNECT_TIMEOUT_SECONDS', 'vidispine.connectTimeoutSeconds', 'number'),
  key('VIDISPINE_UPSTREAM_TIMEOUT_SECONDS', 'vidispine.upstreamTimeoutSeconds', 'number'),
  key('VIDISPINE_MAX_SOCKETS', 'vidispine.maxSockets', 'number'),
  key('VIDISPINE_USER', 'users.0.name'),
  key('VIDISPINE_PASSWORD', 'users.0.password'),
  key('VIDISPINE_PASSWORD_FILE', 'users.0.passwordFile'),
  key('PROXY_LISTEN', 'users.0.listen'),
  key('ALLOW_RUNAS', 'users.0.allowRunAs', 'boolean'),
  key('TOKEN_SECONDS', 'token.seconds', 'number'),
  key('TOKEN_AUTO_REFRESH', 'token.autoRefresh', 'boolean'),
  key('TOKEN_SERVER_REFRESH_INTERVAL_SECONDS', 'token.serverRefreshIntervalSeconds', 'number'),
  key('TOKEN_SAFETY_MARGIN_SECONDS', 'token.safetyMarginSeconds', 'number'),
  key('PROXY_REPLAY_BUFFER_BYTES', 'proxy.replayBufferBytes', 'number'),
  key('PROXY_EXPECT_CONTINUE_TIMEOUT_MS', 'proxy.expectContinueTimeoutMs', 'number'),
  key('ACCESS_LOG', 'proxy.accessLog', 'boolean'),
  key('OPS_LISTEN', 'ops.listen'),
  key('LOG_LEVEL', 'log.level'),
  key('SHUTDOWN_DELAY_SECONDS', 'shutdown.delaySeconds', 'number'),
  key('SHUTDOWN_DRAIN_SECONDS', 'shutdown.drainSeconds', 'number'),
];

/** Keys whose problems concern a whole object rather than one variable. */
const OBJECT_KEYS: Readonly<Record<string, string>> = {
  'users[0]': 'VIDISPINE_PASSWORD',
  'vidispine.admin': 'VIDISPINE_ADMIN_PASSWORD',
  users: 'PROXY_LISTEN',
};

const DEFAULT_PROXY_LISTEN = '127.0.0.1:8080';

function convert(value: string, kind: Kind): unknown {
  if (kind === 'number' && value.trim() !== '' && Number.isFinite(Number(value))) {
    return Number(value);
  }
  if (kind === 'boolean') {
    const lower = value.trim().toLowerCase();
    if (['true', '1', 'yes'].includes(lower)) return true;
    if (['false', '0', 'no'].includes(lower)) return false;
  }
  return value;
}

function assign(target: Record<string | number, unknown>, path: Path, value: unknown): void {
  const [head, ...rest] = path;
  if (rest.length === 0) {
    target[head] = value;
    return;
  }
  const child = (target[head] ??= typeof rest[0] === 'number' ? [] : {}) as Record<
    string | number,
    unknown
  >;
  assign(child, rest, value);
}

/** The YAML-shaped object the environment describes (not yet validated). */
export function configFromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const raw: Record<string, unknown> = { vidispine: {}, users: [{}] };
  for (const k of ENV_KEYS) {
    const value = env[k.name];
    if (value !== undefined) assign(raw, k.path, convert(value, k.kind));
  }
  const users = raw.users as Record<string, unknown>[];
  users[0].listen ??= DEFAULT_PROXY_LISTEN;
  return raw;
}

/** Names the variable behind a config key (`users[0].listen` → `PROXY_LISTEN`). */
export function envNameFor(configKey: string): string {
  const exact = ENV_KEYS.find((k) => keyPath(k.path) === configKey);
  return exact?.name ?? OBJECT_KEYS[configKey] ?? configKey;
}
