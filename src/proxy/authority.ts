/**
 * What a client may name as the host it reached: RFC 9110 §7.2 `Host = uri-host [ ":" port ]`,
 * with RFC 3986's `uri-host` — a reg-name (an IPv4 address is one too) or a bracketed IPv6
 * address. The proxy writes this authority into the `Location` it rewrites, so nothing else
 * may get through: `evil.example/x?`, `a b` or `a@b` would turn a redirect into one to
 * somewhere else, or into no URI at all. IPvFuture literals and IPv6 zone identifiers
 * (RFC 6874) name nothing a client can reach through this proxy, and are refused.
 */
import { isIPv6 } from 'node:net';

/** reg-name: unreserved, sub-delims and percent escapes (RFC 3986 §3.2.2); then `:` port. */
const REG_NAME_AUTHORITY = /^(?:[\w\-.~!$&'()*+,;=]|%[\dA-Fa-f]{2})*(?::\d*)?$/;
/** `[` IPv6address `]`, the address itself checked by `isIPv6`; then `:` port. */
const IP_LITERAL_AUTHORITY = /^\[([\dA-Fa-f:.]+)\](?::\d*)?$/;

/** Whether `value` is `uri-host [ ":" port ]`; the empty value (no authority) is one. */
export function isAuthority(value: string): boolean {
  if (REG_NAME_AUTHORITY.test(value)) return true;
  const literal = IP_LITERAL_AUTHORITY.exec(value);
  return literal !== null && isIPv6(literal[1]);
}
