import * as z from 'zod';
import { shownValue } from '../visible-text';
import { yamlBooleanProblem } from './booleans';
import { alternatives, type Problem, YAML_NAMES } from './errors';
import { key } from './keys';
import { isPortAlone, parseListen, portAlone } from './listen';
import {
  SHAPELESS_NOT_SHOWN,
  SINGLE_WORD,
  SINGLE_WORD_NOT_SHOWN,
  shownUrl,
  singleWord,
  splitUserinfo,
} from './value-shape';
import { reservedRequestHeader } from './request-headers';

/**
 * Every configuration key, once: its shape, its validation, its default and what it means.
 * The YAML file is validated against this schema; the environment is mapped onto it
 * (`env.ts`, from the `env` names below); the README's key tables are generated from it
 * (`npm run docs:config`). Every object is strict, so a misspelt key fails with its path
 * instead of being ignored. Values that need parsing (URL, listen addresses) are turned into
 * their typed form here; rules that span several keys live in `resolve.ts`.
 */

/**
 * An integer from `min` (0 or 1) to `max`, each bound with its own message. Zod's `z.int()`
 * refuses an integer past 2^53 as not "safe" and its `.max()` would then name the value a
 * second time; such a value is an integer, only out of range, so its one message is the
 * bound's it passes (the check aborts there).
 */
export const boundedInt = (min: 0 | 1, max: number, maxProblem: string) => {
  const problem = min === 1 ? 'must be a positive integer' : 'must be an integer ≥ 0';
  return z
    .int({ abort: true, error: (issue) => (issue.code === 'too_big' ? maxProblem : problem) })
    .min(min, { error: problem })
    .max(max, { error: maxProblem });
};
const text = () =>
  z.string({ error: 'must be a non-empty string' }).min(1, { error: 'must not be empty' });
const bool = () => z.boolean({ error: ({ input }) => yamlBooleanProblem(input) });

/**
 * A duration within bounds: timers cannot wait longer than Node allows (24.8 days), and a
 * value far past what makes sense is a typo (3000000 for 3000) better refused than obeyed.
 */
const duration = (min: number, max: number, unit = 'seconds', exclusiveMin = false) => {
  const range = `must be a number of ${unit} ${exclusiveMin ? 'above' : 'from'} ${min} ${exclusiveMin ? 'and up to' : 'to'} ${max}`;
  const n = z.number({ error: range });
  return (exclusiveMin ? n.gt(min, { error: range }) : n.min(min, { error: range })).max(max, {
    error: range,
  });
};

/**
 * Each connection to Vidispine takes a local port of the proxy's address, of which there are
 * 65535: a larger limit can never be reached, and is a typo (1000000000000) that would leave
 * the pools unbounded, to run out of ports and file descriptors instead of queueing.
 */
const MAX_SOCKETS = 65_535;

/**
 * A body held for replay sits in memory until its request is answered. The buffer is for
 * small bodies: a larger one goes with `Expect: 100-continue` and is replayed without being
 * held, so a body of more than 64 MiB gains nothing from it, and a size far past that is a
 * typo (1000000000000) that would let one upload take the process down.
 */
const MAX_REPLAY_BUFFER_BYTES = 64 * 1024 * 1024;

/**
 * All held bodies at once, across listeners: 64 times the default, 16 of the largest bodies
 * allowed. Beyond it lies a typo, not a setting: the injected sidecar's memory limit is
 * 192 MiB by default, and a larger total asks for a limit well above it.
 */
const MAX_REPLAY_BUFFER_TOTAL_BYTES = 1024 * 1024 * 1024;

/** Vidispine's `seconds` is a Java int. */
const MAX_TOKEN_SECONDS = 2_147_483_647;

/**
 * A Vidispine user name as the proxy must send it: in Basic credentials (where `:` ends the
 * name), as a path segment of `/API/user/{name}/token` and in a `RunAs` header. Vidispine
 * documents no rule of its own; these are the names no request could carry intact.
 */
export const userName = () =>
  text()
    .max(256, { error: 'must be at most 256 characters' })
    .refine((name) => name === name.trim(), { error: 'must not begin or end with a space' })
    // eslint-disable-next-line no-control-regex -- control characters are what it looks for
    .refine((name) => !/[\x00-\x1f\x7f-\x9f]/.test(name), {
      error: 'must not contain control characters',
    })
    .refine((name) => !/[:/\\]/.test(name), {
      error: "must not contain ':' (it ends the user name in Basic credentials), '/' or '\\'",
    })
    .refine((name) => name !== '.' && name !== '..', { error: "must not be '.' or '..'" });

