import * as http from 'node:http';

/**
 * Node gives every request offering an upgrade (`Connection: upgrade` + `Upgrade`) to the
 * 'upgrade' event once anyone listens there, its body unread on a raw socket. Vidispine's
 * Jetty switches only to WebSocket; `Upgrade: h2c` (`curl --http2`) and any other offer is
 * an ordinary request there, served with its body (RFC 9110 §7.8), and so it is here.
 */
function asksForWebSocket(req: http.IncomingMessage): boolean {
  return req.headers.upgrade?.toLowerCase() === 'websocket';
}

/** Requests whose offer was turned down: see `closesAfterAnswer`. */
const servedPlain = new WeakSet<http.IncomingMessage>();

function switchesProtocol(req: http.IncomingMessage): boolean {
  const webSocket = asksForWebSocket(req);
  if (!webSocket) servedPlain.add(req);
  return webSocket;
}

/**
 * Node's parser discards what arrived behind a request that offered an upgrade in the same
 * read: its answer closes the connection, so a client that pipelined more sends it again.
 */
export function closesAfterAnswer(req: http.IncomingMessage): boolean {
  return servedPlain.has(req);
}

const PARSER_VERDICT = Symbol('upgrade offered');

/** Older Node decides on `req.upgrade`: the parser's verdict holds for WebSocket only. */
class PlainUnlessWebSocket extends http.IncomingMessage {}
Object.defineProperty(PlainUnlessWebSocket.prototype, 'upgrade', {
  get(this: http.IncomingMessage & { [PARSER_VERDICT]?: boolean }): boolean {
    return this[PARSER_VERDICT] === true && (this.method === 'CONNECT' || switchesProtocol(this));
  },
  set(this: { [PARSER_VERDICT]?: boolean }, verdict: boolean) {
    this[PARSER_VERDICT] = verdict;
  },
});

/** `http.createServer` options: `shouldUpgradeCallback` where Node has it (≥ 22.21, 24.9). */
export function onlyWebSocketUpgrades(): http.ServerOptions {
  const probe = new http.Server() as { shouldUpgradeCallback?: unknown };
  return typeof probe.shouldUpgradeCallback === 'function'
    ? ({ shouldUpgradeCallback: switchesProtocol } as http.ServerOptions)
    : { IncomingMessage: PlainUnlessWebSocket };
}
