/**
 * One log line per token event worth knowing: each mint, each failed mint with what the
 * operator should do about it, a token that lapsed or was rejected, a lifetime shorter
 * than asked for; and what the token side reports beside its store's events (a folder of
 * secret files that cannot be watched, a token request sent again).
 */
import { isoTime } from '../clock-text';
import { errorCode, messageOf } from '../error-message';
import { mintRequestLine } from '../vidispine/endpoints';
import type { KeyNames } from '../config/errors';
import { mintFailureHint, mintFailureLogLevel } from '../vidispine/failures';
import type { TransportOptions } from '../vidispine/transport';
import type { TokenCheck } from '../vidispine/types';
import type { Logger } from './logger';
import type { TokenEventSource } from './views';

const ms = (seconds: number): number => Math.round(seconds * 1000);

/** `names`: how the configuration names its settings, for the hints. */
export function logTokenEvents(events: TokenEventSource, logger: Logger, names: KeyNames): void {
  events.on('minted', (e) => {
    logger.info(
      {
        event: 'token_minted',
        user: e.user,
        endpoint: e.endpoint,
        result: 'success',
        lifetimeSeconds: e.seconds,
        durationMs: ms(e.durationSeconds),
        expiresAt: isoTime(e.expiresAt),
      },
      `minted a token for ${e.user} via ${mintRequestLine(e.endpoint, e.user)} (${e.seconds} s lifetime, ${ms(e.durationSeconds)} ms)`,
    );
  });
  events.on('mintFailed', (e) => {
    logger[mintFailureLogLevel(e.reason)](
      {
        event: 'token_mint_failed',
        user: e.user,
        endpoint: e.endpoint,
        result: 'failure',
        reason: e.reason,
        error: e.message,
        durationMs: ms(e.durationSeconds),
        retryInMs: e.retryInMs,
        hint: mintFailureHint(e.reason, names),
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
      {
        event: 'token_invalidated',
        user: e.user,
        cause: e.cause,
        reason: e.reason,
        retryInMs: e.retryInMs,
      },
      `Vidispine no longer takes the token of ${e.user} (${e.cause === 'unauthorized' ? '401, confirmed with GET /API/whoami' : "401; the server has no GET /API/whoami to check it, so it is taken as the token's"}); ${replacementText(e.retryInMs)}`,
    );
  });
  events.on('checked', (e) => {
    if (e.dropped) return; // token_invalidated says it
    logger.info(
      {
        event: 'token_checked',
        user: e.user,
        result: e.result,
        reason: e.reason,
        hint: CHECK_HINTS[e.result],
      },
      `a 401 for ${e.user} was checked: the token is ${CHECK_STATES[e.result]}`,
    );
  });
  events.on('lifetimeLearned', (e) => {
    logger.warn(
      {
        event: 'token_lifetime_learned',
        user: e.user,
        configuredSeconds: e.configuredSeconds,
        observedSeconds: e.observedSeconds,
        hint: `Vidispine ends these tokens earlier than requested: lower ${names.name(['token', 'seconds'])} for this user, or raise userTokenMaxInterval on the server`,
      },
      `tokens of ${e.user} live about ${e.observedSeconds} s, not the ${e.configuredSeconds} s requested; renewing earlier`,
    );
  });
  events.on('lifetimeRestored', (e) => {
    logger.info(
      {
        event: 'token_lifetime_restored',
        user: e.user,
        configuredSeconds: e.configuredSeconds,
        learnedSeconds: e.learnedSeconds,
      },
      `a token of ${e.user} outlived the learned ${e.learnedSeconds} s: the early rejections were removals, not a cap; back to ${e.configuredSeconds} s`,
    );
  });
}

/** What a check that kept the token means, by its result. */
const CHECK_HINTS: Readonly<Record<TokenCheck, string>> = {
  alive:
    "the 401 was the request's own (e.g. a refused RunAs, or a user without rights there), not the token's: passed on to the client",
  dead: 'tokens Vidispine had accepted keep being found dead, more than the replacement budget allows (a GET /API/whoami that refuses tokens that work?): the 401 was passed on and the token kept until the backoff allows a new one',
  unknown: 'GET /API/whoami gave no clear answer: the 401 was passed on and the token kept',
  unavailable:
    'the server has no GET /API/whoami (404, 405 or 501) and the rejection backoff allows no replacement yet: the 401 was passed on and the token kept',
};

/** What a check said of a token it left in use (`token_checked`). */
const CHECK_STATES: Readonly<Record<TokenCheck, string>> = {
  alive: 'still valid',
  dead: 'dead by GET /API/whoami, but kept for now',
  unknown: 'of unknown state',
  unavailable: 'of unknown state',
};

/** What becomes of a dropped token: the mint budget may hold its replacement back. */
function replacementText(retryInMs: number | null): string {
  if (retryInMs === null) return 'a newer token is already in use';
  if (retryInMs === 0) return 'minting a new one';
  return `minting a new one in ${Math.ceil(retryInMs / 1000)} s, when the backoff allows`;
}

/** What the token side says in the log beyond the store's events (`TokenStoreWiring`). */
export interface TokenSideLogs {
  /** A folder of secret files that cannot be watched (see `watchSecretFolders`). */
  readonly unwatched: (folder: string, reason: string) => void;
  /** A token request sent again on a new connection (`TransportOptions.resent`). */
  readonly resent: NonNullable<TransportOptions['resent']>;
}

export function tokenSideLogs(logger: Logger): TokenSideLogs {
  return {
    unwatched: (folder, reason) =>
      logger.warn(
        { event: 'secret_folder_unwatched', folder, reason },
        `the folder ${folder} of a secret file cannot be watched (${reason}): a secret changed there is used when a mint reads it, after the current login backoff`,
      ),
    // At debug, as a 401 not replayed is: the request is one mint or one check all the same,
    // counted and logged once by its outcome, and a kept connection met as it closes is what
    // the retry is for. Seen often, Vidispine (or a balancer) closes idle connections sooner
    // than the proxy's 4 s.
    resent: (apiPath, err) => {
      const code = errorCode(err);
      logger.debug(
        { event: 'vidispine_request_resent', path: apiPath, code, error: messageOf(err) },
        `GET ${apiPath} failed on a kept connection before any answer (${code ?? messageOf(err)}); sent again on a new connection`,
      );
    },
  };
}
