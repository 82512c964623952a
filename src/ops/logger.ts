/**
 * JSON logs to stdout. Every argument of every log call passes through `redactValue` first,
 * so a secret is removed wherever it sits: under a sensitive key at any depth (`isSecretKey`:
 * authorization, cookie, passwordHash, client_secret, tokenValue, …), as the `value` of a
 * `{name, value}` pair so named, or inside a string (URL credentials, `?token=`, `?passkey=`,
 * `Authorization: token …`, `X-Api-Key: …`, `Basic …`, a PEM private key). So do a child's
 * bindings, as they are bound. An error is logged as a plain object, an AggregateError's
 * `errors` included.
 */
import { writeSync } from 'node:fs';
import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import { isoTime } from '../clock-text';
import { REDACTED } from '../visible-text';

export type Logger = PinoLogger;

export interface LoggerOptions {
  readonly level: string;
  /** Where lines go; stdout (synchronous, so a last line before exit is never lost) by default. */
  readonly destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const logger = pino(
    {
      level: options.level,
      base: { service: 'vidispine-auth-proxy' },
      // pino's own isoTime, without `Date`'s formatting (see clock-text).
      timestamp: () => `,"time":"${isoTime(Date.now())}"`,
      formatters: { level: (label) => ({ level: label }) },
      // Errors are already plain objects (redactValue); pino's own serializer would re-type them.
      serializers: { err: (error: unknown) => error },
      hooks: {
        logMethod(args, method) {
          method.apply(this, args.map(redactValue) as Parameters<typeof method>);
        },
      },
    },
    options.destination ?? stdoutDestination(),
  );
  return censorBindings(logger);
}

/**
 * A child's bindings skip the log-method hook, and pino's `redact` knows exact names only
 * (`password`, not `passwordHash` or `Cookie`): they pass through `redactValue` as they are
 * bound instead. pino makes each child with `Object.create` of its parent, so every
 * generation inherits this `child`.
 */
function censorBindings(logger: Logger): Logger {
  const bind = logger.child;
  logger.child = function (this: Logger, bindings, options) {
    return bind.call(this, redactValue(bindings) as pino.Bindings, options);
  } as Logger['child'];
  return logger;
}

/** What a log write that failed leaves behind, at most, for when writing works again. */
const LOG_BACKLOG_BYTES = 1024 * 1024;

/** How the log tells that it cannot be written: on stderr, where a write that fails is dropped too. */
function reportOnStderr(text: string): void {
  try {
    writeSync(2, text);
  } catch {
    // Nowhere left to tell.
  }
}

/**
 * Whether a write stdout cannot take now (EAGAIN: its reader is behind) is retried until it
 * can: pino retries every 100 ms, for as long as it takes.
 */
let waitForStdout = true;

/**
 * The process exits at once (an operator's second signal): from now on a line stdout cannot
 * take now is dropped, as a line that fails is, rather than waited for. The cut's access
 * lines are written right before that exit, one per request in flight: waited for, a reader
 * that stopped would hold the exit forever, where the one line that asks for it fit.
 */
export function stopWaitingForStdout(): void {
  waitForStdout = false;
}

/**
 * stdout, written synchronously (so a last line before exit is never lost). A line that
 * cannot be written — a full disk (ENOSPC), a terminal gone (EIO) — must not take the
 * serving process down with it, as an unhandled stream error would: the line stays in a
 * backlog of at most `LOG_BACKLOG_BYTES`, written first once writing works again, and lines
 * beyond it are dropped. Each spell of failures is told once on stderr. A reader that went
 * away (EPIPE) is pino's own: it stops writing, without a word.
 */
function stdoutDestination(): DestinationStream {
  const stream = pino.destination({
    dest: 1,
    sync: true,
    maxLength: LOG_BACKLOG_BYTES,
    retryEAGAIN: () => waitForStdout,
  });
  let failing = false;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || failing) return;
    failing = true;
    // Not waiting for stdout any more means the process is on its way out.
    const after = waitForStdout ? 'still serving' : 'exiting';
    reportOnStderr(
      `vidispine-auth-proxy: cannot write the log to stdout (${err.message}): its lines are dropped until it can; ${after}\n`,
    );
  });
  stream.on('write', () => {
    failing = false;
  });
  return stream;
}

/**
 * Words a key's value is secret by, besides those of a credential's parameter name
 * (`isCredentialWord`): headers (`authorization`, `proxy-authorization`, `cookie`,
 * `set-cookie`), and the short names of a password, of credentials (`creds`), or of Node's
 * `auth: 'user:password'`.
 */
const SECRET_KEY_END = /(?:authorization|cookie|cookies)$/;
const SECRET_KEY_WORD: ReadonlySet<string> = new Set(['auth', 'pwd', 'pass', 'cred', 'creds']);
/**
 * Last words of a key that say something about a secret without holding it: when it lapses,
 * its state, where it is read from (a file's path or a variable's name is no secret), how
 * many or how long, what kind, where it is minted, the Kubernetes Secret it is in, whether
 * or how often it is renewed (`TOKEN_AUTO_REFRESH`, Vidispine's `userTokenMaxInterval`: a
 * refresh token's name ends with `token`).
 */
const HARMLESS_LAST_WORD: ReadonlySet<string> = new Set([
  ...['at', 'expires', 'expiry', 'expiration', 'expired', 'state', 'status', 'mode'],
  ...['file', 'path', 'dir', 'folder', 'env', 'count', 'total', 'reads', 'seconds', 'ms'],
  ...['lifetime', 'ttl', 'length', 'size', 'bytes', 'url', 'uri', 'endpoint', 'type'],
  ...['kind', 'algorithm', 'scheme', 'name', 'ref', 'refresh', 'interval'],
]);
/**
 * Kubernetes' list of the names of the Secrets a pod pulls images with, under any prefix
 * (the injector's `SIDECAR_IMAGE_PULL_SECRETS`).
 */
const HARMLESS_KEY_END = 'imagepullsecrets';

/**
 * Whether a logged key's value is secret. The key is read as its words, as a parameter's
 * name is (`nameWords`: `passwordHash`, `password_hash`, `x-api-key`, `AWSAccessKeyId`): it
 * is secret when a word, or two that follow each other (`api`, `key`), is a credential's
 * (`password`, `token`, `secret`, `credentials`, `accesskey`, `apikey`, `privatekey`,
 * `signature`, `sessionid`, … as `isCredentialWord` reads them; `authorization`, `cookie`,
 * `auth`, `pwd`), unless its last word only speaks of the secret (`tokenExpiresAt`,
 * `passwordFile`, `secretEnv`, `credentialKind`, `token_refreshes_total`). A last word that
 * names the value (`passwordHash`, `tokenValue`, `apiKeySecret`), or one not known to be
 * harmless, leaves it secret: a value blanked costs less than one logged. `Id` is harmless
 * after `key` only: an access key's ID (`VSID…`, AWS's `AKIA…`) is the name its Basic login
 * sends, not its secret (the key's `secret` is), where a token's or a session's ID is the
 * credential itself (Vault's token ID, `JSESSIONID`).
 */
export function isSecretKey(key: string): boolean {
  const known = secretKeys.get(key);
  if (known !== undefined) return known;
  const secret = readsAsSecretKey(key);
  if (key.length <= MEMO_KEY_LENGTH) {
    if (secretKeys.size >= MEMO_KEYS) secretKeys.clear();
    secretKeys.set(key, secret);
  }
  return secret;
}

/**
 * `isSecretKey`'s answers: every line asks again for the same dozen keys (an access line's
 * `event`, `requestId`, `path` …), and reading one as its words costs about 20 times a look-up
 * (0.4 µs a key, 4 µs an access line). Bounded, as the names of a logged header list are a
 * client's: keys of at most `MEMO_KEY_LENGTH` characters, at most `MEMO_KEYS` of them,
 * all forgotten when it is full, so the keys of the log's own lines come back after a flood.
 */
const secretKeys = new Map<string, boolean>();
const MEMO_KEYS = 512;
const MEMO_KEY_LENGTH = 64;

/** A key read as `isSecretKey` describes, each time anew. */
function readsAsSecretKey(key: string): boolean {
  const words = nameWords(jsonUnescaped(key));
  if (words.length === 0 || words.join('').endsWith(HARMLESS_KEY_END)) return false;
  const last = words.length - 1;
  if (HARMLESS_LAST_WORD.has(words[last])) return false;
  if (words[last] === 'id' && words[last - 1] === 'key') return false;
  return words.some(
    (word, i) => isSecretKeyWord(word) || (i > 0 && isSecretKeyWord(words[i - 1] + word)),
  );
}

