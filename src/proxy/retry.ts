/**
 * When a request may go upstream a second time after its pooled connection failed. A
 * connection Vidispine closed while idle fails the next request sent on it, but from our
 * side that looks the same as Vidispine dying mid-request: the request may have arrived.
 * Only a method that may safely run twice (RFC 9110 §9.2.2) is sent again.
 */
const IDEMPOTENT: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'OPTIONS',
  'TRACE',
  'PUT',
  'DELETE',
]);

export function isIdempotent(method: string | undefined): boolean {
  return method !== undefined && IDEMPOTENT.has(method);
}
