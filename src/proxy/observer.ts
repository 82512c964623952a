/**
 * What the forwarder reports, and to whom: the ops metrics and logs (wired in the composition
 * root), tests that record it. Every report is optional, as in undici's handlers: an observer
 * takes the ones it cares about, and a new report costs its producer and its consumers only.
 */
import type { IncomingMessage } from 'node:http';
import { requestIdFrom } from './request-id';

/** The status a request is counted and logged with when its client went away before the answer. */
export const CLIENT_CLOSED = 499;

/**
 * The status a request is counted and logged with when the proxy reset its connection before
 * the answer, for having the most requests waiting (`WaitingRequests`): nginx's 444, a
 * connection closed without an answer.
 */
export const CONNECTION_DROPPED = 444;

export type UpstreamErrorReason =
  'refused' | 'reset' | 'timeout' | 'dns' | 'tls' | 'protocol' | 'other';

export interface ForwardObserver {
  /** A request was accepted on a data listener. */
  requestStarted?(): void;
  /** Its answer was sent (or its client went away: `status` 499; its connection reset: 444). */
  requestFinished?(user: string, method: string, status: number, durationSeconds: number): void;
  /**
   * A request forwarded for `user` got no usable answer from Vidispine, or its answer was
   * cut after its head; `detail` says what went wrong, for operators (`upstreamErrorDetail`:
   * bounded, without the token); `request` which request it was.
   */
  upstreamError?(
    reason: UpstreamErrorReason,
    user: string,
    detail: string,
    request: ForwardedRequest,
  ): void;
  /** Vidispine answered 401 to our token; `retried` when the request was replayed. */
  upstreamUnauthorized?(user: string, retried: boolean): void;
  /**
   * Vidispine sent bytes after its whole answer to a request of `user` (`method`, `path` as
   * received); its connection was closed, the answer passed on stands. `detail` as for
   * `upstreamError`.
   */
  bytesAfterAnswer?(user: string, method: string, path: string, detail: string): void;
  /** A WebSocket session of `user` began: its upgrade's `101` was written to its client. */
  sessionOpened?(user: string): void;
  /** That session ended, whatever ended it: reported once for each `sessionOpened`. */
  sessionEnded?(user: string, end: SessionEnd): void;
}

/** Every report, so that combining observers cannot forget one (a missing key fails to compile). */
const REPORTS = {
  requestStarted: true,
  requestFinished: true,
  upstreamError: true,
  upstreamUnauthorized: true,
  bytesAfterAnswer: true,
  sessionOpened: true,
  sessionEnded: true,
} as const satisfies Record<keyof ForwardObserver, true>;

type Report = (...args: never[]) => void;

/**
 * One observer that passes each report to every observer that takes it, in order. Reports
 * nobody takes are left out, so the forwarder's `?.()` skips them at no cost.
 */
export function combineObservers(...observers: readonly ForwardObserver[]): ForwardObserver {
  const combined: Partial<Record<keyof ForwardObserver, Report>> = {};
  for (const name of Object.keys(REPORTS) as (keyof ForwardObserver)[]) {
    const takers = observers.flatMap((o) => {
      const report = o[name] as Report | undefined;
      return report === undefined ? [] : [report.bind(o)];
    });
    if (takers.length === 1) combined[name] = takers[0];
    else if (takers.length > 1) {
      combined[name] = (...args) => {
        for (const take of takers) take(...args);
      };
    }
  }
  return combined as ForwardObserver;
}

/**
 * What names a forwarded request in a line about its failure, as its access-log line names
 * it: its method, its target as received (credentials in its query are scrubbed by the
 * logger), and the id of its access-log line — with that log off, the client's own usable
 * `x-request-id`, if it sent one.
 */
export interface ForwardedRequest {
  readonly requestId: string | undefined;
  readonly method: string;
  readonly path: string;
}

/** `req`'s `ForwardedRequest`; `requestId` is admission's, when it made one. */
export function forwardedRequestOf(
  req: IncomingMessage,
  requestId: string | undefined,
): ForwardedRequest {
  const own = requestIdFrom(req.headers['x-request-id']);
  return {
    requestId: requestId ?? (own.generated ? undefined : own.id),
    method: req.method ?? 'GET',
    path: req.url ?? '',
  };
}

