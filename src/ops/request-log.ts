/**
 * Per-request logging the forwarder reaches through the composition root: replays after a
 * 401 and upstream failures (always), and one access line per request and one per WebSocket
 * session (only when `proxy.accessLog` is on).
 */
import type { KeyNames } from '../config/errors';
import type { Logger } from './logger';

/** What the access log line is written from; the forwarder's record carries these and more. */
export interface AccessLogFields {
  readonly method: string;
  /** Path and query as received; credentials in the query are scrubbed by the logger. */
  readonly path: string;
  readonly status: number;
  readonly durationSeconds: number;
  /** Its answer's body did not go out whole. */
  readonly cut?: true;
}

/** What names a request in a line about its failure (the proxy's `ForwardedRequest`). */
export interface RequestNames {
  /** Absent when it has none: the access log is off and its client sent none. */
  readonly requestId: string | undefined;
  readonly method: string;
  /** Path and query as received; credentials in the query are scrubbed by the logger. */
  readonly path: string;
}

/**
 * Where the access log's lines go. The access log has a switch of its own: a level above
 * info, set to quiet the other lines, does not silence it, as nginx's and Envoy's access logs
 * ignore their error log's level; `silent` still does.
 */
function accessOut(logger: Logger): Logger {
  return logger.isLevelEnabled('info') || logger.level === 'silent'
    ? logger
    : logger.child({}, { level: 'info' });
}

/** The access log's unit: milliseconds, to a tenth. */
const milliseconds = (seconds: number): number => Math.round(seconds * 10000) / 10;

/** One `request` line per request, with every field of the record it is given. */
export function createAccessLog(logger: Logger): <R extends AccessLogFields>(record: R) => void {
  const out = accessOut(logger);
  return (record) => {
    const { durationSeconds, ...fields }: AccessLogFields = record;
    out.info(
      { event: 'request', ...fields, durationMs: milliseconds(durationSeconds) },
      `${record.method} ${record.path} ${record.status}${record.cut === true ? ' (cut)' : ''}`,
    );
  };
}

/** What a WebSocket session's line is written from (the proxy's `SessionRecord`). */
export interface SessionLogFields {
  readonly method: string;
  /** The upgrade's path and query; credentials in the query are scrubbed by the logger. */
  readonly path: string;
  readonly end: string;
  readonly durationSeconds: number;
}

/**
 * One `websocket_session_ended` line per WebSocket session, at its end, with every field of
 * the record it is given: the `request` line of its upgrade is written at the `101`, before
 * the session's length, bytes and end are known. nginx writes a session's one line at its
 * end, Envoy its stream's at the stream's end; the line at the `101` is kept, so a session
 * that lasts hours is seen to begin.
 */
export function createSessionLog(logger: Logger): <R extends SessionLogFields>(record: R) => void {
  const out = accessOut(logger);
  return (record) => {
    const { durationSeconds, ...fields }: SessionLogFields = record;
    out.info(
      { event: 'websocket_session_ended', ...fields, durationMs: milliseconds(durationSeconds) },
      `websocket session ended: ${record.method} ${record.path} (${record.end})`,
    );
  };
}

/**
 * What to do about a forwarded request's failure, naming settings as the configuration does:
 * only a TLS failure needs saying. Its usual cause, a certificate changed while the proxy runs,
 * fails forwarded requests while the token is still good, so until the next mint (whose
 * `token_mint_failed` line names the cause) their lines are all the operator sees.
 */
export function upstreamErrorHint(reason: string, names: KeyNames): string | undefined {
  if (reason !== 'tls') return undefined;
  const url = names.name(['vidispine', 'url']);
  return `the TLS handshake failed as the detail says. A certificate that is not trusted (UNABLE_TO_…, SELF_SIGNED_CERT_IN_CHAIN, DEPTH_ZERO_SELF_SIGNED_CERT): put the CA that issued it in ${names.name(['vidispine', 'caFile'])}, or have VidiCore send its intermediate certificates. CERT_HAS_EXPIRED or CERT_NOT_YET_VALID: check this machine's clock (date -u) against the certificate's dates, or renew the certificate. ERR_TLS_CERT_ALTNAME_INVALID: use in ${url} a name the certificate lists. An alert or a wrong version number: check that ${url} names VidiCore's TLS port, and what it serves (openssl s_client -connect host:port)`;
}

/** Logs what the forwarder reports that an operator should see; request counting is the metrics' job. */
export function forwardLogObserver(logger: Logger, names: KeyNames) {
  return {
    upstreamError(reason: string, user: string, detail: string, request: RequestNames): void {
      const hint = upstreamErrorHint(reason, names);
      // Named as its access line names it, so that a failure, an answer cut after its head
      // above all, is traced to its request, as nginx's error line names it.
      const { requestId, method, path } = request;
      logger.warn(
        {
          event: 'upstream_error',
          user,
          reason,
          detail,
          ...(requestId === undefined ? {} : { requestId }),
          method,
          path,
          ...(hint === undefined ? {} : { hint }),
        },
        `request of ${user} to Vidispine failed (${reason}: ${detail})`,
      );
    },
    bytesAfterAnswer(user: string, method: string, path: string, detail: string): void {
      // As nginx's "upstream sent more data than specified": the client's answer was whole,
      // but a Vidispine (or a hop) that sends more than it framed needs looking at.
      logger.warn(
        { event: 'upstream_extra_bytes', user, method, path, detail },
        `Vidispine sent more than its answer to ${method} ${path} of ${user}; the connection was closed, not reused (${detail})`,
      );
    },
    upstreamUnauthorized(user: string, retried: boolean): void {
      if (retried) {
        logger.info(
          { event: 'upstream_unauthorized', user, retried },
          `Vidispine answered 401 to the token of ${user}; replayed with a new token`,
        );
      } else {
        // Said at debug: a client may provoke this on every request; what the check of the
        // token found is logged once per check (token_checked, token_invalidated).
        logger.debug(
          { event: 'upstream_unauthorized', user, retried },
          `Vidispine answered 401 to a request of ${user}; not replayed (passed on to the client, or no new token to replay it with)`,
        );
      }
    },
  };
}
