import type { MintEndpoint } from './endpoints';
import { MintError } from './types';
import { errorCode, isTlsFailure } from './connection';
import type { HttpAnswer } from './transport';

/** What a message may say about a mint: names and places, never a secret. */
export interface MintContext {
  readonly user: string;
  readonly endpoint: MintEndpoint;
  /** Username whose credential signs the request (the user itself, or the admin). */
  readonly caller: string;
  /** Where that credential's secret lives (`file /run/secrets/pw`, …). */
  readonly secretSource: string;
  readonly seconds: number;
  readonly origin: string;
  readonly timeoutSeconds: number;
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
        `Vidispine answered ${status} but the body is not a token for "${ctx.user}": check that the Vidispine URL (vidispine.url / VIDISPINE_URL) points at VidiCore`,
        status,
      );
    }
    return token;
  }
  throw errorForStatus(status, ctx);
}

function errorForStatus(status: number, ctx: MintContext): MintError {
  const { user, caller } = ctx;
  const adminMinted = ctx.endpoint === 'user_token';
  const fail = (reason: MintError['reason'], message: string) =>
    new MintError(reason, `${message} (HTTP ${status})`, status);

  if (status === 401) {
    const whose = adminMinted
      ? `the admin credential "${caller}"`
      : `the credentials of user "${user}"`;
    return fail(
      'unauthorized',
      `Vidispine rejected ${whose}: check the password or access key in ${ctx.secretSource} (it is read again before the next attempt)`,
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
      `Vidispine refused a ${ctx.seconds}-second token for "${user}": seconds is probably above the server's userTokenMaxInterval (only _administrator users may ask for more); lower token.seconds (TOKEN_SECONDS) or raise userTokenMaxInterval`,
    );
  }
  if (status === 404 && adminMinted) {
    return fail('bad_request', `user "${user}" does not exist in Vidispine: check the user name`);
  }
  if (status >= 500) {
    return fail(
      'server_error',
      `Vidispine failed the token request for "${user}": a server-side problem, usually temporary`,
    );
  }
  return fail(
    'bad_request',
    `unexpected answer to the token request for "${user}": check that the Vidispine URL (vidispine.url / VIDISPINE_URL) points at VidiCore`,
  );
}

/** A request that got no answer: refused, reset, DNS, TLS. */
export function errorForNetworkFailure(err: unknown, ctx: MintContext): MintError {
  const code = errorCode(err) ?? (err instanceof Error ? err.name : 'error');
  if (isTlsFailure(code)) {
    return new MintError(
      'network',
      `TLS with ${ctx.origin} failed (${code}): if VidiCore's certificate is signed by a private CA, set vidispine.caFile (VIDISPINE_CA_FILE)`,
    );
  }
  return new MintError(
    'network',
    `cannot reach Vidispine at ${ctx.origin} (${code}): check the Vidispine URL (vidispine.url / VIDISPINE_URL) and that VidiCore is running`,
  );
}

export function timeoutError(ctx: MintContext): MintError {
  return new MintError(
    'timeout',
    `no answer from Vidispine at ${ctx.origin} within ${ctx.timeoutSeconds} s (vidispine.mintTimeoutSeconds): is it overloaded?`,
  );
}