/** An access key's ID (`VSID…`), sent as the Basic user name. */
export const accessKeyId = () =>
  text().regex(/^[\x21-\x39\x3b-\x7e]+$/, {
    error:
      "must be the key's ID as Vidispine shows it (e.g. VSID2C56CQTA7DWW7DLF): no spaces or ':'",
  });

/** What a custom issue carries when its message names other keys (see `load.ts`). */
export interface ProblemParams {
  readonly problem: Problem;
}

/**
 * A URL typed without its scheme: a host name or address, then maybe a port and a path (no
 * `+` or `=`, which a base64 password holds and a path rarely does).
 */
const SCHEMELESS_URL =
  /^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]*\])(?::\d*)?(?:\/[\w.~/-]*)?$/i;

/**
 * Whether a value that is no Vidispine URL may still be quoted: it starts with a scheme or
 * `//`, or has the shape of a URL without one once its userinfo is dropped, more than a single
 * word (a port, a path, a dotted name). Anything else in the URL's place (a Secret's password
 * mapped to the wrong variable, keys swapped in a file) may be the password itself.
 */
function urlShaped(value: string): boolean {
  const { prefix, rest } = splitUserinfo(value);
  return prefix !== '' || (SCHEMELESS_URL.test(rest) && !SINGLE_WORD.test(rest));
}

/** `"vidispine.media" is not a URL (e.g. http://vidispine.media)`, quoted only if `urlShaped`. */
function notAUrl(value: string, what: string): string {
  const example = `(e.g. ${exampleUrl(value)})`;
  if (urlShaped(value)) return `"${shownUrl(value)}" is not ${what} ${example}`;
  return singleWord(value)
    ? `the value is not ${what} ${example}; ${SINGLE_WORD_NOT_SHOWN}`
    : `the value is not ${what} ${example}; ${SHAPELESS_NOT_SHOWN}`;
}

/**
 * `vidispine:8080` → `http://vidispine:8080`: what the user probably meant, or a plain example.
 * Built from the value without its userinfo: credentials never belong in the URL anyway.
 */
function exampleUrl(value: string): string {
  const rest = splitUserinfo(value).rest.replace(/\/API\/?$/i, '');
  const guess = `http://${rest}`;
  return rest !== '' && urlShaped(value) && URL.canParse(guess) && !/\s/.test(rest)
    ? shownValue(guess)
    : 'http://vidispine:8080';
}

/** Adds `problem` as an issue whose message names keys as the configuration source does. */
export function addProblem(ctx: z.RefinementCtx, problem: Problem): void {
  const params: ProblemParams = { problem };
  const message = typeof problem === 'string' ? problem : problem(YAML_NAMES);
  ctx.addIssue({ code: 'custom', message, params });
}

/**
 * Whether `url` carries a user name or password, which no Vidispine URL may: also when its
 * path has an `@`, as a password of digits and a `/` leaves it (`http://admin:12/ab@host`
 * reads to every URL parser as host `admin`, port 12 and path `/ab@host`), which the URL
 * would show as it is wherever it is logged. No Vidispine base path holds an `@`.
 */
export const hasCredentials = (url: URL): boolean =>
  url.username !== '' || url.password !== '' || url.pathname.includes('@');

/** `%41` → `A`: escapes of unreserved characters, which a server reads as the characters. */
const decodeUnreserved = (path: string): string =>
  path.replace(/%([0-9a-f]{2})/gi, (escape, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return /^[A-Za-z0-9._~-]$/.test(char) ? char : escape;
  });

const baseUrl = text().transform((value, ctx) => {
  const problem = (message: Problem) => {
    addProblem(ctx, message);
    return z.NEVER;
  };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return problem(notAUrl(value, 'a URL'));
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return problem(notAUrl(value, 'an http:// or https:// URL'));
  }
  if (hasCredentials(url)) {
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
  // Judged on the path the proxy will use, trailing slashes dropped (the parser already
  // resolved dot segments), so `/API//` or `/API/./` is refused as `/API` is; and as the
  // server reads it, an escaped letter being the letter (RFC 3986 §6.2.2.2): mints at
  // `/%41PI/API/…` reach `/API/API/…` and 404.
  url.pathname = url.pathname.replace(/(?<!\/)\/+$/, '') || '/';
  const served = decodeUnreserved(url.pathname);
  const api = /\/API$/i.exec(served);
  if (api) {
    const example = shownValue(`${url.origin}${served.slice(0, api.index)}`);
    return problem(`give the base URL without /API (e.g. ${example})`);
  }
  // Port 0 only means "any port" to a listener: every mint would be refused, never a start.
  if (url.port === '0') {
    const path = url.pathname === '/' ? '' : url.pathname;
    return problem(
      `port 0 is no server's port: give the port VidiCore listens on (e.g. ${shownValue(`${url.protocol}//${url.hostname}:8080${path}`)})`,
    );
  }
  return url;
});

