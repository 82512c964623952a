/**
 * Per-request logging the forwarder reaches through the composition root: replays after a
 * 401 and upstream failures (always), and one access line per request (only when
 * `proxy.accessLog` is on).
 */
import type { Logger } from './logger';

/** What the access log line is written from; the forwarder's record carries these and more. */
export interface AccessLogFields {
  readonly method: string;
  /** Path and query as received; credentials in the query are scrubbed by the logger. */
  readonly path: string;
  readonly status: number;
  readonly durationSeconds: number;
}

/** One `request` line per request, with every field of the record it is given. */
export function createAccessLog(logger: Logger): <R extends AccessLogFields>(record: R) => void {
  return (record) => {
    const { durationSeconds, ...fields }: AccessLogFields = record;
    logger.info(
      { event: 'request', ...fields, durationMs: Math.round(durationSeconds * 10000) / 10 },
      `${record.method} ${record.path} ${record.status}`,
    );
  };
}

/** Logs what the forwarder reports that an operator should see; request counting is the metrics' job. */
export function forwardLogObserver(logger: Logger) {
  return {
    upstreamError(reason: string, user: string, detail: string): void {
      logger.warn(
        { event: 'upstream_error', user, reason, detail },
        `request of ${user} to Vidispine failed (${reason}: ${detail})`,
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
