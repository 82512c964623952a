/**
 * Per-request logging the forwarder reaches through the composition root: replays after a
 * 401 and upstream failures (always), and one access line per request (only when
 * `proxy.accessLog` is on).
 */
import type { Logger } from './logger';
import type { ForwardObserverView } from './views';

export interface AccessLogEntry {
  readonly requestId: string;
  readonly user: string;
  readonly method: string;
  /** Path and query as received; credentials in the query are scrubbed by the logger. */
  readonly path: string;
  readonly status: number;
  readonly durationSeconds: number;
  readonly remoteAddress?: string;
  /** Response body bytes sent to the client, when known. */
  readonly bytes?: number;
  /** The request was replayed after a 401. */
  readonly replayed?: boolean;
}

export type AccessLog = (entry: AccessLogEntry) => void;

export function createAccessLog(logger: Logger): AccessLog {
  return (entry) => {
    const { durationSeconds, ...fields } = entry;
    logger.info(
      { event: 'request', ...fields, durationMs: Math.round(durationSeconds * 10000) / 10 },
      `${entry.method} ${entry.path} ${entry.status}`,
    );
  };
}

/** Logs what the forwarder reports that an operator should see; request counting is the metrics' job. */
export function forwardLogObserver(logger: Logger): ForwardObserverView {
  return {
    requestStarted: () => undefined,
    requestFinished: () => undefined,
    upstreamError(reason) {
      logger.warn({ event: 'upstream_error', reason }, `request to Vidispine failed (${reason})`);
    },
    upstreamUnauthorized(user, retried) {
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
          `Vidispine answered 401 to a request of ${user}; passed on to the client`,
        );
      }
    },
  };
}

/** One observer that forwards every call to each of `observers`, in order. */
export function combineObservers(
  ...observers: readonly ForwardObserverView[]
): ForwardObserverView {
  return {
    requestStarted: () => observers.forEach((o) => o.requestStarted()),
    requestFinished: (user, method, status, duration) =>
      observers.forEach((o) => o.requestFinished(user, method, status, duration)),
    upstreamError: (reason) => observers.forEach((o) => o.upstreamError(reason)),
    upstreamUnauthorized: (user, retried) =>
      observers.forEach((o) => o.upstreamUnauthorized(user, retried)),
  };
}
