import { z } from 'zod';
import { parseListen } from './listen';

/**
 * YAML keys and defaults (the file is the whole configuration; only LOG_LEVEL from the
 * environment still applies):
 *
 * | key | default |
 * |---|---|
 * | vidispine.url — base URL without /API, http(s), no query/fragment/credentials | required |
 * | vidispine.caFile — extra PEM CA bundle, added to Node's | — |
 * | vidispine.admin.username + one of password / passwordFile / passwordEnv | — |
 * | vidispine.mintTimeoutSeconds | 10 |
 * | vidispine.connectTimeoutSeconds | 5 |
 * | vidispine.upstreamTimeoutSeconds | 300 |
 * | vidispine.maxSockets | 256 |
 * | token.seconds — positive integer | 60 |
 * | token.autoRefresh | false |
 * | token.serverRefreshIntervalSeconds — the server's userTokenRefreshInterval | 10 |
 * | token.safetyMarginSeconds — must be < seconds | min(5, 10 % of seconds) |
 * | users[].name | required, unique |
 * | users[].password / passwordFile / passwordEnv — at most one; none → admin-minted | — |
 * | users[].listen — host:port, IPv6 in brackets, port 0 = ephemeral | — (≥ 1 user needs one) |
 * | users[].selectUserHeader — header name, lower-cased | — |
 * | users[].allowRunAs | false |
 * | users[].token.{seconds, autoRefresh, serverRefreshIntervalSeconds, safetyMarginSeconds} | top-level token |
 * | proxy.replayBufferBytes | 1048576 |
 * | proxy.expectContinueTimeoutMs | 1000 |
 * | proxy.accessLog | false |
 * | ops.listen — host:port, or off / "" / null to disable | 0.0.0.0:9090 |
 * | log.level — fatal, error, warn, info, debug, trace, silent | info |
 * | shutdown.delaySeconds | 5 |
 * | shutdown.drainSeconds | 30 |
 *
 * The shape of the YAML file (and of the environment, once mapped onto it). Every object is
 * strict, so a misspelt key fails with its path instead of being ignored. Values that need
 * parsing (URL, listen addresses) are turned into their typed form here; rules that span
 * several keys live in `resolve.ts`.
 */

const POSITIVE_INT = 'must be a positive integer';
const NON_NEGATIVE = 'must be a number ≥ 0';

const positiveInt = () => z.int({ error: POSITIVE_INT }).positive({ error: POSITIVE_INT });
const nonNegativeInt = () =>
  z.int({ error: 'must be an integer ≥ 0' }).nonnegative({ error: 'must be an integer ≥ 0' });
const positiveNumber = () =>
  z.number({ error: 'must be a number > 0' }).positive({ error: 'must be a number > 0' });
const nonNegativeNumber = () =>
  z.number({ error: NON_NEGATIVE }).nonnegative({ error: NON_NEGATIVE });
const text = () =>
  z.string({ error: 'must be a non-empty string' }).min(1, { error: 'must not be empty' });
const bool = () => z.boolean({ error: 'must be true or false' });

const baseUrl = text().transform((value, ctx) => {
  const problem = (message: string) => {
    ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return problem(`"${value}" is not a URL (e.g. http://vidispine:8080)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return problem(`must be an http:// or https:// URL, got ${url.protocol}`);
  }
  if (url.username !== '' || url.password !== '') {
    return problem('must not contain credentials; use vidispine.admin or the user passwords');
  }
  if (url.search !== '' || url.hash !== '') {
    return problem('must not have a query string or fragment');
  }
  if (/\/API\/?$/i.test(url.pathname)) {
    return problem('give the base URL without /API (e.g. http://vidispine:8080)');
  }
  url.pathname = url.pathname.replace(/\/+$/, '') || '/';
  return url;
});

const listen = text().transform((value, ctx) => {
  const parsed = parseListen(value);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return parsed;
});

const secretFields = {
  password: z.string({ error: 'must be a string' }).optional(),
  passwordFile: text().optional(),
  passwordEnv: text().optional(),
};

export const tokenSchema = z.strictObject({
  seconds: positiveInt().optional(),
  autoRefresh: bool().optional(),
  serverRefreshIntervalSeconds: nonNegativeNumber().optional(),
  safetyMarginSeconds: nonNegativeNumber().optional(),
});

const adminSchema = z.strictObject({ username: text(), ...secretFields });

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const userSchema = z.strictObject({
  name: text(),
  ...secretFields,
  listen: listen.optional(),
  selectUserHeader: text()
    .regex(HEADER_NAME, { error: 'must be an HTTP header name' })
    .transform((h) => h.toLowerCase())
    .optional(),
  allowRunAs: bool().default(false),
  token: tokenSchema.optional(),
});

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const logLevelSchema = z.enum(LOG_LEVELS, {
  error: `must be one of ${LOG_LEVELS.join(', ')}`,
});

export const fileSchema = z.strictObject({
  vidispine: z.strictObject({
    url: baseUrl,
    caFile: text().optional(),
    admin: adminSchema.optional(),
    mintTimeoutSeconds: positiveNumber().default(10),
    connectTimeoutSeconds: positiveNumber().default(5),
    upstreamTimeoutSeconds: positiveNumber().default(300),
    maxSockets: positiveInt().default(256),
  }),
  token: tokenSchema.optional(),
  users: z.array(userSchema).min(1, { error: 'list at least one user' }),
  proxy: z
    .strictObject({
      replayBufferBytes: nonNegativeInt().default(1024 * 1024),
      expectContinueTimeoutMs: nonNegativeInt().default(1000),
      accessLog: bool().default(false),
    })
    .prefault({}),
  ops: z
    .strictObject({
      listen: z
        .union([z.null(), z.literal(''), z.literal('off'), listen], {
          error: 'must be host:port, or "off" to disable',
        })
        .prefault('0.0.0.0:9090'),
    })
    .prefault({}),
  log: z.strictObject({ level: logLevelSchema.default('info') }).prefault({}),
  shutdown: z
    .strictObject({
      delaySeconds: nonNegativeNumber().default(5),
      drainSeconds: nonNegativeNumber().default(30),
    })
    .prefault({}),
});

export type RawConfig = z.output<typeof fileSchema>;
export type RawUser = RawConfig['users'][number];
export type RawToken = z.output<typeof tokenSchema>;