// A JSON escape of a character by its code (`\u0070`), or its backslash escaped once more
// (`\\u0070`, JSON in a JSON string).
const JSON_ESCAPE = /\\{1,2}u([\da-f]{4})/gi;

/**
 * A key as JSON reads it: a key read from text may have escaped letters (`"\u0070assword"`
 * is `password` to every JSON parser), which would otherwise split it into other words.
 */
function jsonUnescaped(key: string): string {
  if (!key.includes('\\')) return key;
  return key.replace(JSON_ESCAPE, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Whether a word of a key, or two run together, makes its value secret. */
function isSecretKeyWord(word: string): boolean {
  return isCredentialWord(word) || SECRET_KEY_END.test(word) || SECRET_KEY_WORD.has(word);
}

// A credential-looking word: long, or containing a digit, so "token expired" stays readable.
const CREDENTIAL = String.raw`(?=[\w.~+/=-]{16,}|[\w.~+/=-]*\d)[\w.~+/=-]{6,}`;

// A URL's scheme, from the start of its run of scheme characters only: from every letter in
// it (`\b` after each dot of `a.a.a…`), each try read the rest of the run again, quadratic
// in its length (0.1 s for a logged path of 8 KiB).
const SCHEME = '(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*';
// A URL sent as a parameter's value is percent-encoded once, or again by each client that
// encodes it on: read up to three times, `%3a`, `%253a`, `%25253a`.
const ENCODING_LEVELS = 3;
// A character percent-encoded once to `ENCODING_LEVELS` times: `%`, and a `25` for each time
// more.
const ENCODED = `%(?:25){0,${ENCODING_LEVELS - 1}}`;

// A URL's delimiters, as written or percent-encoded `level` times or fewer (as a decoder
// that stops early leaves them).
function delimiter(literal: string, hex: string, level: number): string {
  return String.raw`(?:${literal}|%(?:25){0,${level - 1}}${hex})`;
}

// What a password read across a `/` holds: anything but a blank or `excluded`, and a `?`,
// `#` or `&` other than `stop`s (which end a parameter's value): one of `starts` only when
// no parameter begins with it, a name and its `=`, where a query goes on after a URL that had
// no `@` (`?uri=s3://K:ab/cd&notify=ops@corp.example`): `http://admin:p/a&s?s#w@host` is
// blanked.
function acrossPassword(excluded: string, stop: string, starts: string): string {
  const delimiters = [...'?#&'].filter((c) => !stop.includes(c));
  const free = delimiters.filter((c) => !starts.includes(c)).join('');
  const parameter = delimiters.filter((c) => starts.includes(c)).join('');
  return String.raw`(?:[^\s${excluded}?#&]${free === '' ? '' : `|[${free}]`}|[${parameter}](?![^\s=&?#/@]*=))`;
}

// Where a parameter may begin after a URL that is a parameter's value: its query goes on
// there. A URL anywhere else has parameters of its own after its `?` only, and an `&`
// before it is its path's, or its password's (`http://admin:p/a&s=…@host`).
const PARAMETER_STARTS = '?#&';
const URL_PARAMETER_STARTS = '?#';

// A `"` that closes a JSON string: followed by `,`, `:`, `}` or `]`.
const QUOTE_END = String.raw`"[,:}\]]`;

/**
 * A URL's password, blanked from `userinfo` (the URL up to the `:` before it) to the `@` it
 * ends at. RFC 3986 ends the userinfo at the last `@` before the first `/`; but a storage
 * URI's password is written as it is, `/` and all (`s3://AKIA…:ab/cd@bucket/key`: about
 * half of AWS secret keys have a `/`), so a password that has a `/` before any `@` ends at
 * the last `@` before the first `/` that follows an `@` (`s3://K:a/b@bucket/path@x` keeps
 * `bucket/path@x`). A URL with no `:` after its host (`http://host/path?u=a@b`) has no
 * password to blank, nor one whose host and port read as a username and such a password
 * (`keepHostAndPort`). A `"` that closes a JSON string ends a URL (JSON quoted in
 * a message keeps the fields after it), `stop` a value (a query's `&`, a fragment's `#`),
 * and a password read across a `/` ends at a `:/` too (where a next URL begins), so that no
 * run of text is read again from each URL in it.
 */
function userinfoRule(
  userinfo: string,
  slash: string,
  at: string,
  colon: string,
  stop: string,
  starts = PARAMETER_STARTS,
): RegExp {
  const before = String.raw`(?:(?!${slash}|${QUOTE_END})[^\s/${stop}])+`;
  const across =
    String.raw`(?:(?!${at}|${colon}${slash}|${QUOTE_END})${acrossPassword('', stop, starts)})*${slash}` +
    String.raw`(?:(?!${slash}|${QUOTE_END})${acrossPassword('/', stop, starts)})*`;
  return new RegExp(String.raw`(${userinfo})(?:${before}|${across})(?=${at})`, 'gi');
}

type Replacer = (match: string, first: string, second: string, third: string) => string;

/**
 * The rule for a URL percent-encoded in a parameter's value whose userinfo's `:` is encoded
 * `level` times or fewer: the `@` and `/` that end its password are its own delimiters when
 * encoded as many times or fewer, its password's characters when encoded more (encoded once
 * before the URL was: `bob%3Apw%2540x%40host`). Its scheme may be encoded fewer times than
 * the rest (`s3%3A%2F%2FK%253A…%2540bucket`: the rest encoded once more before it was
 * joined to the scheme) or more: the scheme's `://` at any level.
 */
function encodedUserinfoRule(level: number): readonly [RegExp, Replacer] {
  const colon = delimiter(':', '3a', level);
  const slash = delimiter('\\/', '2f', level);
  const at = delimiter('@', '40', level);
  const userinfo =
    String.raw`${SCHEME}${ENCODED}3a(?:\/|${ENCODED}2f){2}` +
    String.raw`(?:(?!${colon}|${slash})[^\s/&#])+${colon}`;
  return [userinfoRule(userinfo, slash, at, colon, '&#'), keepHostAndPort];
}

const HTTP_URL = /^https?(?::|%)/i;
// A port's digits, then its path's `/` (JSON may escape it: `\/`).
const PORT_THEN_PATH = /^\d{1,5}(?:\\?\/|%(?:25)*2f)/i;
const IPV6_HOST = /(?:\/|%(?:25)*2f)(?:\[|%(?:25)*5b)/i;

/**
 * A userinfo rule's match blanked, unless it is a host and port followed by a path with an
 * `@` in it, which Vidispine's own URLs carry (`/API/user/ops@corp.example/token`, in an
 * absolute-form request line or a redirect): an http(s) URL's digits before a `/`
 * (`http://vidispine:8080/API/user/ops@…`) are its port, since every HTTP client ends the
 * authority at the first `/` and so no password of one holds a `/`; a `[` where the
 * username would begin opens an IPv6 host (`http://[::1]:8080/…`), a `[` being no part of
 * a username. A storage URI's password keeps its digits (`s3://K:12/cd@bucket`).
 */
function keepHostAndPort(match: string, userinfo: string): string {
  const password = match.slice(userinfo.length);
  const hostAndPort =
    (HTTP_URL.test(userinfo) && PORT_THEN_PATH.test(password)) || IPV6_HOST.test(userinfo);
  return hostAndPort ? match : `${userinfo}${REDACTED}`;
}

const BASE64 = /^(?:[a-z\d+/]{4})*(?:[a-z\d+/]{2}==|[a-z\d+/]{3}=)?$/i;
// What a Basic credential decodes to: a user ID and a password, a `:` between them (RFC 7617),
// in printable characters; a word of prose decodes to bytes that are not.
const USER_PASS = /^[^\p{Cc}\uFFFD:]*:[^\p{Cc}\uFFFD]*$/u;

/**
 * A `Basic` followed by what is a credential, blanked: base64 that decodes to `user:pass`.
 * The `token <t>` rule reads a credential by its look (long, or with a digit), which a short
 * login's base64 (`YTpi`, `dXNlcjpwYXNz`) does not have; decoded, it is told apart from a
 * word of prose (`Basic auth`, `Basic realm=…`), without a digit or length to go by.
 */
function basicCredential(match: string, scheme: string, blank: string, value: string): string {
  const credential =
    BASE64.test(value) && USER_PASS.test(Buffer.from(value, 'base64').toString('utf8'));
  return credential ? `${scheme}${blank}${REDACTED}` : match;
}

// A literal URL up to the `:` before its password.
const LITERAL_USERINFO = String.raw`${SCHEME}:\/\/(?:(?!${QUOTE_END})[^\s:/])+:`;

// URL userinfo: scheme://user:password@host. A username that is an address, or a password,
// may keep its `@` (`ftp://ops@corp.example:p@ss@host`): URL parsers take the userinfo up
// to the last `@` before the path, and so does this; a password without `/` may hold an
// `&`. See userinfoRule for one with a `/`, and literalPassword for a URL that is a
// parameter's value.
const LITERAL_URL = userinfoRule(LITERAL_USERINFO, '\\/', '@', ':', '', URL_PARAMETER_STARTS);
// The same URL as a parameter's value, read where it begins: its query goes on after it.
const VALUE_URL = new RegExp(userinfoRule(LITERAL_USERINFO, '\\/', '@', ':', '').source, 'iy');

/**
 * A literal URL's match blanked as `keepHostAndPort` says. One that is a parameter's value
 * (after an `=`) is read again where a parameter may begin at an `&` too (PARAMETER_STARTS):
 * `?uri=s3://K:ab/cd&notify=ops@corp.example` has no password, the query going on after
 * `cd`. Read again only then: one rule for every URL, where a rule for each kind would read
 * every line once more.
 */
function literalPassword(match: string, userinfo: string, offset: number, text: string): string {
  if (text[offset - 1] !== '=') return keepHostAndPort(match, userinfo);
  VALUE_URL.lastIndex = offset;
  const value = VALUE_URL.exec(text)?.[0];
  return value === undefined ? match : keepHostAndPort(value, userinfo) + match.slice(value.length);
}

// The same URL in JSON that escapes each `/` as `\/` (PHP's json_encode, Java's writers:
// `"http:\/\/admin:…@host\/API"`), read up to its `@` as the other is. A rule of its own,
// read only in text that has such a URL, rather than an optional `\` before every `/` of the
// other, which every line with a URL reads.
const ESCAPED_USERINFO = String.raw`${SCHEME}:\\\/\\\/(?:(?!${QUOTE_END})[^\s:/\\])+:`;
const ESCAPED_URL = userinfoRule(ESCAPED_USERINFO, '\\\\\\/', '@', ':', '', URL_PARAMETER_STARTS);
const ESCAPED_SLASHES = ':\\/\\/';

/**
 * `text` with the password of every URL written in it as it is blanked (`literalPassword`),
 * or with its slashes escaped (`keepHostAndPort`).
 */
function redactUrlPasswords(text: string): string {
  // Most of what is logged has no URL in it: not read at all.
  const literal = text.includes('://') ? text.replace(LITERAL_URL, literalPassword) : text;
  return literal.includes(ESCAPED_SLASHES)
    ? literal.replace(ESCAPED_URL, keepHostAndPort)
    : literal;
}

const TEXT_RULES: ReadonlyArray<readonly [RegExp, string | Replacer]> = [
  // Authorization / Set-Cookie header values quoted in messages or JSON: the whole value,
  // up to a Set-Cookie's attributes (`; Path=/`). An Authorization value whose scheme is
  // followed by parameters (RFC 9110's `#auth-param`: Digest's `response="…"`, OAuth 1.0's
  // `oauth_signature="…"`, AWS Signature V4's `Signature=…`) goes with all of them, quoted
  // values (`\"` in JSON) and the commas between them included: up to the first `"` or `,`,
  // the Digest response hash would be kept. A list or an object of values
  // (`"set-cookie":["…","…"]`) is the field rule's (`redactNamedValues`), which blanks all of it.
  [
    /\b((?:proxy-)?authorization|set-cookie)("?\s*[:=]\s*"?)(?![\s[{])(?:[\w!#$%&'*+.^`|~-]+[\t ]+[\w!#$%&'*+.^`|~-]+[\t ]*=[\t ]*(?:\\?"(?:[^"\\\r\n]|\\[^"\r\n])*\\?"|[^\s",\\]+)(?:[\t ]*,[\t ]*[\w!#$%&'*+.^`|~-]+[\t ]*=[\t ]*(?:\\?"(?:[^"\\\r\n]|\\[^"\r\n])*\\?"|[^\s",\\]+))*|[^\r\n,;}"]+)/gi,
    `$1$2${REDACTED}`,
  ],
  // A Cookie header's: all its cookies, which it joins with `; ` (RFC 6265, section 4.2.1),
  // a value in quotes (`lang="en"`, `lang=\"en\"` in JSON) included, where any other `"`
  // ends it, as it closes the JSON string it is in.
  [
    /(?<!set-)\b(cookie)("?\s*[:=]\s*"?)(?![\s[{])(?:[^\r\n,}"]|(?<==\\?)"[^"\r\n]*")+/gi,
    `$1$2${REDACTED}`,
  ],
  // "Basic <base64>" whose base64 reads as `user:password`, however short (`Basic YTpi`); a
  // `.` after it ends a sentence, unless a token goes on after it (`Basic a.b`).
  [/\b(basic)(\s+)([a-z\d+/]+={0,2})(?![\w+/=~-]|\.[\w+/=.~-])/gi, basicCredential],
  // "Basic <base64>", "Bearer <t>", "token <t>" (Vidispine's scheme).
  [new RegExp(String.raw`\b(basic|bearer|token)(\s+)${CREDENTIAL}`, 'gi'), `$1$2${REDACTED}`],
  // A URL's password as written is literalPassword's (`redactUrlPasswords`). The same URL
  // percent-encoded in a parameter's value (`?uri=s3%3A%2F%2Fkey%3Asecret%40bucket`,
  // as an import or a storage method sends a storage's URL), once or more: its `:`, `/` and
  // `@` come as %3A, %2F and %40 (%253A … twice), and it ends with the value (at `&`, or a
  // fragment's `#`), where a literal URL's password may hold an `&`. Read at each level in
  // turn, the fewest first, so that a password is blanked up to the `@` of the level its `:`
  // is at, or else of the next.
  ...Array.from({ length: ENCODING_LEVELS }, (_, i) => encodedUserinfoRule(i + 1)),
];

// Query or matrix parameters that carry credentials: ?token=…, ;password=…, &access_key=…,
// user[password]=…, ;jsessionid=… (a Java server's session in the path), ?jwt=…, and the
// `passkey` or `hash` that is the whole credential of a Vidispine signed upload URL. A name
// is read as its words (split at what is not a letter, and where a digit or a capital begins
// one: `X-Amz-Security-Token`, `sessionToken`, `AWSAccessKeyId`, `newPassword2`): it is a
// credential's when one word, or two that follow each other (`access_key`, `session_id`),
// is or ends with a credential's word (`authtoken`, `client_secret`, `jsessionid`); `auth`,
// `oauth` (OAuth 1.0's `oauth_verifier`) and `session` only as words of their own, being
// the ends of ordinary words (`possession`).
// Not a word's start or middle (`author`, `sessionless`, `secretary`, `tokenizer`); short
// names by their exact name only, being words of ordinary names (`sort_key`, `hashtag`):
// `hash`, `key` (an API key), `sig` (Azure's signature), `pwd`, `pass`.
// A name in one word is often a credential's word and what follows it run together
// (`passwordhash`, `apikeyvalue`, `tokenid`; ASP's session cookie, `ASPSESSIONIDQQGGQ`). So
// a word, or two that follow each other, that begins with a credential's word that begins
// no English word (`password`, `apikey`, `aspsessionid`, …) is one; one that begins with
// `token`, `secret` or `session`, which begin ordinary words (`tokenizer`, `secretary`,
// `sessions`), only when the rest names a value (`tokenvalue`, `secretid`). `passwordless`
// is blanked with them: a value blanked costs less than one logged.
const CREDENTIAL_END =
  /(?:token|tokens|password|passwords|passwd|passphrase|passkey|secret|secrets|credential|credentials|signature|sessionid|sessid|accesskey|apikey|privatekey|secretkey|authkey|authcode|sessionkey|jwt)$/;
const CREDENTIAL_START =
  /^(?:password|passwd|passphrase|passcode|apikey|accesskey|secretkey|privatekey|sessionid|sessid|aspsessionid|(?:token|secret|session)(?:id|value|val|key|hash|str|string|data|hex|b64|base64)$)/;
const CREDENTIAL_WORD: ReadonlySet<string> = new Set(['auth', 'oauth', 'authorization', 'session']);
const CREDENTIAL_NAME: ReadonlySet<string> = new Set(['hash', 'key', 'sig', 'pwd', 'pass']);
// In a path, a value ends with its segment (the path goes on after it); in a query, / and ?
// belong to the value, which ends at the next parameter, or where a `?` begins the query of
// a URL written in it as it is (`?uri=https://b/a.mp4?X-Amz-Signature=…`): a `?` followed by
// a name and `=`, whose parameters are read in turn.
// A `#` begins parameters too: Node's parser keeps the fragment a client sends
// (`?x=1#access_token=…`), and the access log logs it.
const PATH_PARAMETER = /([;&#])([^=&;#/?]*)(=)[^&;#/]*/g;
const QUERY_PARAMETER = /([?&;#]|^)([^=&;#?]*)(=)(?:[^&;#?]|\?(?![^=&;#?]*=))*/g;
// A run that begins with a parameter is a query without its `?` (a form's body, what
// URLSearchParams writes: `api_key=…&format=json`), its first parameter included.
const LEADING_PARAMETER = /^[^=&;#/?]+=/;
// The query of a URL that is itself a parameter's value (`?uri=https%3A%2F%2F…%3Fsig%3D…`,
// an import from a presigned S3 or Azure SAS URL): its ?, & and = come as %3F, %26 and %3D,
// or %253F, %2526 and %253D when the URL was encoded twice (%25253F… three times, as many
// levels as ENCODING_LEVELS: `{0,2}`), or by itself, at a word's start, right after an `=`
// (`?state=api_key%3D…`: a query that is a parameter's value, its first parameter) or after
// a quote that opens a string (`{"q":"token%3D…"}`, JSON in a message), which is no part of
// the name. A name holds no `/` or `:`, as written or encoded: before an `=` in a path's segment
// (`/API/item/VX-1/token%3D1/refresh`), or in a value that is a path or a URL
// (`?path=/mnt/secrets/a%3D1.mov`), the words are the path's, not a parameter's name. A
// literal, unlike the rules built above, so that ESLint checks it for super-linear time.
const ENCODED_PARAMETER =
  /(%(?:25){0,2}3f|%(?:25){0,2}26|(?<![^="']))((?:(?!%(?:25){0,2}(?:3d|26|3f|2f|3a))[^=&;#?/:"'])*)(%(?:25){0,2}3d)(?:(?!%(?:25){0,2}26)[^&;#])*/gi;
const RUN = /\S+/g;
// A quote that closes what it quotes: followed by `,`, `:`, `}`, `]`, `)` or the end of the
// run. Any other is part of a value: encodeURIComponent sends a password's `'` as it is.
const CLOSING_QUOTE = /(["'](?=[,:}\])]|$))/;
const PERCENT_ESCAPE = /%([0-9a-f]{2})/gi;

/**
 * Whether a parameter's name says its value is a credential, read as the server reads it:
 * once percent-decoded (`%74oken` is `token` to Vidispine).
 */
function isCredentialName(name: string): boolean {
  const decoded = name.replace(PERCENT_ESCAPE, (_, hex: string) =>
    String.fromCharCode(parseInt(hex, 16)),
  );
  if (CREDENTIAL_NAME.has(decoded.toLowerCase())) return true;
  const words = nameWords(decoded);
  return words.some(
    (word, i) =>
      CREDENTIAL_WORD.has(word) ||
      isCredentialWord(word) ||
      (i > 0 && isCredentialWord(words[i - 1] + word)),
  );
}

/** Whether a word of a name, or two run together, ends or begins as a credential's. */
function isCredentialWord(word: string): boolean {
  return CREDENTIAL_END.test(word) || CREDENTIAL_START.test(word);
}

type CharKind = 'lower' | 'upper' | 'digit' | 'other';

function charKind(char: string): CharKind {
  if (char >= 'a' && char <= 'z') return 'lower';
  if (char >= 'A' && char <= 'Z') return 'upper';
  if (char >= '0' && char <= '9') return 'digit';
  return 'other';
}

/**
 * A parameter's name as its words, lower-cased: split at what is not a letter or digit,
 * between letters and digits, before a capital after a small letter (`sessionToken`) and
 * before the last capital of a run followed by a small letter (`AWSAccess`). One pass, no
 * pattern: a name is as long as a client makes it. Each word is cut out of the name where it
 * ends, not built a character at a time: appended to, a word of 160 KB took seconds once V8
 * had optimised the loop on other names.
 */
function nameWords(name: string): string[] {
  const words: string[] = [];
  let start = -1;
  for (let i = 0; i < name.length; i += 1) {
    const kind = charKind(name[i]);
    const previous = i > 0 ? charKind(name[i - 1]) : 'other';
    const next = i + 1 < name.length ? charKind(name[i + 1]) : 'other';
    const begins =
      kind !== previous &&
      !(kind === 'lower' && previous === 'upper') &&
      !(kind === 'upper' && previous === 'upper');
    const capitalBeginsWord = kind === 'upper' && previous === 'upper' && next === 'lower';
    if ((begins || capitalBeginsWord || kind === 'other') && start >= 0) {
      words.push(name.slice(start, i).toLowerCase());
      start = -1;
    }
    if (kind !== 'other' && start < 0) start = i;
  }
  if (start >= 0) words.push(name.slice(start).toLowerCase());
  return words;
}

function redactParameter(
  parameter: string,
  separator: string,
  name: string,
  equals: string,
): string {
  return isCredentialName(name) ? `${separator}${name}${equals}${REDACTED}` : parameter;
}

/**
 * A run of text without whitespace, its credential parameters blanked: those before its
 * first `?` as a path's, the rest as a query's, and those of a percent-encoded URL in a
 * value. A closing quote ends a value (a path quoted in a message or in JSON ends there,
 * `'/API/x?token=…', then`) but not the query: after `"/a?x=1",` the text is still read as
 * query; a quote within a value is part of it (`?password=it's%2Fmine`, `?q='&token=ab/cd`).
 */
function redactRun(run: string): string {
  let inQuery = false;
  return run
    .split(CLOSING_QUOTE)
    .map((piece) => {
      if (inQuery) return redactQuery(piece);
      if (LEADING_PARAMETER.test(piece)) {
        inQuery = true;
        return redactQuery(piece);
      }
      const query = piece.indexOf('?');
      if (query < 0) return redactEncoded(piece.replace(PATH_PARAMETER, redactParameter));
      inQuery = true;
      const path = piece.slice(0, query).replace(PATH_PARAMETER, redactParameter);
      return redactEncoded(path) + redactQuery(piece.slice(query));
    })
    .join('');
}

function redactQuery(query: string): string {
  return redactEncoded(query.replace(QUERY_PARAMETER, redactParameter));
}

function redactEncoded(text: string): string {
  // Nothing is encoded without a `%`: most of what is logged is not read at all.
  if (!text.includes('%')) return text;
  return redactEncodedFields(text.replace(ENCODED_PARAMETER, redactParameter));
}

// A header block, or a field, percent-encoded in a parameter's value (`?h=authorization%3A%20
// Basic%20…%0D%0Aaccept%3A%20*`): a name at a word's start, after an `=` or after an encoded
// character (`%0A`, the line before it), its encoded `:` and blanks, up to where its value
// begins. JSON encoded so (`%7B%22password%22%3A%22…%22%7D`, as encodeURIComponent or
// URLSearchParams writes it): the name's closing quote before the `:`, and the quote that
// opens the value (%22 or %27). After that closing quote, the `:` may be as it is: the URL
// standard's query encoding (fetch, undici, a browser, Node's URL) encodes quotes but not
// `{`, `:` or `,` (`?q={%22password%22:%22…`).
const ENCODED_FIELD =
  /(?:^|[^\w./%-]|%(?:25){0,2}[\da-f]{2})([a-z][\w-]*)(?:%(?:25){0,2}2[27](?:%(?:25){0,2}3a|:)|%(?:25){0,2}3a)(?:%(?:25){0,2}20|\+)*(?:%(?:25){0,2}(2[27]))?/gi;
// Such a value: one in quotes up to its closing quote, the one it opened with, a JSON escape
// in it (`%5C%22`, an escaped `"`) its own; any other up to the end of its line (`%0D`,
// `%0A`), the parameter (`&`, `%26`) or the fragment.
const ENCODED_QUOTED_VALUES: Readonly<Record<string, RegExp>> = {
  '22': /(?:%(?:25){0,2}5c%(?:25){0,2}[\da-f]{2}|(?!%(?:25){0,2}(?:0d|0a|26|22))[^&#])+/iy,
  '27': /(?:%(?:25){0,2}5c%(?:25){0,2}[\da-f]{2}|(?!%(?:25){0,2}(?:0d|0a|26|27))[^&#])+/iy,
};
const ENCODED_VALUE = /(?:(?!%(?:25){0,2}(?:0d|0a|26))[^&#])+/iy;

/**
 * `text` with the value of every encoded field whose name the key policy calls secret
 * blanked. Only a secret field's value is read and skipped: a field's value that is not
 * (`%22page%22%3A1`, read to the end of its parameter) would hide the fields after it.
 */
function redactEncodedFields(text: string): string {
  return blankValuesAfter(text, ENCODED_FIELD, ([, name, quote], start) => {
    if (!isSecretKey(name)) return 0;
    const value = quote === undefined ? ENCODED_VALUE : ENCODED_QUOTED_VALUES[quote];
    return valueLength(value, text, start);
  });
}

/**
 * A name and the `:` after it, as a header's in a header block or an error's message, or a
 * key's in JSON (`"X-Api-Key":"…"`), in JSON quoted in a JSON string (`\"password\":\"…`)
 * or as util.inspect writes it (`'x-api-key': '…'`, `password: '…'`): from the start of a
 * word only, not within a path (`/API/token:1`), a dotted key's path or a URL (whose
 * `user:password@` has its own rule). A JSON key's letters may be escaped (`\u0070assword`):
 * such a name begins at its first escape's backslash, never after a backslash (at an escape's
 * `u`), or each `u` of a run of escapes would read the rest of the run again, quadratic in
 * its length (80 ms for a logged path of 8 KiB, seconds for 64 KiB).
 */
const NAMED =
  /(?<![\w./\\-])((?:[a-z]|\\{1,2}u[\da-f]{4})(?:[\w-]|\\{1,2}u[\da-f]{4})*)((?:\\?["'])?[\t ]*:[\t ]*(?:\\?["']|`)?)/gi;
// What such a value is, as an Authorization value is: up to the end of its line, a `,`,
// `;`, `}` or a `"` that closes a JSON string.
const NAMED_VALUE = /[^\r\n,;}"]+/y;
const CREDENTIAL_VALUE = new RegExp(CREDENTIAL, 'y');
// The quote a separator opens its value with, and where such a value ends: at its closing
// quote, a JSON string's `"` (JSON writes a `"` in the value as `\"`), the `\"` of JSON
// quoted in a JSON string, util.inspect's `'` (it writes a `'` in the value as `\'`) and
// its `` ` `` (for a value that holds both `'` and `"`, and never a `` ` ``: `` `it's "x"` ``). A
// password's `,`, `;` and `}` are its own: read as an unquoted value's, up to the first of
// them, `{"password":"Pa,ss"}` kept `,ss`.
const VALUE_QUOTE = /(?:\\?["']|`)$/;
const SINGLE_QUOTED_VALUE = /(?:[^\r\n'\\]|\\.)+/y;
const QUOTED_VALUES: Readonly<Record<string, RegExp>> = {
  '"': /(?:[^"\\\r\n]|\\.)+/y,
  // `\\\"` (`\"` escaped once more) is a quote of the value's own (a Digest value's
  // `username="…"`), within it.
  '\\"': /(?:[^\r\n"\\]|\\\\\\"|\\[^"\r\n])+/y,
  "'": SINGLE_QUOTED_VALUE,
  "\\'": SINGLE_QUOTED_VALUE,
  '`': /(?:[^\r\n`\\]|\\.)+/y,
};
// A field's value that is a list or an object, as JSON and util.inspect write one (Node's
// `rawHeaders`, undici's header lists, a header of many values: `"set-cookie":["…","…"]`,
// `authorization: [ '…' ]`, `"password":{"v":"…"}`): all of it, up to the bracket that
// closes it (`structureLength`), where a value's rule would end at the first `"` or `,` and
// keep the rest.
const OPENS = '[{';
const CLOSES = ']}';
// A quote that opens a string within such a value, as `valueRule` knows them.
const STRING_QUOTE = /\\?["']|`/y;

/**
 * How long the list or object that begins at `start` is (0 when none does): up to the
 * bracket that closes it, whatever it holds (lists in lists, objects, util.inspect's
 * numbers, `[Object]` and `... 20 more items`), each string in it read as `valueRule` reads
 * a value, so that its brackets are its own; to the end of the text when nothing closes it
 * (a message cut short). Read once, a character or a string at a time.
 */
function structureLength(text: string, start: number): number {
  if (!OPENS.includes(text[start] ?? '')) return 0;
  let depth = 0;
  let i = start;
  while (i < text.length) {
    STRING_QUOTE.lastIndex = i;
    const quote = STRING_QUOTE.exec(text)?.[0];
    if (quote !== undefined) {
      i = stringEnd(text, i + quote.length, quote);
      continue;
    }
    if (OPENS.includes(text[i])) depth += 1;
    else if (CLOSES.includes(text[i])) depth -= 1;
    i += 1;
    if (depth === 0) return i - start;
  }
  return text.length - start;
}

/** Where the string whose content begins at `at`, opened by `quote`, ends: after its quote. */
function stringEnd(text: string, at: number, quote: string): number {
  const end = at + valueLength(valueRule(quote), text, at);
  return text.startsWith(quote, end) ? end + quote.length : end;
}

// The quote that closes a quoted name, at the start of its separator (`":`, `\":`, `':`).
const NAME_QUOTE = /^\\?["']/;
const BLANK = /[\t ]/;

/**
 * `text` with the value of every `name: value` whose name the key policy calls secret
 * (`isSecretKey`: `X-Api-Key`, `x-auth-token`, `VIDISPINE_PASSWORD`, `"password":`) blanked,
 * as it would be under that key. A name of one word (`token`, `password`, `credentials`) is
 * also a word of prose (`refused a token: check the user's roles`): it is read as a field's
 * only as the first word of a line (a header block's `Token: …`, YAML's indented
 * `password: …`), quoted as JSON or util.inspect quote a key, or before a quoted value
 * (util.inspect's `{ password: '…' }`), or else its value only when it reads as a credential
 * (`password: hunter22`), as the `token <t>` rule reads one. Each name is looked at once and
 * a blanked value skipped, so the text is read once.
 */
function redactNamedValues(text: string): string {
  // Most of what is logged (a path, a method, a message) has no `:`: not read at all.
  if (!text.includes(':')) return text;
  return blankValuesAfter(text, NAMED, (m, start) => {
    const [, name, separator] = m;
    // Blanked already, by a rule that knows where the value ends (an Authorization's).
    if (!isSecretKey(name) || text.startsWith(REDACTED, start)) return 0;
    return fieldValue(text, m.index, name, separator, start);
  });
}

/**
 * `text` with a value blanked right after each match of `rule` (global, ending where a value
 * begins) for which `valueAt` gives the value's length; 0 leaves it. A blanked value is
 * skipped, not searched again, so the text is read once.
 */
function blankValuesAfter(
  text: string,
  rule: RegExp,
  valueAt: (m: RegExpExecArray, start: number) => number,
): string {
  let out = '';
  let done = 0;
  rule.lastIndex = 0;
  for (let m = rule.exec(text); m !== null; m = rule.exec(text)) {
    const start = m.index + m[0].length;
    const value = valueAt(m, start);
    if (value === 0) continue;
    out += text.slice(done, start) + REDACTED;
    done = start + value;
    rule.lastIndex = done;
  }
  return done === 0 ? text : out + text.slice(done);
}

/** The rule that reads a value opened by `quote` (none: an unquoted value). */
const valueRule = (quote: string | undefined): RegExp =>
  quote === undefined ? NAMED_VALUE : QUOTED_VALUES[quote];

/** How long the value at `start` of the field `name` is, when it is one to blank; else 0. */
function fieldValue(
  text: string,
  at: number,
  name: string,
  separator: string,
  start: number,
): number {
  const quote = VALUE_QUOTE.exec(separator)?.[0];
  // A list or an object after a name and its `:` is a field's, not prose's: whatever the
  // name is. After a quote, a `[` or `{` is the quoted value's own.
  const structure = quote === undefined ? structureLength(text, start) : 0;
  if (structure > 0) return structure;
  // A quote right after the `:` may close what quotes the name and its colon (`'token:'`);
  // after a blank, it opens a value, as util.inspect writes one (`password: '…'`).
  const quotedValue = quote !== undefined && BLANK.test(separator);
  const field =
    quotedValue ||
    firstOfItsLine(text, at) ||
    quotedName(text, at, separator) ||
    nameWords(name).length > 1;
  if (!field) return valueLength(CREDENTIAL_VALUE, text, start);
  const length = valueLength(valueRule(quote), text, start);
  return quote === undefined ? blockScalarLength(text, at, start, length) : length;
}

// A YAML block scalar's header (`|`, `>`, a chomping `+`/`-` and an indentation digit in
// either order), a comment after it: its value is on the lines after it. A tag and an
// anchor may come before it (`!!binary |`, base64 under a secret's key; `&pw !secret >-`).
const BLOCK_SCALAR = /^(?:[!&]\S*[\t ]+){0,2}[|>](?:[1-9]?[+-]?|[+-][1-9])[\t ]*(?:#.*)?$/;

// The rest of a line, up to its break: `\n`, `\r\n` or a bare `\r`, each a line break to YAML.
const LINE_REST = /[^\r\n]*/y;

/** Where the line that holds `at` begins: after the line break before it. */
function lineStart(text: string, at: number): number {
  let i = at;
  while (i > 0 && text[i - 1] !== '\n' && text[i - 1] !== '\r') i -= 1;
  return i;
}

/**
 * How long the unquoted value of `length` at `start`, of the key at `key`, is with the lines
 * it holds when it is a block scalar's header ending its line (`password: |`, then
 * `  S3cret` on the next): those lines indented more than the key, blank lines between
 * them, up to the first that is not. Else `length`. Only a header that ends its line is
 * read on: one a line, so the lines are read once. A bare `\r` ends a line as `\n` does:
 * looked for as `\n` only, each header of a text of `value: |\r` read the rest of the text
 * for it and the start of its line back to the first, quadratic (0.27 s for 64 KiB).
 */
function blockScalarLength(text: string, key: number, start: number, length: number): number {
  const lineEnd = start + length;
  if (!(lineEnd === text.length || text[lineEnd] === '\r' || text[lineEnd] === '\n')) return length;
  if (!BLOCK_SCALAR.test(text.slice(start, lineEnd).trim())) return length;
  const indent = key - lineStart(text, key);
  let end = lineEnd;
  for (let at = lineEnd; at < text.length;) {
    const next = at + (text.startsWith('\r\n', at) ? 2 : 1);
    let i = next;
    while (text[i] === ' ') i += 1;
    const contentEnd = i + valueLength(LINE_REST, text, i);
    const blank = i === contentEnd;
    if (!blank && i - next <= indent) break;
    if (!blank) end = contentEnd;
    at = contentEnd;
  }
  return end - start;
}

/** How long the value `rule` reads at `start` is; 0 when it reads none. */
function valueLength(rule: RegExp, text: string, start: number): number {
  rule.lastIndex = start;
  return rule.exec(text)?.[0].length ?? 0;
}

/** Whether the name at `at` is quoted as a key (`"password": 1`): its quote opens it too. */
function quotedName(text: string, at: number, separator: string): boolean {
  const quote = NAME_QUOTE.exec(separator)?.[0];
  return quote !== undefined && text.endsWith(quote, at);
}

/**
 * Whether the word at `at` is the first of its line, after its indentation. Read back over
 * spaces and tabs only, up to the word before: each stretch of blanks is read once.
 */
function firstOfItsLine(text: string, at: number): boolean {
  let i = at - 1;
  while (i >= 0 && (text[i] === ' ' || text[i] === '\t')) i -= 1;
  return i < 0 || text[i] === '\n';
}

/**
 * The fields that name a pair's value: Kubernetes' and a HAR file's `name`, AWS's `Name` and
 * `Key` (tags, parameters), a validation error's `key` (Joi's context) or `property`
 * (class-validator's errors, which carry the value refused).
 */
const PAIR_NAMES = ['name', 'Name', 'key', 'Key', 'property'];
const PAIR_VALUES = ['value', 'Value'];

// A field of a name and value pair written as text (JSON, util.inspect, JSON in a JSON
// string: `{"name":"VIDISPINE_PASSWORD","value":"…"}`, `{ key: 'password', value: '…' }`):
// its name's (`PAIR_NAMES`) or its value's (`PAIR_VALUES`), in any case, quoted as a key or
// not, and its `:`, up to its value's opening quote, if any.
const pairField = (names: readonly string[]): string =>
  String.raw`(?<![\w$])(\\?["']?)(${[...new Set(names.map((name) => name.toLowerCase()))].join('|')})\1[\t ]*:[\t ]*(\\?["']|\`)?`;
// The same field of a value only: where `blankValuesAfter` blanks what `secretPairValues` found.
const PAIR_VALUE = new RegExp(pairField(PAIR_VALUES), 'gi');
// What the reading of pairs stops at: such a field, a bracket, or a string's opening quote.
const PAIR_TOKEN = new RegExp(
  String.raw`${pairField([...PAIR_NAMES, ...PAIR_VALUES])}|[[\]{}]|\\?["']|\``,
  'gi',
);
// What may stand between the fields of a pair outside any object: blanks, a `,` or `;`. Not
// a YAML list's `-`, which begins its next item (`- name: …\n  value: …\n- name: …`).
const PAIR_GAP = /[\s,;]*/y;
// A name field's unquoted value: one word, up to a blank or what ends a field's value.
const PAIR_BARE_NAME = /[^\s,;}"]+/y;

/** An object or a list being read for its pairs: whether its name is secret, its values. */
interface PairScope {
  named: boolean;
  /** Where each of its values begins, and how long it is. */
  readonly values: Array<readonly [number, number]>;
  /** The scope whose value this one is, and where it began, if it is one's value. */
  readonly within?: { readonly scope: PairScope; readonly start: number };
}

/**
 * Where the value of every name and value pair written as text whose name the key policy
 * calls secret begins, and how long it is: the pair's fields in any order, apart or not
 * (`{"value":"…","name":"authorization"}`, `{"name":"password","other":1,"value":"…"}`), as
 * `secretValueKey` finds them in an object. Read once, left to right: each object is a
 * scope, whose values are blanked when it closes (or the text ends) with a secret name
 * among its fields; a string is skipped whole, so that its brackets are its own; a value
 * that is a list or an object is a scope of its own, its own pairs read in turn. Outside
 * any object (prose, YAML) nothing closes a scope: there a secret name goes with every value
 * on its line (`refused name: 'password' with value: '…'`, and so a sentence's
 * `key: 'password' failed; value: 42 retries` too: a value blanked costs less than one
 * logged), and with every value of its run of fields next to each other (`PAIR_GAP` between
 * them), across lines (YAML's `- name: …` then `value: …`): a YAML list's other items,
 * on lines of their own, keep theirs.
 */
function secretPairValues(text: string): ReadonlyMap<number, number> {
  const found = new Map<number, number>();
  const root: PairScope = { named: false, values: [] };
  const scopes: PairScope[] = [root];
  // Where a field next to the root's run of fields begins: after its last field's value and
  // the `PAIR_GAP` after it, read once as the run grows. Read again for each field at the
  // root, a gap of 8 KiB before 1,000 names (`key:{}`) was read 1,000 times.
  let rootNext = 0;
  const rootEnds = (end: number): void => {
    rootNext = end + valueLength(PAIR_GAP, text, end);
  };
  const settle = (scope: PairScope): void => {
    if (scope.named) for (const [start, length] of scope.values) found.set(start, length);
  };
  // The root's line being read: where it ends, whether a secret name is on it, its values
  // not blanked yet. Each line's end is looked for once, from where the last one ended.
  let lineEnd = -1;
  let lineNamed = false;
  let lineValues: Array<readonly [number, number]> = [];
  const readLine = (at: number): void => {
    if (at <= lineEnd) return;
    const end = text.indexOf('\n', at);
    lineEnd = end < 0 ? text.length : end;
    lineNamed = false;
    lineValues = [];
  };
  const rootValue = (start: number, length: number): void => {
    root.values.push([start, length]);
    if (lineNamed) found.set(start, length);
    else lineValues.push([start, length]);
  };
  const rootNamed = (): void => {
    root.named = true;
    lineNamed = true;
    for (const [start, length] of lineValues) found.set(start, length);
    lineValues = [];
  };
  const close = (end: number): void => {
    const scope = scopes.pop() ?? root;
    if (scope.within?.scope === root) {
      rootValue(scope.within.start, end - scope.within.start);
      rootEnds(end);
    } else if (scope.within) {
      scope.within.scope.values.push([scope.within.start, end - scope.within.start]);
    }
    settle(scope);
  };
  // A field at the root begins a run of its own unless it follows the run's last closely.
  const readAtRoot = (at: number): void => {
    if (at === rootNext) return;
    settle(root);
    root.named = false;
    root.values.length = 0;
  };
  PAIR_TOKEN.lastIndex = 0;
  for (let m = PAIR_TOKEN.exec(text); m !== null; m = PAIR_TOKEN.exec(text)) {
    const scope = scopes[scopes.length - 1] ?? root;
    const [token, , field, quote] = m;
    const start = m.index + token.length;
    const isValue = field !== undefined && PAIR_VALUES.includes(field.toLowerCase());
    if (field !== undefined && scope === root) {
      readAtRoot(m.index);
      readLine(m.index);
    }
    if (field === undefined && OPENS.includes(token)) scopes.push({ named: false, values: [] });
    else if (field === undefined && CLOSES.includes(token)) {
      if (scopes.length > 1) close(start);
    } else if (field === undefined) {
      // A string's quote: skipped whole within an object or a list; in prose, a quote is
      // no string's (`can't`).
      if (scopes.length > 1) PAIR_TOKEN.lastIndex = stringEnd(text, start, token);
    } else if (quote === undefined && OPENS.includes(text[start] ?? '')) {
      // A value's list or object is a scope of its own; a name's is no name, its bracket
      // read as any other.
      if (isValue) {
        scopes.push({ named: false, values: [], within: { scope, start } });
        PAIR_TOKEN.lastIndex = start + 1;
      }
    } else {
      // An unquoted name is one word (YAML's `name: VIDISPINE_PASSWORD`): read to the end of
      // the line, it would take a `value:` after it on the line for its own.
      const rule = quote === undefined && !isValue ? PAIR_BARE_NAME : valueRule(quote);
      const read = valueLength(rule, text, start);
      const length = rule === NAMED_VALUE ? blockScalarLength(text, m.index, start, read) : read;
      const secretName = !isValue && isSecretKey(text.slice(start, start + length).trim());
      if (isValue && scope === root) rootValue(start, length);
      else if (isValue) scope.values.push([start, length]);
      else if (secretName && scope === root) rootNamed();
      else if (secretName) scope.named = true;
      PAIR_TOKEN.lastIndex = quote === undefined ? start + length : stringEnd(text, start, quote);
      if (scope === root) rootEnds(PAIR_TOKEN.lastIndex);
    }
  }
  while (scopes.length > 1) close(text.length);
  close(text.length);
  return found;
}

// A secret header's name, quoted, and where its value opens after it in a list of names and
// values as text (Node's `rawHeaders`, undici's pairs: `["authorization","token …"]`,
// `[ 'Cookie', 'vsid=…' ]`): there only before a value of its header's shape, as a list of
// header names (`[ 'authorization', 'proxy-authorization' ]`, `[ 'cookie', 'accept' ]`) has
// none: an Authorization's scheme, a blank and more; a cookie's name and its `=`. An item a
// line too, as util.inspect and JSON.stringify(…, null, 2) write a list too long for one.
const HEADER_ITEM =
  /\b(?:(?:proxy-)?authorization\\?["']\s*,\s*(\\?["'])(?=[\w!#$%&*+.^`|~-]+[\t ]+[^\s"'\\])|(?:set-)?cookie\\?["']\s*,\s*(\\?["'])(?=[\w!#$%&*+.^`|~-]+=))/gi;

/**
 * `text` with the Authorization or Cookie value that follows its name in a list written as
 * text blanked, up to its closing quote, whatever its length (`token ab` too): the field
 * rules read a name before a `:` only.
 */
function redactHeaderItems(text: string): string {
  if (!HEADER_ITEM_GATE.test(text)) return text;
  const items = blankValuesAfter(text, HEADER_ITEM, ([, authorizationQuote, cookieQuote], start) =>
    valueLength(valueRule(authorizationQuote ?? cookieQuote), text, start),
  );
  return blankValuesAfter(items, HEADER_VALUES, (_, start) => structureLength(items, start));
}

// The same name followed by a list of its values (`["Set-Cookie",["vsid=…; Path=/","…"]]`,
// `Object.entries` of a headers object as text): all of the list, as the field rule blanks
// `"set-cookie":[…]`, when its first item has its header's shape (a list of header names
// after a name is kept).
const HEADER_VALUES =
  /\b(?:(?:proxy-)?authorization\\?["']\s*,\s*(?=\[\s*\\?["'][\w!#$%&*+.^`|~-]+[\t ]+[^\s"'\\])|(?:set-)?cookie\\?["']\s*,\s*(?=\[\s*\\?["'][\w!#$%&*+.^`|~-]+=))/gi;

const HEADER_ITEM_GATE = /authorization|cookie/i;

// A Map's entry as util.inspect writes one: its key quoted, `=>`, and where its value opens
// (`'x-api-key' => '…'`, `'authorization' => 'token …'`, `'password' => { … }`). The arrow
// tells a Map's key from a word of prose, so an entry is read whatever its key.
const MAP_ENTRY = /(?<![\w$])(\\?["'])([^\s"'\\]+)\1[\t ]*=>[\t ]*(\\?["']|`)?/g;

/**
 * `text` with the value of every Map entry whose key the key policy calls secret blanked, as
 * it would be under that key in an object: up to its closing quote, all of a list or an
 * object (`structureLength`), or as a field's unquoted value.
 */
function redactMapEntries(text: string): string {
  // Most of what is logged has no Map in it: not read at all.
  if (!text.includes('=>')) return text;
  return blankValuesAfter(text, MAP_ENTRY, ([, , key, quote], start) => {
    if (!isSecretKey(key)) return 0;
    if (quote !== undefined) return valueLength(valueRule(quote), text, start);
    return structureLength(text, start) || valueLength(valueRule(undefined), text, start);
  });
}

/**
 * `text` with the value of every name and value pair written as text whose name the key
 * policy calls secret blanked (`secretPairValues`), as `secretValueKey` blanks such an
 * object's: up to its closing quote, or as a field's value when it has none.
 */
function redactPairs(text: string): string {
  // Most of what is logged has no such pair: not read at all.
  if (!PAIR_GATE.test(text)) return text;
  const found = secretPairValues(text);
  if (found.size === 0) return text;
  return blankValuesAfter(text, PAIR_VALUE, (_, start) => found.get(start) ?? 0);
}

const PAIR_GATE = /value/i;

// A PEM private key's first line: PKCS#8's `PRIVATE KEY`, `ENCRYPTED PRIVATE KEY`, the
// older `RSA`, `EC`, `DSA`, `OPENSSH`'s, PGP's `PRIVATE KEY BLOCK`.
// Also RFC 4716's, as ssh.com and PuTTYgen export one (`---- BEGIN SSH2 ENCRYPTED PRIVATE KEY
// ----`), which ends with four dashes and a blank, where PEM has five.
const PRIVATE_KEY_BEGIN =
  /-----BEGIN [A-Z\d ]*PRIVATE KEY[A-Z ]*-----|---- BEGIN SSH2 [A-Z ]*PRIVATE KEY ----/g;
const PEM_END = '-----END ';
const PEM_DASHES = '-----';
const SSH2_END = '---- END ';
const SSH2_DASHES = ' ----';
// A PuTTY key file's private part: its `Private-Lines: N` header and the lines after it, up
// to its `Private-MAC:` (a checksum, kept to say what was there).
const PUTTY_PRIVATE = /Private-Lines:[\t ]*\d*/g;
const PUTTY_MAC = 'Private-MAC:';

/**
 * `text` with the body of every PEM private key blanked, its BEGIN and END lines kept to say
 * what was there: wherever it is written (under a key that says nothing of a secret, as
 * `key` or `data`, or in a message, its lines as JSON escapes them), since the key policy
 * cannot see it. A key with no END (cut short) is blanked to the end of the text. A
 * certificate is public: kept. Each key's END is looked for once from its BEGIN, so the
 * text is read once.
 */
function redactPrivateKeys(text: string): string {
  const keys = text.includes('PRIVATE KEY') ? blankBodies(text, PRIVATE_KEY_BEGIN, pemEnd) : text;
  return keys.includes('Private-Lines:') ? blankBodies(keys, PUTTY_PRIVATE, puttyEnd) : keys;
}

/**
 * Where a key's body that begins at `body` ends (`end`) and where what is kept after it ends
 * (`after`, its END line), if it ends at all.
 */
type BodyEnd = (text: string, body: number, begin: string) => { end: number; after: number };

function pemEnd(text: string, body: number, begin: string): { end: number; after: number } {
  const [endText, dashes] = begin.startsWith(PEM_DASHES)
    ? [PEM_END, PEM_DASHES]
    : [SSH2_END, SSH2_DASHES];
  const end = text.indexOf(endText, body);
  const endLine = end < 0 ? -1 : text.indexOf(dashes, end + endText.length);
  return endLine < 0 ? { end: -1, after: -1 } : { end, after: endLine + dashes.length };
}

function puttyEnd(text: string, body: number): { end: number; after: number } {
  const end = text.indexOf(PUTTY_MAC, body);
  return { end, after: end };
}

/**
 * `text` with every body that `begin` opens blanked up to where `bodyEnd` says it ends (to
 * the end of the text if it does not), what opens and ends it kept. Each END is looked for
 * once from its BEGIN, so the text is read once.
 */
function blankBodies(text: string, begin: RegExp, bodyEnd: BodyEnd): string {
  let out = '';
  let done = 0;
  begin.lastIndex = 0;
  for (let m = begin.exec(text); m !== null; m = begin.exec(text)) {
    const body = m.index + m[0].length;
    out += text.slice(done, body) + REDACTED;
    const { end, after } = bodyEnd(text, body, m[0]);
    if (end < 0) return out;
    done = after;
    out += text.slice(end, done);
    begin.lastIndex = done;
  }
  return out + text.slice(done);
}

/** Remove credentials embedded in free text (URLs, error messages, header dumps, PEM keys). */
export function redactSecrets(text: string): string {
  return redactNamedValues(
    redactUrlPasswords(
      TEXT_RULES.reduce(
        // Two calls alike: `replace` takes a string or a function, but not either (its overloads).
        (out, [pattern, replacement]) =>
          typeof replacement === 'string'
            ? out.replace(pattern, replacement)
            : out.replace(pattern, replacement),
        // First: a key's base64 is no text for the other rules to read.
        redactMapEntries(redactHeaderItems(redactPairs(redactPrivateKeys(text)))),
      ),
    ),
  ).replace(RUN, redactRun);
}

/**
 * A copy of `value` safe to log: secret keys censored at any depth, strings scrubbed,
 * errors turned into plain objects (message and stack scrubbed too).
 */
export function redactValue(value: unknown): unknown {
  return redactAt(value, new WeakSet<object>(), 0);
}

const MAX_DEPTH = 8;

/**
 * `value` redacted; `headers`: it is what a key that names headers holds (`rawHeaders`), so
 * that a list in it is read as names and values (`redactList`).
 */
function redactAt(value: unknown, seen: WeakSet<object>, depth: number, headers = false): unknown {
  if (typeof value === 'string') return redactSecrets(value);
  // A line has no functions (JSON leaves them out) but one: a `toJSON` among an object's own
  // fields, which JSON.stringify would call for what to write in the object's place, what
  // it gives unredacted.
  if (typeof value === 'function') return undefined;
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value) || depth > MAX_DEPTH) return '[Circular or too deep]';
  seen.add(value);
  // Reading an object runs code of its own: a getter that throws, a Proxy's trap, a revoked
  // Proxy, an error whose message is no string. Thrown from here, it would reach the log
  // call's caller (a request's error handler, the fatal handler) and no line would be
  // written: what cannot be read is left out instead, and the line written.
  try {
    return redactObject(value, seen, depth, headers);
  } catch {
    return UNREADABLE;
  }
}

/** What stands in a log line for an object that throws when it is read. */
const UNREADABLE = '[unreadable]';

/** An object not seen before, redacted as `redactAt` says. */
function redactObject(
  value: object,
  seen: WeakSet<object>,
  depth: number,
  headers: boolean,
): unknown {
  if (value instanceof Error) return redactError(value, seen, depth);
  // Bytes (a Buffer, a typed array) by their size only: they would be logged one number per
  // byte, and what they hold is raw traffic, headers and all (the `rawPacket` Node's HTTP
  // parser attaches to the error of a message it refuses).
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (Array.isArray(value)) return redactList(value, seen, depth, headers);
  const out: Record<string, unknown> = {};
  const secretValue = secretValueKey(value);
  for (const [key, item] of Object.entries(value)) {
    out[key] = key === secretValue ? REDACTED : redactField(key, item, seen, depth);
  }
  return out;
}

/**
 * The key of `value`'s value when it is a name and its value, as Kubernetes writes a
 * container's environment (`{name: 'VIDISPINE_PASSWORD', value: '…'}`) or a HAR file its
 * headers (`PAIR_NAMES`), whose name the key policy calls secret: its `value` is what that key
 * would hold. A reference to a Secret (`valueFrom: {secretKeyRef: {name, key}}`) has no
 * `value`: names, logged as they are.
 */
function secretValueKey(value: object): string | undefined {
  const valueKey = PAIR_VALUES.find((key) => key in value);
  if (valueKey === undefined) return undefined;
  const fields = value as Readonly<Record<string, unknown>>;
  const named = PAIR_NAMES.some((key) => {
    const name = fields[key];
    return typeof name === 'string' && isSecretKey(name);
  });
  return named ? valueKey : undefined;
}

/** A key that names headers, as Node's `rawHeaders` and `rawTrailers`, undici's `headers`. */
const HEADERS_KEY = /(?:headers|trailers)$/i;

/** A field's value, blanked under a secret key, redacted otherwise. */
function redactField(key: string, item: unknown, seen: WeakSet<object>, depth: number): unknown {
  return isSecretKey(key) ? REDACTED : redactAt(item, seen, depth + 1, HEADERS_KEY.test(key));
}

/** An HTTP header's name (RFC 9110's token): one word, no space. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9a-z-]+$/i;

/**
 * An array's items, each redacted. A list of headers' names and values one after the other,
 * as Node gives `rawHeaders` (`['Cookie', 'vsid=…', 'Host', …]`) and undici takes `headers`
 * (`[['authorization', 'Basic …'], …]`, pairs that are such lists), has a value after each
 * name: one after a secret name is blanked, as it would be under that key. A list is read
 * so only under a key that names headers (`headers`), and when it has an even length and a
 * header's name at each even place: a list of names elsewhere (`imagePullSecrets:
 * ['pull-secret', 'mirror']`, settings' names) keeps its items, as does a list of sentences.
 */
function redactList(
  items: readonly unknown[],
  seen: WeakSet<object>,
  depth: number,
  headers: boolean,
): unknown[] {
  const pairs =
    headers &&
    items.length % 2 === 0 &&
    items.every((item, i) => i % 2 === 1 || isHeaderName(item));
  return items.map((item, i) => {
    const name = pairs && i % 2 === 1 ? items[i - 1] : undefined;
    return typeof name === 'string' && isSecretKey(name)
      ? REDACTED
      : redactAt(item, seen, depth + 1, headers);
  });
}

function isHeaderName(item: unknown): boolean {
  return typeof item === 'string' && HEADER_NAME.test(item);
}

function redactError(error: Error, seen: WeakSet<object>, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: error.name,
    message: redactSecrets(error.message),
    stack: error.stack === undefined ? undefined : redactSecrets(error.stack),
  };
  for (const [key, item] of Object.entries(error)) out[key] = redactField(key, item, seen, depth);
  if (error.cause !== undefined) out.cause = redactAt(error.cause, seen, depth + 1);
  if (error instanceof AggregateError) Object.assign(out, aggregated(error, seen, depth));
  return out;
}

/** How many of an AggregateError's errors a line shows: a name's every address, and more. */
const MAX_AGGREGATED_ERRORS = 10;

/**
 * An AggregateError's `errors` (not enumerable, so not among its fields): why it failed,
 * where its own message may be empty (a connect that tried `::1` and `127.0.0.1`, both
 * refused). The first `MAX_AGGREGATED_ERRORS`, each redacted as any error, and how many more.
 */
function aggregated(
  error: AggregateError,
  seen: WeakSet<object>,
  depth: number,
): { errors: unknown[]; moreErrors?: number } {
  const errors: readonly unknown[] = Array.isArray(error.errors) ? error.errors : [];
  const shown = errors.slice(0, MAX_AGGREGATED_ERRORS).map((e) => redactAt(e, seen, depth + 1));
  const more = errors.length - shown.length;
  return more > 0 ? { errors: shown, moreErrors: more } : { errors: shown };
}