/** `listen: 8080` in YAML is a number: it is named as the port it is, not as "not a string". */
const listenAddress = z
  .string({
    error: ({ input }) =>
      isPortAlone(input) ? portAlone(String(input)) : 'must be host:port (e.g. 127.0.0.1:8080)',
  })
  .min(1, { error: 'must not be empty' })
  .transform((value, ctx) => {
    const parsed = parseListen(value);
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return parsed;
  });

/** The three places a password may come from; at most one is given. */
function secretFields(whose: string, env: { password?: string; passwordFile?: string } = {}) {
  return {
    password: key(z.string({ error: 'must be a string' }).optional(), {
      description: `${whose} password`,
      env: env.password,
      secret: true,
    }),
    passwordFile: key(text().optional(), {
      description: `a file holding ${whose} password (read again at every mint; trailing newline trimmed)`,
      env: env.passwordFile,
    }),
    passwordEnv: key(text().optional(), {
      description: `an environment variable holding ${whose} password`,
    }),
  };
}

/**
 * An access key (`/API/user/{u}/key`) instead of a password: Vidispine takes it as Basic
 * credentials with the key's ID in place of the user name, never under the user's name.
 */
function accessKeyBlock(
  whose: string,
  env: { id?: string; secret?: string; secretFile?: string } = {},
) {
  return z
    .strictObject({
      id: key(accessKeyId(), { description: `${whose} access key ID (\`VSID…\`)`, env: env.id }),
      secret: key(z.string({ error: 'must be a string' }).optional(), {
        description: `${whose} access key secret`,
        env: env.secret,
        secret: true,
      }),
      secretFile: key(text().optional(), {
        description: `a file holding ${whose} access key secret (read again at every mint)`,
        env: env.secretFile,
      }),
      secretEnv: key(text().optional(), {
        description: `an environment variable holding ${whose} access key secret`,
      }),
    })
    .optional();
}

/** An account that mints for other users: its name, and a password or an access key. */
function account(description: string, whose: string, env: string) {
  return z
    .strictObject({
      username: key(userName(), { description, env: `${env}_USER` }),
      ...secretFields(whose, { password: `${env}_PASSWORD`, passwordFile: `${env}_PASSWORD_FILE` }),
      accessKey: accessKeyBlock(whose, {
        id: `${env}_ACCESS_KEY_ID`,
        secret: `${env}_ACCESS_KEY_SECRET`,
        secretFile: `${env}_ACCESS_KEY_SECRET_FILE`,
      }),
    })
    .optional();
}

