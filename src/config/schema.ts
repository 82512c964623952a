import { z } from 'zod';
import { alternatives, type Problem, YAML_NAMES } from './errors';
import { key } from './keys';
import { parseListen } from './listen';

/**
 * Every configuration key, once: its shape, its validation, its default and what it means.
 * The YAML file is validated against this schema; the environment is mapped onto it
 * (`env.ts`, from the `env` names below); the README's key tables are generated from it
 * (`npm run docs:config`). Every object is strict, so a misspelt key fails with its path
 * instead of being ignored. Values that need parsing (URL, listen addresses) are turned into
 * their typed form here; rules that span several keys live in `resolve.ts`.
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

/** What a custom issue carries when its message names other keys (see `load.ts`). */
export interface ProblemParams {
  readonly problem: Problem;
}

/** The URL as it may be shown: even a URL too broken to parse may carry a password. */
const shownUrl = (value: string): string => value.replace(/\/\/[^/@]*@/, '//[REDACTED]@');

/** `vidispine:8080` → `http://vidispine:8080`: what the user probably meant, or a plain example. */
function exampleUrl(value: string): string {
  const rest = value
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .replace(/^[^/@]*@/, '')
    .replace(/\/API\/?$/i, '');
  const guess = `http://${rest}`;
  return rest !== '' && URL.canParse(guess) && !/\s/.test(rest) ? guess : 'http://vidispine:8080';
}

const baseUrl = text().transform((value, ctx) => {
  const problem = (message: Problem) => {
    const params: ProblemParams = { problem: message };
    const text = typeof message === 'string' ? message : message(YAML_NAMES);
    ctx.addIssue({ code: 'custom', message: text, params });
    return z.NEVER;
  };
  const example = `(e.g. ${exampleUrl(value)})`;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return problem(`"${shownUrl(value)}" is not a URL ${example}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return problem(`"${shownUrl(value)}" is not an http:// or https:// URL ${example}`);
  }
  if (url.username !== '' || url.password !== '') {
    return problem(
      (names) =>
        `must not contain credentials; give the password in ${alternatives(names, [
          ['users', 0, 'password'],
          ['users', 0, 'passwordFile'],
        ])}`,
    );
  }
  if (url.search !== '' || url.hash !== '') {
    return problem('must not have a query string or fragment');
  }
  if (/\/API\/?$/i.test(url.pathname)) {
    return problem(`give the base URL without /API ${example}`);
  }
  url.pathname = url.pathname.replace(/\/+$/, '') || '/';
  return url;
});

const listenAddress = text().transform((value, ctx) => {
  const parsed = parseListen(value);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return parsed;
});

/** The three places a password (or access key) may come from; at most one is given. */
function secretFields(whose: string, env: { password?: string; passwordFile?: string } = {}) {
  return {
    password: key(z.string({ error: 'must be a string' }).optional(), {
      description: `${whose} password or access key`,
      env: env.password,
    }),
    passwordFile: key(text().optional(), {
      description: `a file holding ${whose} password or access key (read again at every mint; trailing newline trimmed)`,
      env: env.passwordFile,
    }),
    passwordEnv: key(text().optional(), {
      description: `an environment variable holding ${whose} password or access key`,
    }),
  };
}

const tokenKeys = {
  seconds: key(positiveInt().default(60), {
    description:
      'requested token lifetime (60 is the server default and, unless the server raised `userTokenMaxInterval`, the most a non-administrator may ask for)',
    env: 'TOKEN_SECONDS',
  }),
  autoRefresh: key(bool().default(false), {
    description: 'ask for a sliding-expiry token (`autoRefresh=true`)',
    env: 'TOKEN_AUTO_REFRESH',
  }),
  serverRefreshIntervalSeconds: key(nonNegativeNumber().default(10), {
    description: "the server's `userTokenRefreshInterval`",
    env: 'TOKEN_SERVER_REFRESH_INTERVAL_SECONDS',
  }),
  safetyMarginSeconds: key(nonNegativeNumber().optional(), {
    description: 'stop using a token this long before its expiry; must be less than `seconds`',
    env: 'TOKEN_SAFETY_MARGIN_SECONDS',
    defaultText: 'min(5, 10 % of `seconds`)',
  }),
};

/** The same keys for one user, each left out unless given (then the top-level value applies). */
const tokenOverrides = z.strictObject({
  seconds: tokenKeys.seconds.unwrap().optional(),
  autoRefresh: tokenKeys.autoRefresh.unwrap().optional(),
  serverRefreshIntervalSeconds: tokenKeys.serverRefreshIntervalSeconds.unwrap().optional(),
  safetyMarginSeconds: tokenKeys.safetyMarginSeconds,
} satisfies Record<keyof typeof tokenKeys, z.ZodType>);

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const logLevelSchema = z.enum(LOG_LEVELS, {
  error: `must be one of ${LOG_LEVELS.join(', ')}`,
});

