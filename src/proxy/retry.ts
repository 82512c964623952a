/**
 * When a request may go upstream a second time after its pooled connection failed. A
 * connection Vidispine closed while idle fails the next request sent on it, but from our
 * side that looks the same as Vidispine dying mid-request: the request may have arrived.
 * Only a method that may safely run twice (RFC 9110 §9.2.2) is sent again.
 */
import type { UpstreamErrorReason } from './observer';

const IDEMPOTENT: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'PUT',
  'DELETE',
]);

function isIdempotent(method: string | undefined): boolean {
  return method !== undefined && IDEMPOTENT.has(method);
}

/**
 * Whether a failed attempt goes again, on a connection opened for it. Only a reset on a
 * connection that had served earlier requests (`reused`: undici's pool does not say, so its
 * connections count as reused) can be a stale one. The retry never takes another pooled
 * connection — those that sat idle beside the stale one likely died with it — and, being on
 * a new connection, it is the last: a reset there is Vidispine's answer.
 */
export function retriesOnFreshConnection(
  method: string | undefined,
  reason: UpstreamErrorReason,
  reused: boolean,
): boolean {
  return reason === 'reset' && reused && isIdempotent(method);
}
