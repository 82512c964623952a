/**
 * Why a mint fails, and what each reason means to the rest of the proxy: the `reason` label
 * of `token_refreshes_total`, the log's `hint`, whether only an operator can cure it (the
 * retry starts slow and the log line is an error). A new reason is one entry here; the
 * `satisfies` clause refuses an entry without a hint or a verdict.
 */

import type { KeyNames } from '../config/errors';

export interface MintFailureKind {
  /**
   * What the operator should do about it (the `hint` field of `token_mint_failed` and of
   * `/status`); a function when it names a setting, so the setting is named as the
   * configuration names it (`TOKEN_SECONDS`, `token.seconds`). Read it with `mintFailureHint`.
   */
  readonly hint: string | ((names: KeyNames) => string);
  /**
   * A retry will not cure it: the credentials, roles or configuration are wrong. Retries start
   * three doublings later (8 s), so Vidispine's log is not flooded with failed logins, and the
   * failure is logged as an error instead of a warning.
   */
  readonly operatorMustFix: boolean;
}

export const MINT_FAILURES = {
  // 401: bad password or access key (or, minting with RunAs, a refused RunAs; minting as
  // admin, an account without _administrator, which Vidispine may refuse with 401 or 403)
  unauthorized: {
    hint: 'Vidispine rejected the credentials (401): fix the password, or the access key ID and secret (the key must be ACTIVE), where the error says, or give the admin account the _administrator role and the RunAs account the _runas role; a secret file is read again before every attempt, so an updated Secret file needs no restart; a secret written into the configuration or given in an environment variable needs a restart (the environment of a running process never changes)',
    operatorMustFix: true,
  },
  // 403: the caller may not mint for that user (the admin lacks _administrator, the RunAs account _runas)
  forbidden: {
    hint: 'the minting account may not create tokens for this user (403): give the admin account the _administrator role or the RunAs account the _runas role, or give the user a credential of its own',
    operatorMustFix: true,
  },
  // 409: the user, or the admin or RunAs account minting for it, is disabled
  user_disabled: {
    hint: 'the user, or the admin or RunAs account that mints its tokens, is disabled in Vidispine (409): enable it',
    operatorMustFix: true,
  },
  // 404: the URL is not the server root (…/vidispine, …/API), or the admin-minted user does not exist
  not_found: {
    hint: 'Vidispine has no such token endpoint (404): is the Vidispine URL the server root, without /API (e.g. http://vidispine:8080)? For an admin-minted user, does the user exist?',
    operatorMustFix: true,
  },
  // 429: Vidispine, or a gateway in front of it, limits requests
  rate_limited: {
    hint: "Vidispine (or a gateway in front of it) limits requests (429): the next attempt waits as its Retry-After asks, within the backoff's cap",
    operatorMustFix: false,
  },
  // 400 (seconds above userTokenMaxInterval), or another unexpected answer: a redirect to a
  // login page, another 4xx. One reason for both, so the hint says which is which.
  bad_request: {
    hint: (names: KeyNames) =>
      `Vidispine refused the token request or answered it unexpectedly, as the error says. On a 400: ${names.name(['token', 'seconds'])} may exceed the server's userTokenMaxInterval; lower it. On a redirect or another status: ${names.name(['vidispine', 'url'])} may point at something in front of VidiCore (a login page, another service) rather than at VidiCore itself`,
    operatorMustFix: true,
  },
  // 5xx
  server_error: {
    hint: 'Vidispine answered 5xx: check Vidispine; retrying with backoff',
    operatorMustFix: false,
  },
  // refused, reset, DNS, TLS
  network: {
    hint: 'Vidispine is unreachable: check the Vidispine URL, DNS, TLS (CA file, clock) and network policy; retrying with backoff',
    operatorMustFix: false,
  },
  // no answer within the mint timeout, or no connection (dropped on the way), or the secret
  // file not read by then (a stuck volume)
  timeout: {
    hint: 'Vidispine did not answer in time: check its load, or raise the mint timeout; where the connection never opened, check the network policy or firewall on the way; where the secret file was not read, check the volume it is mounted from; retrying with backoff',
    operatorMustFix: false,
  },
  // 200 with an empty, blank or non-token body (not text/plain, not shaped like a token)
  empty_token: {
    hint: 'Vidispine answered 200 without a text/plain token: check for a gateway or error page in front of Vidispine',
    operatorMustFix: false,
  },
  // the password or access key secret (file or variable) could not be read
  secret_unreadable: {
    hint: 'the secret file or variable could not be read (a regular file of at most 4096 bytes): check the mounted Secret and the configured path or variable',
    operatorMustFix: true,
  },
} as const satisfies Readonly<Record<string, MintFailureKind>>;

/** Why a mint failed; also the `reason` label of `token_refreshes_total`. */
export type MintFailureReason = keyof typeof MINT_FAILURES;

/** Every reason, in the order above (metrics start a series at 0 for each). */
export const MINT_FAILURE_REASONS = Object.keys(MINT_FAILURES) as readonly MintFailureReason[];

/** What to do about a failed mint, naming settings as the configuration does. */
export function mintFailureHint(reason: MintFailureReason, names: KeyNames): string {
  const hint: MintFailureKind['hint'] = MINT_FAILURES[reason].hint;
  return typeof hint === 'string' ? hint : hint(names);
}

/** The level of a `token_mint_failed` log line. */
export function mintFailureLogLevel(reason: MintFailureReason): 'error' | 'warn' {
  return MINT_FAILURES[reason].operatorMustFix ? 'error' : 'warn';
}
