/**
 * Request header names with a meaning of their own, to HTTP or to the proxy. The proxy's
 * header policy (`src/proxy/headers.ts`) is built from these lists, and the configuration
 * refuses a `users[].selectUserHeader` that is one of them: a select header is read as a
 * user name and never passed on, so such a header would name a user on every request (or
 * none) and the meaning it has would be lost.
 */

/** Hop-by-hop fields (RFC 9110 §7.6.1, RFC 9112 §9.6): never passed on in either direction. */
export const HOP_BY_HOP: readonly string[] = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'transfer-encoding',
];

/**
 * Fields the forwarder sets itself: `host` (the upstream's), and the body's framing and
 * `expect`, which it derives from the admitted request alone.
 */
export const REQUEST_FRAMING: readonly string[] = ['content-length', 'expect', 'host'];

/** Credentials a client may not pass on; `runas` only where the user allows it. */
export const CLIENT_CREDENTIALS: readonly string[] = ['authorization', 'proxy-authorization'];
export const RUN_AS_HEADER = 'runas';

/** The request id the access log reads and sends on. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** Fields clients send on their own, which the application needs upstream. */
const CLIENT_SENT: readonly string[] = [
  'cookie',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-protocol',
  'sec-websocket-extensions',
];

const WHY: ReadonlyMap<string, string> = new Map([
  ...HOP_BY_HOP.map((name): [string, string] => [name, 'a hop-by-hop header of HTTP']),
  ...REQUEST_FRAMING.map((name): [string, string] => [
    name,
    'the proxy reads it to frame or route the request and sets its own upstream',
  ]),
  ...[...CLIENT_CREDENTIALS, RUN_AS_HEADER].map((name): [string, string] => [
    name,
    'a credential header the proxy removes or replaces',
  ]),
  [REQUEST_ID_HEADER, "the request id the proxy's access log reads and sends on"],
  ...CLIENT_SENT.map((name): [string, string] => [
    name,
    'clients send it on their own and the application needs it upstream',
  ]),
]);

/** Every lower-case header name that cannot select a user: the chart refuses the same. */
export const RESERVED_REQUEST_HEADERS: readonly string[] = [...WHY.keys()];

/** Why a lower-case header name cannot select a user, or undefined when it can. */
export function reservedRequestHeader(name: string): string | undefined {
  return WHY.get(name);
}
