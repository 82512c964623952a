/** Upstream failures → the status the client gets and the metric reason. */
import { errorCode, isTlsFailure } from '../vidispine/connection';
import type { UpstreamErrorReason } from './observer';

/** Raised by the forwarder's own timers, so they classify like the kernel's timeouts. */
export class UpstreamTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(readonly phase: 'connect' | 'response' | 'read') {
    super(
      phase === 'connect'
        ? 'connect to Vidispine timed out'
        : phase === 'response'
          ? 'Vidispine did not answer in time'
          : 'Vidispine stopped sending its answer',
    );
    this.name = 'UpstreamTimeoutError';
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
};

export function classifyUpstreamError(err: unknown): UpstreamErrorReason {
  const code = errorCode(err);
  if (code === undefined) return 'other';
  const reason = REASON_BY_CODE[code];
  if (reason !== undefined) return reason;
  // llhttp's parse errors: Vidispine's bytes are not HTTP.
  if (code === 'ERR_UPSTREAM_PROTOCOL' || code.startsWith('HPE_')) return 'protocol';
  return isTlsFailure(code) ? 'tls' : 'other';
}

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

/** `Retry-After` must be a positive whole number of seconds. */
export function retryAfterHeader(seconds: number): string {
  return String(Number.isFinite(seconds) && seconds > 1 ? Math.ceil(seconds) : 1);
}
