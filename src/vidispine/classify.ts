import { type MintEndpoint, mintRequestLine } from './endpoints';
import { MintError } from './types';
import { errorCode, isTlsFailure } from './connection';
import type { HttpAnswer } from './transport';

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
  readonly endpoint: MintEndpoint;
  /** Username whose credential signs the request (the user itself, or the admin). */
  readonly caller: string;
  /** Where that credential's secret is set (`file /run/secrets/pw (VIDISPINE_PASSWORD_FILE)`). */
  readonly secretSource: string;
  readonly seconds: number;
  /** The Vidispine URL as configured (origin and path, never credentials). */
  readonly origin: string;
  readonly timeoutSeconds: number;
  readonly settings: MintSettings;
}

/** Tokens go into an `Authorization` header: visible ASCII only, nothing that could split it. */
const TOKEN_SHAPE = /^[\x21-\x7e]{1,4096}$/;

/** The token in a Vidispine answer, or the `MintError` that says what went wrong and what to do. */
export function tokenFromAnswer(answer: HttpAnswer, ctx: MintContext): string {
  const { status } = answer;
  if (status >= 200 && status < 300) {
    const token = answer.body.trim();
    if (token === '') {
      throw new MintError(
        'empty_token',
        `Vidispine answered ${status} with an empty body instead of a token for "${ctx.user}"`,
        status,
      );
    }
    if (answer.truncated || !TOKEN_SHAPE.test(token)) {
      throw new MintError(
        'empty_token',
        `Vidispine answered ${status} but the body is not a token for "${ctx.user}": check that ${ctx.settings.url} points at VidiCore`,
        status,
      );
    }
    return token;
  }
  throw errorForStatus(status, ctx);
}

function errorForStatus(status: number, ctx: MintContext): MintError {
  const { user, caller, settings } = ctx;
  const adminMinted = ctx.endpoint === 'user_token';
  const fail = (reason: MintError['reason'], message: string) =>
    new MintError(reason, `${message} (HTTP ${status})`, status);

  if (status === 401) {
    const whose = adminMinted
      ? `the admin credential "${caller}"`
      : `the credentials of user "${user}"`;
    return fail(
      'unauthorized',
      `Vidispine rejected ${whose}: check the password in ${ctx.secretSource}`,
    );
  }
  if (status === 403) {
    return fail(
      'forbidden',
      adminMinted
        ? `user "${caller}" may not create tokens for "${user}": give it the _administrator role, or give "${user}" its own password`
        : `Vidispine refused user "${user}" a token: check the user's roles`,
    );
  }
  if (status === 409) {
    return fail(
      'user_disabled',
      `user "${user}" is disabled in Vidispine: enable it, or remove it from the configuration`,
    );
  }
  if (status === 400) {
    return fail(
      'bad_request',
      `Vidispine refused a ${ctx.seconds}-second token for "${user}": seconds is probably above the server's userTokenMaxInterval (only _administrator users may ask for more); lower ${settings.seconds} or raise userTokenMaxInterval`,
    );
  }
  if (status === 404) {
    const request = `${mintRequestLine(ctx.endpoint, user)} under ${ctx.origin}`;
    const root = `is ${settings.url} the server root, without /API (e.g. http://vidispine:8080)?`;
    return fail(
      'not_found',
      adminMinted
        ? `Vidispine has no ${request}: ${root} If it is, user "${user}" does not exist in Vidispine`
        : `Vidispine has no ${request}: ${root}`,
    );
  }
  if (status >= 500) {
    return fail(
      'server_error',
      `Vidispine failed the token request for "${user}": a server-side problem, usually temporary`,
    );
  }
  return fail(
    'bad_request',
    `unexpected answer to the token request for "${user}": check that ${settings.url} points at VidiCore`,
  );
}

/** The certificate is outside its validity period: a wrong clock here, or an old certificate. */
const CLOCK_CODES = new Set(['CERT_NOT_YET_VALID', 'CERT_HAS_EXPIRED']);

/** A request that got no answer: refused, reset, DNS, TLS. */
export function errorForNetworkFailure(err: unknown, ctx: MintContext): MintError {
  const code = errorCode(err) ?? (err instanceof Error ? err.name : 'error');
  const { settings } = ctx;
  if (CLOCK_CODES.has(code)) {
    return new MintError(
      'network',
      `TLS with ${ctx.origin} failed (${code}): the certificate is outside its validity period; check this machine's clock (date -u) against the certificate's dates, or renew the certificate`,
    );
  }
  if (isTlsFailure(code)) {
    return new MintError(
      'network',
      `TLS with ${ctx.origin} failed (${code}): if VidiCore's certificate is signed by a private CA, set ${settings.caFile}`,
    );
  }
  if (code === 'EPROTO' && ctx.origin.startsWith('https:')) {
    return new MintError(
      'network',
      `no TLS handshake with ${ctx.origin} (${code}): the server does not speak TLS there; if VidiCore serves plain HTTP on that port, use http:// in ${settings.url}`,
    );
  }
  return new MintError(
    'network',
    `cannot reach Vidispine at ${ctx.origin} (${code}): check ${settings.url} and that VidiCore is running`,
  );
}

export function timeoutError(ctx: MintContext): MintError {
  return new MintError(
    'timeout',
    `no answer from Vidispine at ${ctx.origin} within ${ctx.timeoutSeconds} s (${ctx.settings.mintTimeout}): is it overloaded?`,
  );
}
