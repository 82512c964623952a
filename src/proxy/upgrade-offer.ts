/**
 * Which `Upgrade` offers a data listener takes. Node hands every request that offers one
 * (`Connection: upgrade` and `Upgrade`) to the 'upgrade' event as soon as anyone listens
 * there, as a raw socket with its body unread — and `curl --http2` offers `h2c` on ordinary
 * requests. Only a WebSocket handshake over HTTP/1.1 switches protocols here; any other offer
 * is served as the plain request it also is, body and all (RFC 9110 §7.8 lets a server
 * ignore it).
 */
import * as http from 'node:http';

/** An RFC 6455 opening handshake asks for exactly `websocket`. */
export function offersWebSocket(headers: http.IncomingHttpHeaders): boolean {
  return headers.upgrade?.toLowerCase() === 'websocket';
}

const declined = new WeakSet<http.IncomingMessage>();

/**
 * Node's question for a request offering an upgrade: take it (WebSocket) or serve it plain.
 * Node asks for HTTP/1.0 requests too, where `Upgrade` means nothing (RFC 9110 §7.8: a
 * server ignores it there, and may send no `101` to such a client).
 */
function takeUpgrade(req: http.IncomingMessage): boolean {
  if (req.httpVersionMinor >= 1 && offersWebSocket(req.headers)) return true;
  declined.add(req);
  return false;
}

/**
 * `req` offered another protocol and is served as plain HTTP. Node's parser drops whatever
 * arrived behind such a request in the same read, so its answer must close the connection:
 * a request pipelined after it is then sent again by its client instead of never answered.
 */
export function declinedUpgrade(req: http.IncomingMessage): boolean {
  return declined.has(req);
}

const OFFERED = Symbol('upgrade offered');

/**
 * For Node without `shouldUpgradeCallback`, which reads `req.upgrade` once the head is
 * parsed to decide: the parser's verdict is kept, and only a WebSocket offer stays one.
 */
class WebSocketOnlyMessage extends http.IncomingMessage {}
Object.defineProperty(WebSocketOnlyMessage.prototype, 'upgrade', {
  get(this: http.IncomingMessage & { [OFFERED]?: boolean }): boolean {
    return this[OFFERED] === true && (this.method === 'CONNECT' || takeUpgrade(this));
  },
  set(this: { [OFFERED]?: boolean }, offered: boolean) {
    this[OFFERED] = offered;
  },
});

/** Node ≥ 22.21 and ≥ 24.9 ask `shouldUpgradeCallback`; older ones read `req.upgrade`. */
const NATIVE =
  typeof (new http.Server() as { shouldUpgradeCallback?: unknown }).shouldUpgradeCallback ===
  'function';

/** Options for `http.createServer` under which only WebSocket handshakes reach 'upgrade'. */
export const WEBSOCKET_UPGRADES_ONLY: http.ServerOptions = NATIVE
  ? ({ shouldUpgradeCallback: takeUpgrade } as http.ServerOptions)
  : { IncomingMessage: WebSocketOnlyMessage };
