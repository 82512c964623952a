import type { Credential } from '../config/types';
import { errorCode } from '../error-message';
import { isOpensslError, isTlsFailure, type TlsAlert, tlsAlert } from './connection';
import { type MintEndpoint, type MintMode, mintRequestLine } from './endpoints';
import type { MintFailureReason } from './failures';
import { MintError } from './types';
import { CutAnswerError, type HttpAnswer } from './transport';
import { blankedOut, shownValue } from '../visible-text';

/**
 * The settings a mint failure may point at, named as the user wrote them (`VIDISPINE_URL` or
 * `vidispine.url`).
 */
export interface MintSettings {
  readonly url: string;
  readonly seconds: string;
  readonly caFile: string;
  readonly mintTimeout: string;
}

/** What a message may say about a mint: names and places, never a secret. */
export interface MintContext {
  readonly user: string;
  readonly mode: MintMode;
  /** The account whose credential signs the request (the user, the admin, the RunAs account). */
  readonly credential: Pick<Credential, 'username' | 'kind' | 'basicUser'>;
  /** Where that credential's secret is set (`file /run/secrets/pw (VIDISPINE_PASSWORD_FILE)`). */
  readonly secretSource: string;
  readonly seconds: number;
  /** The Vidispine URL as configured (origin and path, never credentials). */
  readonly origin: string;
  readonly timeoutSeconds: number;
  readonly settings: MintSettings;
  /** The extra CA bundle configured for Vidispine, if any (a path, not a secret). */
  readonly caFile?: string;
}

/**
 * Tokens go into an `Authorization` header: visible ASCII, and none of the characters that
 * only a document (JSON, XML, HTML) or a list would contain.
 */
