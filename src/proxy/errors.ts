/** Upstream failures → the status the client gets and the metric reason. */
import { errorCode, messageOf } from '../error-message';
import { isOpensslError, isTlsFailure, withoutOpensslFrame } from '../vidispine/connection';
import { statusEndsAtHead } from './bodiless';
import type { UpstreamErrorReason } from './observer';
import { shownWithoutToken } from './unauthorized';

const TIMEOUT_MESSAGES = {
  queue: 'no connection to Vidispine came free in time: all vidispine.maxSockets were busy',
  connect: 'connect to Vidispine timed out',
  response: 'Vidispine did not answer in time',
  send: 'Vidispine stopped taking the request body',
  read: 'Vidispine stopped sending its answer',
} as const;

/** Raised by the forwarder's own timers, so they classify like the kernel's timeouts. */
export class UpstreamTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(readonly phase: keyof typeof TIMEOUT_MESSAGES) {
    super(TIMEOUT_MESSAGES[phase]);
    this.name = 'UpstreamTimeoutError';
  }
}

/** Vidispine reset the connection of an answer whose end only the close of it tells. */
export class UpstreamResetError extends Error {
  readonly code = 'ECONNRESET';
  constructor() {
    super('Vidispine reset the connection before the end of its answer');
    this.name = 'UpstreamResetError';
  }
}

/** Vidispine answered with something that cannot be passed on as HTTP (a `101` to a plain request). */
export class UpstreamProtocolError extends Error {
  readonly code = 'ERR_UPSTREAM_PROTOCOL';
  constructor(message: string) {
    super(message);
    this.name = 'UpstreamProtocolError';
  }
}

const REASON_BY_CODE: Readonly<Record<string, UpstreamErrorReason>> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  ECONNABORTED: 'reset',
  ETIMEDOUT: 'timeout',
  ESOCKETTIMEDOUT: 'timeout',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  EHOSTUNREACH: 'refused',
  ENETUNREACH: 'refused',
  // undici's own
  UND_ERR_SOCKET: 'reset',
  UND_ERR_CLOSED: 'reset',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_OVERFLOW: 'protocol',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'protocol',
  UND_ERR_RES_EXCEEDED_MAX_SIZE: 'protocol',
};

/**
 * undici's verdicts on bytes that are not an HTTP answer: its parser's errors carry no code,
 * and a `101` or a `100` nobody asked for ends the connection as a "bad" socket.
 */
function isUndiciProtocolError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'HTTPParserError') return true;
  return (
    errorCode(err) === 'UND_ERR_SOCKET' &&
    (err.message === 'bad upgrade' || err.message === 'bad response')
  );
}

/**
 * undici's complaint that the body of a 204 or 304 fell short of its `Content-Length`. Such
 * an answer ends at its head whatever its fields say (RFC 9112 §6.3), and a 304 may carry
 * the length its 200 would have had (RFC 9110 §8.6): the answer was whole. undici still
 * closes the connection, so nothing is read from it out of step.
 */
export function isWholeAnswerWithoutBody(status: number, err: unknown): boolean {
  return statusEndsAtHead(status) && errorCode(err) === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH';
}

/**
 * undici's error for an answer whose head (`status` 0: none was taken) did not parse. Once
 * the head named a `Content-Length`, undici reports any parse error in it (a
 * `Transfer-Encoding` beside it, a second one, a bad field after it) as a body falling short
 * of that length, which would send the operator looking at a body that never came: it is
 * told as the bad head it is, as `node:http` tells it.
 */
export function pooledFailure(status: number, err: Error): Error {
  return status === 0 && errorCode(err) === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH'
    ? new UpstreamProtocolError(HEAD_NOT_PARSED)
    : err;
}

const HEAD_NOT_PARSED =
  'Response does not match the HTTP/1.1 protocol (its head did not parse after its Content-Length)';

/** undici's refusal of a request it cannot put on the wire (a control byte in the path). */
export function isUnsendableRequest(err: unknown): boolean {
  return errorCode(err) === 'UND_ERR_INVALID_ARG';
}

export function classifyUpstreamError(err: unknown): UpstreamErrorReason {
  if (isUndiciProtocolError(err)) return 'protocol';
  const code = errorCode(err);
  if (code === undefined) return 'other';
  // OpenSSL's failed handshake (an alert, a port that answers plain HTTP) as `node:http`'s
  // client meets it, writing the request as the handshake runs (undici's pool, which waits
  // for the handshake, gets the `ERR_SSL_…` code of the same failure). The kernel's EPROTO
  // (an ICMP parameter problem), on a plain-HTTP connection too, is no TLS failure.
  if (code === 'EPROTO') return isOpensslError(err) ? 'tls' : 'other';
  const reason = REASON_BY_CODE[code];
  if (reason !== undefined) return reason;
  // llhttp's parse errors: Vidispine's bytes are not HTTP.
  if (code === 'ERR_UPSTREAM_PROTOCOL' || code.startsWith('HPE_')) return 'protocol';
  return isTlsFailure(code) ? 'tls' : 'other';
}

/** The detail of an answer `node:http` saw end short without an error: after a head it reports none. */
export const ANSWER_CUT = 'Vidispine closed the connection before the end of its answer';

/**
 * What went wrong, for the operator's log line, as nginx's error log tells it: the error's
 * own words (`connect ECONNREFUSED 10.0.0.5:8080`, `status 999`, a certificate's names)
 * and its code where they do not name it. Libraries may quote what was sent and the header
 * policy quotes what Vidispine answered, so the attempt's `token` is blanked out.
 */
export function upstreamErrorDetail(err: unknown, token: string): string {
  return shownWithoutToken(errorText(err), token);
}

function errorText(err: unknown): string {
  const message = withoutOpensslFrame(messageOf(err));
  const code = errorCode(err);
  return code === undefined || message.includes(code) || isOwn(err)
    ? message
    : `${message} (${code})`;
}

/** The forwarder's own errors: their codes only make them classify like the system's. */
const isOwn = (err: unknown): boolean =>
  err instanceof UpstreamTimeoutError ||
  err instanceof UpstreamResetError ||
  err instanceof UpstreamProtocolError;

export function statusForUpstreamError(reason: UpstreamErrorReason): 502 | 504 {
  return reason === 'timeout' ? 504 : 502;
}

const DESCRIPTION: Readonly<Record<UpstreamErrorReason, string>> = {
  refused: 'Vidispine refused the connection',
  reset: 'Vidispine closed the connection',
  timeout: 'Vidispine did not answer in time',
  dns: 'the Vidispine host name did not resolve',
  tls: 'the TLS handshake with Vidispine failed',
  protocol: 'Vidispine sent an answer that is not valid HTTP',
  other: 'the request to Vidispine failed',
};

export function describeUpstreamError(reason: UpstreamErrorReason): string {
  return DESCRIPTION[reason];
}

/**
 * What the client is told of `err`: its reason's description, except for a request that
 * never got a connection, which says so — Vidispine may be idle while the proxy's own
 * connections to it are all taken — and for a body Vidispine stopped taking, which it never
 * got whole: no answer was late, and the upload is what to look at.
 */
export function describeFailure(err: unknown, reason: UpstreamErrorReason): string {
  return err instanceof UpstreamTimeoutError && (err.phase === 'queue' || err.phase === 'send')
    ? err.message
    : describeUpstreamError(reason);
}

/** `Retry-After` must be a positive whole number of seconds. */
export function retryAfterHeader(seconds: number): string {
  return String(Number.isFinite(seconds) && seconds > 1 ? Math.ceil(seconds) : 1);
}