/** One access-log record per request; produced only when `proxy.accessLog` is on. */
export interface AccessRecord {
  /** The client's `x-request-id`, or one the proxy made (and sent on to Vidispine). */
  readonly requestId: string;
  readonly user: string;
  readonly method: string;
  /** The request target as received; credentials in its query are scrubbed by the logger. */
  readonly path: string;
  /** 499 when the client went away before the answer, 444 when the proxy reset the connection. */
  readonly status: number;
  readonly durationSeconds: number;
  readonly remoteAddress?: string;
  /** The request was replayed after a 401. */
  readonly replayed: boolean;
  /**
   * Present when its answer's head went out and its body did not go out whole: Vidispine
   * stopped short (its `upstream_error` line names the request), its client went away, the
   * proxy cut it (`sendTimeoutSeconds`, the shutdown).
   */
  readonly cut?: true;
  /**
   * Why Node's parser refused it: before it was a request (`HPE_INVALID_METHOD`,
   * `HPE_HEADER_OVERFLOW` …), its method and path are then `-`; or in its body
   * (`HPE_INVALID_CHUNK_SIZE` …), answered with `status`, what went to Vidispine of it aborted.
   */
  readonly refusal?: string;
}

export type AccessLogger = (record: AccessRecord) => void;

/** What names a request in its access-log line, and a WebSocket session in its own. */
export type RequestFields = Pick<
  AccessRecord,
  'requestId' | 'user' | 'method' | 'path' | 'remoteAddress'
>;

/**
 * What ended a WebSocket session, as the proxy saw it first: a connection's close (its FIN,
 * or its close without one), a connection's error, or the proxy's own cut.
 */
export type SessionEnd = 'client_closed' | 'upstream_closed' | 'error' | 'shutdown' | 'timeout';

/**
 * One access-log record per WebSocket session, at its end; produced only when
 * `proxy.accessLog` is on. Its upgrade's `AccessRecord`, written at the `101`, shares its
 * `requestId`, `user`, `method` and `path`.
 */
export interface SessionRecord extends RequestFields {
  /** From the upgrade's arrival, as its `AccessRecord`'s, to the session's end. */
  readonly durationSeconds: number;
  /** Bytes read from the client after its upgrade's head (frames, unparsed). */
  readonly bytesReceived: number;
  /** Bytes written to the client after the `101`'s head that the kernel took. */
  readonly bytesSent: number;
  readonly end: SessionEnd;
  /** For `end: 'error'`: which connection failed, and the error's message. */
  readonly detail?: string;
}

export type SessionLogger = (record: SessionRecord) => void;

/** A request over, plain or a WebSocket upgrade: what it is counted and logged with. */
export interface Answered {
  readonly req: IncomingMessage;
  readonly user: string;
  /** Admission's; absent for a request refused before it, which keeps the client's (or a new one). */
  readonly requestId: string | undefined;
  /**
   * The status its client got: 499 (`CLIENT_CLOSED`) when it went away first, 444
   * (`CONNECTION_DROPPED`) when the proxy reset its connection.
   */
  readonly status: number;
  /** `performance.now()` when it arrived. */
  readonly started: number;
  /** Read on arrival: a socket already destroyed has none. */
  readonly remoteAddress: string | undefined;
  readonly replayed: boolean;
  /** Why the parser refused its body, when it did (`AccessRecord.refusal`). */
  readonly refusal?: string;
  /** See `AccessRecord.cut`. */
  readonly cut?: boolean;
}

/** The id its access-log line has: admission's, else the client's usable one or a new one. */
export function requestIdOf(answered: Pick<Answered, 'req' | 'requestId'>): string {
  return answered.requestId ?? requestIdFrom(answered.req.headers['x-request-id']).id;
}

/** Those fields of `answered`: its `101` line and its session's line build them here alike. */
export function requestFieldsOf(
  answered: Pick<Answered, 'req' | 'requestId' | 'user' | 'remoteAddress'>,
): RequestFields {
  const { req } = answered;
  return {
    requestId: requestIdOf(answered),
    user: answered.user,
    method: req.method ?? 'GET',
    path: req.url ?? '',
    remoteAddress: answered.remoteAddress,
  };
}

/** Counts a request once it is over, and writes its access-log line when that log is on. */
export function reportAnswered(
  observer: ForwardObserver,
  accessLog: AccessLogger | undefined,
  answered: Answered,
): void {
  const { user, status } = answered;
  const method = answered.req.method ?? 'GET';
  const durationSeconds = (performance.now() - answered.started) / 1000;
  observer.requestFinished?.(user, method, status, durationSeconds);
  if (accessLog === undefined) return;
  const { requestId, path, remoteAddress } = requestFieldsOf(answered);
  accessLog({
    requestId,
    user,
    method,
    path,
    status,
    durationSeconds,
    remoteAddress,
    replayed: answered.replayed,
    ...(answered.cut === true && { cut: true }),
    ...(answered.refusal !== undefined && { refusal: answered.refusal }),
  });
}