const tokenKeys = {
  seconds: key(
    boundedInt(
      1,
      MAX_TOKEN_SECONDS,
      `must be at most ${MAX_TOKEN_SECONDS} (Vidispine's limit)`,
    ).default(60),
    {
      description:
        'requested token lifetime, at most 2147483647 (60 is the server default and, unless the server raised `userTokenMaxInterval`, the most a non-administrator may ask for)',
      env: 'TOKEN_SECONDS',
    },
  ),
  autoRefresh: key(bool().default(false), {
    description: 'ask for a sliding-expiry token (`autoRefresh=true`)',
    env: 'TOKEN_AUTO_REFRESH',
  }),
  serverRefreshIntervalSeconds: key(duration(0, 86_400).default(10), {
    description: "the server's `userTokenRefreshInterval` (0 to 86400)",
    env: 'TOKEN_SERVER_REFRESH_INTERVAL_SECONDS',
  }),
  safetyMarginSeconds: key(duration(0, MAX_TOKEN_SECONDS).optional(), {
    description:
      "stop using a token this long before its expiry; at most half of `seconds` (once a shorter lifetime is learned from Vidispine, at most that lifetime's default applies)",
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

/** A select header, lower-cased: never one that means something else to HTTP or the proxy. */
function selectHeader(value: string, ctx: z.RefinementCtx): string {
  const name = value.toLowerCase();
  const why = reservedRequestHeader(name);
  if (why === undefined) return name;
  addProblem(
    ctx,
    `cannot be ${value}: ${why}, while a select header is read as a user name and never passed on; use a header of its own (e.g. X-Vidispine-User)`,
  );
  return z.NEVER;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** A log level is a word, read in any case as a boolean's words are (`DEBUG`, `Info`). */
export const logLevelSchema = z.preprocess(
  (value) => (typeof value === 'string' ? value.toLowerCase() : value),
  z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')} (in any case)` }),
);

/**
 * `off`, a word read in any case as a boolean's words are (`OFF`, `Off`). A check rather than
 * a string pattern: a string that fails a pattern would be the union's only near miss, and
 * its pattern, not the union's message, would be reported for every bad address.
 */
const offWord = z.custom<string>((value) => typeof value === 'string' && /^off$/i.test(value));

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
    admin: account(
      'administrator that mints tokens via `GET /API/user/{user}/token` for users without a credential of their own',
      "the administrator's",
      'VIDISPINE_ADMIN',
    ),
    runAs: account(
      'service account with the `_runas` role that mints tokens via `GET /API/token` + `RunAs: {user}` for users without a credential of their own (instead of `vidispine.admin`)',
      "the RunAs service account's",
      'VIDISPINE_RUNAS',
    ),
    mintTimeoutSeconds: key(duration(0, 300, 'seconds', true).default(10), {
      description:
        'a token request (or a check of a token) is abandoned after this long (at most 300)',
      env: 'VIDISPINE_MINT_TIMEOUT_SECONDS',
    }),
    connectTimeoutSeconds: key(duration(0, 300, 'seconds', true).default(5), {
      description:
        'connecting to Vidispine for a forwarded request, TLS handshake included (→ 504; at most 300)',
      env: 'VIDISPINE_CONNECT_TIMEOUT_SECONDS',
    }),
    upstreamTimeoutSeconds: key(duration(0, 86_400, 'seconds', true).default(300), {
      description:
        'Vidispine sends no response headers for this long (for a request without a body, counted from when it waits for a free connection), takes no byte of a request body for this long, and the longest wait for one (→ 504; at most 86400)',
      env: 'VIDISPINE_UPSTREAM_TIMEOUT_SECONDS',
    }),
    readTimeoutSeconds: key(duration(0, 86_400, 'seconds', true).default(300), {
      description:
        "Vidispine sends no byte of a response body for this long (slow storage included): the client's answer is cut (at most 86400)",
      env: 'VIDISPINE_READ_TIMEOUT_SECONDS',
    }),
    maxSockets: key(
      boundedInt(
        1,
        MAX_SOCKETS,
        `must be at most ${MAX_SOCKETS} (each connection to Vidispine takes one of the ${MAX_SOCKETS} local ports of an address)`,
      ).default(256),
      {
        description: `connections kept alive to Vidispine per data listener, for requests with a body and again for those without (at most ${MAX_SOCKETS})`,
        env: 'VIDISPINE_MAX_SOCKETS',
      },
    ),
  }),
  users: z
    .array(
      z.strictObject({
        name: key(userName(), {
          description: 'Vidispine user whose token is attached (unique)',
          env: 'VIDISPINE_USER',
        }),
        ...secretFields("the user's", {
          password: 'VIDISPINE_PASSWORD',
          passwordFile: 'VIDISPINE_PASSWORD_FILE',
        }),
        accessKey: accessKeyBlock("the user's", {
          id: 'VIDISPINE_ACCESS_KEY_ID',
          secret: 'VIDISPINE_ACCESS_KEY_SECRET',
          secretFile: 'VIDISPINE_ACCESS_KEY_SECRET_FILE',
        }),
        listen: key(listenAddress.optional(), {
          description:
            'data listener acting as this user: host:port, IPv6 as `[::1]:8080`; `[::]:8080` is every address, IPv6 and IPv4, as a gateway listens (IPv4 alone where the kernel has no IPv6); port 0 = any free port',
          env: 'PROXY_LISTEN',
          defaultText: '— (at least one user needs one)',
          envDefault: '127.0.0.1:8080',
        }),
        selectUserHeader: key(
          text()
            .regex(HEADER_NAME, { error: 'must be an HTTP header name' })
            .transform(selectHeader)
            .optional(),
          {
            description:
              'a request header that may name another configured user on this listener; never passed on, so not one with a meaning of its own (`Host`, `Authorization`, `Cookie`, `X-Request-Id`, hop-by-hop and framing headers are refused)',
          },
        ),
        allowRunAs: key(bool().default(false), {
          description:
            "pass a client's `RunAs` header through on requests acting as this user, on its own listener or picked by another's select header (stripped by default)",
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
      replayBufferBytes: key(
        boundedInt(
          0,
          MAX_REPLAY_BUFFER_BYTES,
          `must be at most ${MAX_REPLAY_BUFFER_BYTES} (64 MiB: each body held for replay sits in memory; a larger one is replayed without being held, through Expect: 100-continue)`,
        ).default(1024 * 1024),
        {
          description: `request bodies up to this size are kept to replay after a 401 (at most ${MAX_REPLAY_BUFFER_BYTES}, 64 MiB)`,
          env: 'PROXY_REPLAY_BUFFER_BYTES',
        },
      ),
      replayBufferTotalBytes: key(
        boundedInt(
          0,
          MAX_REPLAY_BUFFER_TOTAL_BYTES,
          `must be at most ${MAX_REPLAY_BUFFER_TOTAL_BYTES} (1 GiB: the bodies held for replay sit in the proxy's memory, which the injected sidecar limits to 192 MiB by default)`,
        ).default(16 * 1024 * 1024),
        {
          description: `all request bodies kept for replay at once, across listeners; beyond it they stream like larger bodies (at least \`replayBufferBytes\`, or 0: none kept; at most ${MAX_REPLAY_BUFFER_TOTAL_BYTES}, 1 GiB)`,
          env: 'PROXY_REPLAY_BUFFER_TOTAL_BYTES',
        },
      ),
      clientBodyTimeoutSeconds: key(duration(0, 3_600, 'seconds', true).default(60), {
        description:
          'a client that sends no byte of its request body for this long gets 408 (at most 3600)',
        env: 'PROXY_CLIENT_BODY_TIMEOUT_SECONDS',
      }),
      sendTimeoutSeconds: key(duration(0, 3_600, 'seconds', true).default(60), {
        description:
          'a client that takes no byte of its answer, or of a WebSocket session, for this long while the proxy holds bytes for it has its connection cut (at most 3600)',
        env: 'PROXY_SEND_TIMEOUT_SECONDS',
      }),
      keepAliveTimeoutSeconds: key(duration(0, 3_600, 'seconds', true).default(75), {
        description:
          "a client's idle keep-alive connection is closed after this long (at most 3600; announced in `Keep-Alive: timeout=`)",
        env: 'PROXY_KEEP_ALIVE_TIMEOUT_SECONDS',
      }),
      expectContinueTimeoutMs: key(
        boundedInt(0, 60_000, 'must be an integer from 0 to 60000 (ms)').default(1000),
        {
          description:
            "larger bodies wait this long for Vidispine's `100 Continue` (at most 60000)",
          env: 'PROXY_EXPECT_CONTINUE_TIMEOUT_MS',
        },
      ),
      accessLog: key(bool().default(false), {
        description: 'one log line per request, and one per WebSocket session at its end',
        env: 'ACCESS_LOG',
      }),
    })
    .prefault({}),
  ops: z
    .strictObject({
      listen: key(
        z
          .union([z.null(), z.literal(''), offWord, listenAddress], {
            error: ({ input }) =>
              isPortAlone(input)
                ? `${portAlone(String(input))}; or off to disable it`
                : 'must be host:port, or "off" to disable',
          })
          .prefault('0.0.0.0:9090'),
        {
          description:
            'health + metrics listener; `[::]:9090` is every address, IPv6 and IPv4 (IPv4 alone where the kernel has no IPv6); `off` (in any case) or empty (or `null` in YAML) disables it',
          env: 'OPS_LISTEN',
        },
      ),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: key(logLevelSchema.default('info'), {
        description: `${LOG_LEVELS.map((l) => `\`${l}\``).join(' ')} (in any case); the variable also overrides a file's value`,
        env: 'LOG_LEVEL',
      }),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      delaySeconds: key(duration(0, 3_600).default(5), {
        description: 'after SIGTERM, keep serving (readiness failing) this long (at most 3600)',
        env: 'SHUTDOWN_DELAY_SECONDS',
      }),
      drainSeconds: key(duration(0, 86_400).default(30), {
        description: 'then let in-flight requests finish for at most this long (at most 86400)',
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
