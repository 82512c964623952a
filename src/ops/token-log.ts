/**
 * One log line per token event worth knowing: each mint, each failed mint with what the
 * operator should do about it, a token that lapsed or was rejected, a lifetime shorter
 * than asked for.
 */
import type { Logger } from './logger';
import type { TokenEventSource } from './views';

/** What to do about each class of failed mint (the `hint` field). */
export const MINT_FAILURE_HINTS: Readonly<Record<string, string>> = {
  unauthorized:
    'Vidispine rejected the credentials (401): fix the password or access key in the secret; it is read again at every attempt',
  forbidden:
    'the minting user may not create tokens for this user (403): give the admin credential the _administrator role, or give the user its own password',
  user_disabled: 'the user is disabled in Vidispine (409): enable it',
  bad_request:
    "Vidispine refused the token request (4xx): token.seconds may exceed the server's userTokenMaxInterval; lower it",
  server_error: 'Vidispine answered 5xx: check Vidispine; retrying with backoff',
  network:
    'Vidispine is unreachable: check vidispine.url, DNS, TLS and network policy; retrying with backoff',
  timeout:
    'Vidispine did not answer in time: check its load, or raise vidispine.mintTimeoutSeconds; retrying with backoff',
  empty_token:
    'Vidispine answered 200 without a token: check for a gateway or error page in front of Vidispine',
  secret_unreadable:
    'the password file or variable could not be read: check the mounted Secret and the configured path/variable',
};

/** Failures a retry will not cure: the configuration or Vidispine's user setup is wrong. */
const NEEDS_OPERATOR: ReadonlySet<string> = new Set([
  'unauthorized',
  'forbidden',
  'user_disabled',
  'bad_request',
  'secret_unreadable',
]);

const ENDPOINT_PATH: Readonly<Record<string, string>> = {
  token: 'GET /API/token',
  user_token: 'GET /API/user/{user}/token',
};

const ms = (seconds: number): number => Math.round(seconds * 1000);

export function logTokenEvents(events: TokenEventSource, logger: Logger): void {
  events.on('minted', (e) => {
    logger.info(
      {
        event: 'token_minted',
        user: e.user,
        endpoint: e.endpoint,
        result: 'success',
        lifetimeSeconds: e.seconds,
        durationMs: ms(e.durationSeconds),
        expiresAt: new Date(e.expiresAt).toISOString(),
      },
      `minted a token for ${e.user} via ${ENDPOINT_PATH[e.endpoint] ?? e.endpoint} (${e.seconds} s lifetime, ${ms(e.durationSeconds)} ms)`,
    );
  });
  events.on('mintFailed', (e) => {
    const level = NEEDS_OPERATOR.has(e.reason) ? 'error' : 'warn';
    logger[level](
      {
        event: 'token_mint_failed',
        user: e.user,
        endpoint: e.endpoint,
        result: 'failure',
        reason: e.reason,
        error: e.message,
        durationMs: ms(e.durationSeconds),
        retryInMs: e.retryInMs,
        hint: MINT_FAILURE_HINTS[e.reason] ?? 'see the error message',
      },
      `token mint for ${e.user} failed (${e.reason}); next attempt in ${Math.ceil(e.retryInMs / 1000)} s`,
    );
  });
  events.on('expired', (e) => {
    logger.error(
      {
        event: 'token_expired',
        user: e.user,
        hint: 'requests for this user are answered 503 until a mint succeeds; see the token_mint_failed lines',
      },
      `${e.user} holds no usable token any more`,
    );
  });
  events.on('invalidated', (e) => {
    logger.warn(
      { event: 'token_invalidated', user: e.user, cause: e.cause },
      `Vidispine rejected the token of ${e.user} (401); minting a new one`,
    );
  });
  events.on('lifetimeLearned', (e) => {
    logger.warn(
      {
        event: 'token_lifetime_learned',
        user: e.user,
        configuredSeconds: e.configuredSeconds,
        observedSeconds: e.observedSeconds,
        hint: 'Vidispine ends these tokens earlier than requested: lower token.seconds for this user, or raise userTokenMaxInterval on the server',
      },
      `tokens of ${e.user} live about ${e.observedSeconds} s, not the ${e.configuredSeconds} s requested; renewing earlier`,
    );
  });
}
