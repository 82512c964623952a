/**
 * Answers a front end (load balancer, reverse proxy, rate limiter) or the servlet container
 * gives on its own, before Vidispine's authentication has looked at the token: a request
 * timed out or too large, a target or head too long, too many requests, a proxy's own
 * authentication.
 */
const BEFORE_AUTHENTICATION: ReadonlySet<number> = new Set([407, 408, 413, 414, 429, 431]);

/**
 * Whether Vidispine's answer to a request carrying a token proves that Vidispine accepted the
 * token: only then may it slide a modelled autoRefresh expiry or count as evidence of how long
 * tokens live. 2xx and 3xx, a 101 to a WebSocket upgrade, and the 4xx Vidispine gives after
 * authentication (400, 403, 404, 409 …) prove it. A 401 is a refusal; the 4xx above may come
 * from a front end that never asked Vidispine; and no 5xx counts: a front end with no backend
 * answers 503 "No server available", a gateway 502 or 504, and even a 500 may come from in
 * front of authentication. Conservative, as the model must be: an answer left out only makes
 * the proxy renew a little earlier, one counted wrongly keeps a dead token in use.
 */
export function provesAccepted(status: number): boolean {
  if (status === 101) return true;
  if (status < 200 || status >= 500 || status === 401) return false;
  return !BEFORE_AUTHENTICATION.has(status);
}

/**
 * Whether Vidispine authenticates a request to this path (as the client sent it): the API
 * under `/API/` and its WebSocket endpoint under `/APIWS/`. The other roots (`/APInoauth/…`,
 * `/APIinit/`, `/APIdoc/`, anything a front end serves itself) take no credentials: Vidispine
 * never looks at the token there, so an answer from them says nothing about it — an
 * application polling `/APInoauth/is-online` through the proxy must not keep a token that
 * died looking alive.
 */
export function authenticates(path: string): boolean {
  return path.startsWith('/API/') || path.startsWith('/APIWS/');
}