const TOKEN_SHAPE = /^[A-Za-z0-9!#$%&*+\-./:=?@[\]^_|~]{1,4096}$/;

/**
 * The token in a Vidispine answer to `endpoint`, or the `MintError` that says what went wrong
 * and what to do. A token is taken only from a `text/plain` answer (what the proxy asks
 * for) or one without a `Content-Type`: a JSON or XML document, or an HTML page from a
 * gateway, is not a token.
 */
export function tokenFromAnswer(
  answer: HttpAnswer,
  endpoint: MintEndpoint,
  ctx: MintContext,
): string {
  const { status } = answer;
  if (status < 200 || status >= 300) throw errorForStatus(answer, endpoint, ctx);
  const notToken = (what: string) =>
    new MintError(
      'empty_token',
      `Vidispine answered ${status} with ${what} instead of a token for "${ctx.user}"${saidBy(answer)}: check that ${ctx.settings.url} points at VidiCore, with no gateway answering in its place`,
      status,
    );
  const type = answer.contentType?.split(';')[0].trim().toLowerCase();
  if (type !== undefined && type !== 'text/plain') throw notToken(shownValue(type));
  const token = answer.body.trim();
  if (token === '') throw notToken('an empty body');
  if (answer.truncated || !TOKEN_SHAPE.test(token)) throw notToken('a body that is not a token');
  return token;
}

function errorForStatus(answer: HttpAnswer, endpoint: MintEndpoint, ctx: MintContext): MintError {
  const { status } = answer;
  const { user, mode, credential, settings } = ctx;
  const request = mintRequestLine(endpoint, user);
  const fail = (reason: MintFailureReason, message: string) =>
    new MintError(
      reason,
      `${message} (HTTP ${status} to ${request}${saidBy(answer)})`,
      status,
      retryAfterMs(answer.retryAfter, Date.now(), answer.date),
    );
  const account =
    mode === 'own'
      ? `user "${user}"`
      : `the ${mode === 'admin' ? 'admin' : 'RunAs'} account "${credential.username}"`;
  const login =
    credential.kind === 'accessKey'
      ? `access key ${credential.basicUser} of ${account} (its secret in ${ctx.secretSource}; the key must be ACTIVE)`
      : `the password of ${account} (in ${ctx.secretSource})`;
  const root = `is ${settings.url} the server root, without /API (e.g. http://vidispine:8080)?`;
  const redirect = status >= 300 && status < 400 ? redirectTarget(answer, ctx) : undefined;

  switch (true) {
    case redirect !== undefined:
      return fail('bad_request', redirectMessage(user, redirect, settings));
    case status === 401:
      return fail(
        'unauthorized',
        mode === 'runAs'
          ? `Vidispine refused ${login}, or refused it RunAs "${user}" (a refused RunAs may be 401 or 403): check the secret, the account's _runas role, and that "${user}" is not an administrator`
          : mode === 'admin'
            ? `Vidispine rejected ${login}, or refused it a token for "${user}" (an account without _administrator asking for another user's token may get 401 or 403): check the secret and the account's _administrator role`
            : `Vidispine rejected ${login}: check it`,
      );
    case status === 403:
      return fail(
        'forbidden',
        mode === 'admin'
          ? `${account} may not create tokens for "${user}": give it the _administrator role, or give "${user}" a credential of its own`
          : mode === 'runAs'
            ? `${account} may not run as "${user}": give it the _runas role (a _runas account cannot act as an administrator), or give "${user}" a credential of its own`
            : `Vidispine refused user "${user}" a token: check the user's roles`,
      );
    case status === 409:
      return fail(
        'user_disabled',
        mode === 'own'
          ? `user "${user}" is disabled in Vidispine: enable it, or remove it from the configuration`
          : `user "${user}" is disabled in Vidispine, or ${account} that mints its tokens is (Vidispine refuses a disabled account its token requests with 409 as well): enable whichever is`,
      );
    case status === 400:
      return fail(
        'bad_request',
        `Vidispine refused a ${ctx.seconds}-second token for "${user}": seconds is probably above the server's userTokenMaxInterval (only _administrator users may ask for more); lower ${settings.seconds} or raise userTokenMaxInterval`,
      );
    case status === 404:
      return fail(
        'not_found',
        mode === 'own'
          ? `Vidispine has neither GET /API/token nor GET /API/user/{user}/token under ${ctx.origin}: ${root}`
          : `Vidispine has no ${request} under ${ctx.origin}: ${root} If it is, user "${user}" does not exist in Vidispine`,
      );
    case status === 429:
      return fail(
        'rate_limited',
        'Vidispine (or a gateway in front of it) is limiting requests: the next attempt waits as asked',
      );
    case status >= 500:
      return fail(
        'server_error',
        status === 503
          ? 'Vidispine (or the front end before it) is unavailable, e.g. "No server available": usually temporary'
          : `Vidispine failed the token request for "${user}": a server-side problem, usually temporary`,
      );
    default:
      return fail(
        'bad_request',
        `unexpected answer to the token request for "${user}": check that ${settings.url} points at VidiCore`,
      );
  }
}

/**
 * Where a redirect points, resolved against the configured URL; only an http(s) one, which
 * may be VidiCore elsewhere. Its query and any credentials in it are never shown.
 */
function redirectTarget(answer: HttpAnswer, ctx: MintContext): URL | undefined {
  const { location } = answer;
  if (location === undefined || !URL.canParse(location, ctx.origin)) return undefined;
  const target = new URL(location, ctx.origin);
  return target.protocol === 'http:' || target.protocol === 'https:' ? target : undefined;
}

/** Where a redirect points, and the base URL it implies: the path before `/API/`, if any. */
function redirectMessage(user: string, target: URL, settings: MintSettings): string {
  const [prefix] = target.pathname.split('/API/');
  const to = shownValue(`${target.origin}${target.pathname}`);
  const base = shownValue(`${target.origin}${prefix}`);
  return `Vidispine redirected the token request for "${user}" to ${to}: the proxy follows no redirect (it would carry the credentials on); set ${settings.url} to ${base} if that is VidiCore, or point it past whatever answers in its place`;
}

/**
 * The answer with each of `secrets` (what the request carried: the Authorization value, the
 * secret; none empty) blanked out of its `Reason:` and its `Location`, which messages quote:
 * a server or gateway that repeats the credentials it refused, or a login page that puts
 * them in the path it redirects to, must not put them in a log, `/status` or a client's
 * 503. In the order given: a longer one that holds a shorter one comes first.
 */
export function withoutSecrets(answer: HttpAnswer, secrets: readonly string[]): HttpAnswer {
  const { reason, location } = answer;
  if (reason === undefined && location === undefined) return answer;
  return {
    ...answer,
    reason: reason === undefined ? undefined : blanked(reason, secrets),
    location: location === undefined ? undefined : blankedLocation(location, secrets),
  };
}

function blanked(text: string, secrets: readonly string[]): string {
  return secrets.reduce(blankedOut, text);
}

/** Runs of percent escapes: decoded together, so a character of several UTF-8 bytes is one. */
const ESCAPES = /(?:%[0-9a-f]{2})+/gi;

/**
 * A `Location` with `secrets` blanked out as a URL would carry them: percent-encoded (an
 * Authorization value's space and `=` always are). Decoded only where it carried one, so any
 * other target is quoted as sent.
 */
function blankedLocation(location: string, secrets: readonly string[]): string {
  const decoded = location.replace(ESCAPES, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
  return secrets.some((secret) => decoded.includes(secret)) ? blanked(decoded, secrets) : location;
}

/** `; Vidispine says: "…"` from a `Reason:` header, one line of visible text, bounded. */
function saidBy(answer: HttpAnswer): string {
  if (answer.reason === undefined) return '';
  return `; Vidispine says: "${shownValue(answer.reason)}"`;
}

/**
 * The end of an asctime date (`Sun Nov  6 08:49:37 1994`), HTTP's third format: its time then
 * its year. It is GMT like the other two, though it names no zone, which Date.parse would
 * take for this machine's (5 h off in New York).
 */
const ASCTIME_END = / (\d\d:\d\d:\d\d) (\d{4})/;
/** How an IMF-fixdate and an RFC 850 date end, and an asctime one given its zone. */
const GMT_END = / \d\d:\d\d:\d\d GMT$/;

/**
 * An HTTP-date (RFC 9110 §5.6.7) in ms, or NaN: any of its three formats, each in GMT. No other
 * text, whatever Date.parse makes of it: it reads `1` as 2001 (a `Date` of it stretched every
 * wait to the backoff's cap) and a time without a zone in this machine's.
 */
function httpDateMs(text: string): number {
  const gmt = text.replace(ASCTIME_END, ' $2 $1 GMT');
  return GMT_END.test(gmt) ? Date.parse(gmt) : NaN;
}

/**
 * A `Retry-After` of delta-seconds or an HTTP date, in ms from now; undefined if neither. A
 * date is on the server's clock, so it is measured from the answer's own `Date` (`serverDate`)
 * when that is one: a clock minutes off Vidispine's would otherwise retry at once what was
 * asked to wait, or stretch a 5 s wait to the backoff's cap. Without it, from `now`.
 */
export function retryAfterMs(
  value: string | undefined,
  now = Date.now(),
  serverDate?: string,
): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = httpDateMs(text);
  if (Number.isNaN(at)) return undefined;
  const serverNow = serverDate === undefined ? NaN : httpDateMs(serverDate);
  return Math.max(0, at - (Number.isNaN(serverNow) ? now : serverNow));
}

/** The certificate is outside its validity period: a wrong clock here, or an old certificate. */
const CLOCK_CODES = new Set(['CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED']);

/** The chain leads to no trusted CA: what a private CA (or a missing intermediate) gives. */
const UNTRUSTED_CHAIN_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/** The certificate is trusted but not issued for the host in the URL: no CA file cures it. */
const HOST_MISMATCH_CODES = new Set(['ERR_TLS_CERT_ALTNAME_INVALID', 'HOSTNAME_MISMATCH']);

/** `; it names DNS:vidispine, IP:10.0.0.5`: the certificate's names, public and bounded. */
function certificateNames(err: unknown): string {
  const names = (err as { cert?: { subjectaltname?: unknown } }).cert?.subjectaltname;
  if (typeof names !== 'string' || names === '') return '';
  return ` (it names ${shownValue(names)})`;
}

function tlsFailure(err: unknown, code: string, ctx: MintContext): MintError {
  const { settings, origin } = ctx;
  const failed = `TLS with ${origin} failed (${code})`;
  if (CLOCK_CODES.has(code)) {
    return new MintError(
      'network',
      `${failed}: the certificate is outside its validity period; check this machine's clock (date -u) against the certificate's dates, or renew the certificate`,
    );
  }
  if (HOST_MISMATCH_CODES.has(code)) {
    // An IPv6 address as a certificate names it: without the URL's brackets.
    const { hostname } = new URL(origin);
    const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
    return new MintError(
      'network',
      `${failed}: the certificate is not valid for host ${host}${certificateNames(err)}; use in ${settings.url} the host name it was issued for, or reissue it with ${host} among its names`,
    );
  }
  if (UNTRUSTED_CHAIN_CODES.has(code)) {
    return new MintError(
      'network',
      ctx.caFile === undefined
        ? `${failed}: if VidiCore's certificate is signed by a private CA, set ${settings.caFile}`
        : `${failed}: ${settings.caFile} (${ctx.caFile}) does not cover this certificate's chain; put the CA that issued VidiCore's certificate in it (or have VidiCore send its intermediate certificates)`,
    );
  }
  return new MintError(
    'network',
    `${failed}: VidiCore's certificate or TLS setup was refused; check what it serves (openssl s_client -connect host:port)`,
  );
}

/**
 * Whether the bytes Node's HTTP parser refused begin a TLS record (an alert or a handshake,
 * version 3.x): what a TLS port sends back to a plain HTTP request.
 */
function isTlsRecord(err: unknown): boolean {
  const packet = (err as { rawPacket?: unknown }).rawPacket;
  return Buffer.isBuffer(packet) && (packet[0] === 0x15 || packet[0] === 0x16) && packet[1] === 3;
}

/** unrecognized_name: the server serves no certificate for the name it was sent in SNI. */
const UNRECOGNIZED_NAME = 112;

/**
 * What to check about a server that answered the handshake with an alert: it speaks TLS, so
 * not the scheme; the name it was sent, for unrecognized_name, else what it accepts.
 */
function refusal(alert: TlsAlert, { settings }: MintContext): string {
  return alert.number === UNRECOGNIZED_NAME
    ? `VidiCore serves no TLS for the host name in ${settings.url}, which it is sent as the server name (SNI); use there a name VidiCore is set up for (openssl s_client -connect host:port -servername name)`
    : 'VidiCore refused the handshake; check the TLS versions and cipher suites it accepts and whether it asks for a client certificate (openssl s_client -connect host:port)';
}

/** A request that got no answer, or one cut off: refused, reset, DNS, TLS. */
export function errorForNetworkFailure(err: unknown, ctx: MintContext): MintError {
  const code = errorCode(err) ?? (err instanceof Error ? err.name : 'error');
  const { settings, origin } = ctx;
  // It did answer, so the scheme is right: what failed is the answer's end.
  if (err instanceof CutAnswerError) {
    return new MintError(
      'network',
      `Vidispine at ${origin} answered HTTP ${err.status} but closed the connection before the answer ended (${code}): check VidiCore's log, and that of any gateway in front of it; usually temporary`,
    );
  }
  const secure = origin.startsWith('https:');
  // OpenSSL's "wrong version number": what an https request meets at a plain HTTP port. The
  // kernel's EPROTO (an ICMP parameter problem) carries no OpenSSL line and says nothing of TLS.
  if (secure && code === 'EPROTO' && isOpensslError(err)) {
    const alert = tlsAlert(err);
    if (alert !== undefined) {
      return new MintError(
        'network',
        `TLS with ${origin} failed (${alert.text}): ${refusal(alert, ctx)}`,
      );
    }
    return new MintError(
      'network',
      `no TLS handshake with ${origin} (${code}): the server does not speak TLS there; if VidiCore serves plain HTTP on that port, use http:// in ${settings.url}`,
    );
  }
  if (isTlsFailure(code)) return tlsFailure(err, code, ctx);
  if (!secure && isTlsRecord(err)) {
    return new MintError(
      'network',
      `Vidispine answered TLS at ${origin} (${code}): use https:// in ${settings.url}`,
    );
  }
  // Node's parser refused what came back: something answered, in no HTTP it reads (another
  // service on that port, SSH's banner). "Cannot reach" would send the operator after the
  // network, which did its part.
  if (code.startsWith('HPE_')) {
    return new MintError(
      'network',
      `Vidispine at ${origin} answered, but not in HTTP (${code}): check that ${settings.url} names VidiCore's HTTP port, and any gateway in front of it`,
    );
  }
  // A TLS port closes at a plain request without a word (Node's, Java's): no proof, a hint.
  if (!secure && code === 'ECONNRESET') {
    return new MintError(
      'network',
      `Vidispine at ${origin} closed the connection without an answer (${code}): if it serves https on that port, use https:// in ${settings.url}; else check that VidiCore is running`,
    );
  }
  return new MintError(
    'network',
    `cannot reach Vidispine at ${origin} (${code}): check ${settings.url} and that VidiCore is running`,
  );
}

/**
 * The mint timeout ran out. `connected` says whether the connection had opened: one that
 * never did was dropped on the way (a NetworkPolicy that admits no route to Vidispine is the
 * usual cause in Kubernetes), which no load on Vidispine explains.
 */
export function timeoutError(
  ctx: MintContext,
  connected: boolean,
  answeredStatus?: number,
): MintError {
  const within = `within ${ctx.timeoutSeconds} s (${ctx.settings.mintTimeout})`;
  if (answeredStatus !== undefined) {
    return new MintError(
      'timeout',
      `Vidispine at ${ctx.origin} answered HTTP ${answeredStatus} but the rest of the answer did not arrive ${within}: is it overloaded, or is a gateway in front of it holding the answer back?`,
    );
  }
  return new MintError(
    'timeout',
    connected
      ? `no answer from Vidispine at ${ctx.origin} ${within}: is it overloaded?`
      : `the connection to Vidispine at ${ctx.origin} did not open ${within}: nothing answered it, as when a firewall or a Kubernetes NetworkPolicy drops it (the Helm chart's networkPolicy.vidispine must admit where Vidispine runs); check ${ctx.settings.url} and that the network lets the proxy reach it`,
  );
}