export const fileSchema = z.strictObject({
  vidispine: z.strictObject({
    url: key(baseUrl, {
      description:
        'VidiCore base URL, without `/API` (http or https; no credentials, query or fragment)',
      env: 'VIDISPINE_URL',
    }),
    caFile: key(text().optional(), {
      description: "extra PEM CA bundle for an https Vidispine (added to Node's)",
      env: 'VIDISPINE_CA_FILE',
    }),
    admin: z
      .strictObject({
        username: key(text(), {
          description:
            'administrator that mints tokens via `GET /API/user/{user}/token` for users without a password of their own',
          env: 'VIDISPINE_ADMIN_USER',
        }),
        ...secretFields("the administrator's", {
          password: 'VIDISPINE_ADMIN_PASSWORD',
          passwordFile: 'VIDISPINE_ADMIN_PASSWORD_FILE',
        }),
      })
      .optional(),
    mintTimeoutSeconds: key(positiveNumber().default(10), {
      description: 'a token request is abandoned after this long',
      env: 'VIDISPINE_MINT_TIMEOUT_SECONDS',
    }),
    connectTimeoutSeconds: key(positiveNumber().default(5), {
      description: 'connecting to Vidispine for a forwarded request (→ 504)',
      env: 'VIDISPINE_CONNECT_TIMEOUT_SECONDS',
    }),
    upstreamTimeoutSeconds: key(positiveNumber().default(300), {
      description: 'Vidispine sends no response headers for this long (→ 504)',
      env: 'VIDISPINE_UPSTREAM_TIMEOUT_SECONDS',
    }),
    readTimeoutSeconds: key(positiveNumber().default(300), {
      description:
        "Vidispine sends no byte of a response body for this long (slow storage included): the client's answer is cut",
      env: 'VIDISPINE_READ_TIMEOUT_SECONDS',
    }),
    maxSockets: key(positiveInt().default(256), {
      description: 'keep-alive pool size per data listener',
      env: 'VIDISPINE_MAX_SOCKETS',
    }),
  }),
  users: z
    .array(
      z.strictObject({
        name: key(text(), {
          description: 'Vidispine user whose token is attached (unique)',
          env: 'VIDISPINE_USER',
        }),
        ...secretFields("the user's", {
          password: 'VIDISPINE_PASSWORD',
          passwordFile: 'VIDISPINE_PASSWORD_FILE',
        }),
        listen: key(listenAddress.optional(), {
          description:
            'data listener acting as this user: host:port, IPv6 as `[::1]:8080`, port 0 = any free port',
          env: 'PROXY_LISTEN',
          defaultText: '— (at least one user needs one)',
          envDefault: '127.0.0.1:8080',
        }),
        selectUserHeader: key(
          text()
            .regex(HEADER_NAME, { error: 'must be an HTTP header name' })
            .transform((h) => h.toLowerCase())
            .optional(),
          {
            description: 'a request header that may name another configured user on this listener',
          },
        ),
        allowRunAs: key(bool().default(false), {
          description: "pass a client's `RunAs` header through (stripped by default)",
          env: 'ALLOW_RUNAS',
        }),
        token: key(tokenOverrides.optional(), {
          description: 'per-user values of the `token` keys, key by key',
          defaultText: 'the `token` keys',
        }),
      }),
    )
    .min(1, { error: 'list at least one user' }),
  token: z.strictObject(tokenKeys).prefault({}),
  proxy: z
    .strictObject({
      replayBufferBytes: key(nonNegativeInt().default(1024 * 1024), {
        description: 'request bodies up to this size are kept to replay after a 401',
        env: 'PROXY_REPLAY_BUFFER_BYTES',
      }),
      replayBufferTotalBytes: key(nonNegativeInt().default(16 * 1024 * 1024), {
        description:
          'all request bodies kept for replay at once, across listeners; beyond it they stream like larger bodies',
        env: 'PROXY_REPLAY_BUFFER_TOTAL_BYTES',
      }),
      clientBodyTimeoutSeconds: key(positiveNumber().default(60), {
        description: 'a client that sends no byte of its request body for this long gets 408',
        env: 'PROXY_CLIENT_BODY_TIMEOUT_SECONDS',
      }),
      expectContinueTimeoutMs: key(nonNegativeInt().default(1000), {
        description: "larger bodies wait this long for Vidispine's `100 Continue`",
        env: 'PROXY_EXPECT_CONTINUE_TIMEOUT_MS',
      }),
      accessLog: key(bool().default(false), {
        description: 'one log line per request',
        env: 'ACCESS_LOG',
      }),
    })
    .prefault({}),
  ops: z
    .strictObject({
      listen: key(
        z
          .union([z.null(), z.literal(''), z.literal('off'), listenAddress], {
            error: 'must be host:port, or "off" to disable',
          })
          .prefault('0.0.0.0:9090'),
        {
          description: 'health + metrics listener; `off` or empty (or `null` in YAML) disables it',
          env: 'OPS_LISTEN',
        },
      ),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: key(logLevelSchema.default('info'), {
        description: `${LOG_LEVELS.map((l) => `\`${l}\``).join(' ')}; the variable also overrides a file's value`,
        env: 'LOG_LEVEL',
      }),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      delaySeconds: key(nonNegativeNumber().default(5), {
        description: 'after SIGTERM, keep serving (readiness failing) this long',
        env: 'SHUTDOWN_DELAY_SECONDS',
      }),
      drainSeconds: key(nonNegativeNumber().default(30), {
        description: 'then let in-flight requests finish for at most this long',
        env: 'SHUTDOWN_DRAIN_SECONDS',
      }),
    })
    .prefault({}),
});

export type RawConfig = z.output<typeof fileSchema>;
export type RawUser = RawConfig['users'][number];
export type RawToken = RawConfig['token'];
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `host:port` as every listener key takes it (the injection webhook's too). */
export { listenAddress as listenSchema };
