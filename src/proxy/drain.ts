/**
 * Client connections while the proxy shuts down. From the signal on, the last answer owed on
 * each connection says `Connection: close` and the connection closes after it (as nginx and
 * Envoy do when draining): the client opens a new connection for its next request — to
 * another pod once the endpoints have propagated — instead of sending it into one that is
 * about to close (a reset, and for a POST no way to tell whether it was applied). Requests
 * already received behind an answer are still answered: only the last one says `close`.
 * Idle connections stay open until the listener closes: a request sent on one meanwhile is
 * answered (with `close`), whereas closing it could cross a request already on its way.
 * Once the listener has closed, a connection closes as soon as it is idle: one whose answers
 * went out `keep-alive` before the signal. Idle means two things at once: nothing owed on it
 * (`owedAnswer`: every request read was answered, the last answer's bytes all handed to the
 * kernel), and no request begun (Node's parser is between two requests, as
 * `server.closeIdleConnections` sees it). Node's test alone is not enough: it counts a
 * connection idle once the answer being written has been ended, though its bytes and those
 * of the answers pipelined behind it may still be waiting to be sent, and the close would
 * throw them away.
 */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import { keepBodilessAlive } from './bodiless';
import type { Pipelines } from './pipeline';

export class ConnectionDrain {
  private draining = false;
  private idleCloses = false;
  /**
   * The answer to the latest request read on each connection, until it has been sent: an
   * idle keep-alive connection holds nothing of the request it last served (a thousand idle
   * connections would otherwise keep a thousand answers, their requests and listeners).
   */
  private readonly latest = new WeakMap<Socket, http.ServerResponse>();
  /** A pass of `closeIdle` is due at the end of this turn of the event loop. */
  private passDue = false;

  /**
   * @param betweenRequests The connections on which no request has begun, as Node's parser
   *   sees it (`betweenRequests`), whatever they still owe.
   */
  constructor(
    private readonly pipelines: Pipelines,
    private readonly betweenRequests: () => Iterable<Socket>,
  ) {}

  /** The answer still owed to the latest request read on `socket`, if any. */
  owedAnswer(socket: Socket): http.ServerResponse | undefined {
    const res = this.latest.get(socket);
    return res === undefined || res.writableFinished ? undefined : res;
  }

  /** Whether the listener has closed (`listenerClosed`): the shutdown's delay is over. */
  get closed(): boolean {
    return this.idleCloses;
  }

  /** From now on, each connection's last answer closes it. */
  begin(): void {
    this.draining = true;
  }

  /** The listener no longer accepts: idle connections close, now and whenever one turns idle. */
  listenerClosed(): void {
    this.begin();
    this.idleCloses = true;
    this.closeIdle();
  }

  /** A request was read: its answer is now the last one owed on its connection. */
  received(res: http.ServerResponse): void {
    this.latest.set(res.req.socket, res);
    // Node's own 'finish' listener, added before the request was handed over, has already
    // let the connection go idle when this one runs.
    res.on('finish', () => this.answered(res));
  }

  /**
   * A WebSocket upgrade or a `CONNECT` was read on `socket`, and Node handed the connection
   * over: its answer is now the last one owed there — a `101` and a session the shutdown
   * cuts, or a refusal that closes the connection — so the answers still owed before it
   * keep the connection for it.
   */
  handedOver(socket: Socket): void {
    this.latest.delete(socket);
  }

  private answered(res: http.ServerResponse): void {
    const socket = res.req.socket;
    if (this.latest.get(socket) === res) this.latest.delete(socket);
    if (this.idleCloses) this.closeIdleSoon();
  }

  /**
   * `closeIdle` once this turn of the event loop is over, however many answers end in it. A
   * pass asks about every connection (Node's test has no way to ask about one), so a pass per
   * answer would make the drain of N connections cost N passes over N: 3.7 s for 4,000
   * connections whose answers ended together (bench/drain.mjs), where one pass asks them
   * all. The pass reads the state of each connection when it runs: a connection idle then is
   * idle, whenever its answer ended.
   */
  private closeIdleSoon(): void {
    if (this.passDue) return;
    this.passDue = true;
    setImmediate(() => {
      this.passDue = false;
      this.closeIdle();
    });
  }

  /**
   * Closes every idle connection. The end of any answer leads here (`closeIdleSoon`), and
   * another connection may then have answers still going out: each is asked, not only the
   * one just answered. It stands for the server's `closeIdleConnections` too, which
   * `close()` calls.
   */
  closeIdle(): void {
    for (const socket of this.betweenRequests()) {
      if (this.owedAnswer(socket) === undefined) socket.destroy();
    }
  }

  /**
   * `res` is about to write its head. Decided now, not when the request came: an answer
   * given `keep-alive` is always followed by one already requested, so the client never
   * sends into a connection that closes under it.
   */
  beforeHead(res: http.ServerResponse): void {
    const socket = res.req.socket;
    if (!this.draining || this.latest.get(socket) !== res) return;
    res.shouldKeepAlive = false;
    this.pipelines.closeAfterAnswer(socket);
  }

  /**
   * The `ServerResponse` class for `http.createServer` that asks `beforeHead` first, and
   * keeps an HTTP/1.0 client's connection after a bodiless answer (`keepBodilessAlive`).
   */
  responseClass(): typeof http.ServerResponse<http.IncomingMessage> {
    const beforeHead = (res: http.ServerResponse): void => this.beforeHead(res);
    return class DrainingResponse extends http.ServerResponse {
      override writeHead(statusCode: number, ...rest: unknown[]): this {
        beforeHead(this);
        keepBodilessAlive(this, statusCode);
        const writeHead = super.writeHead as (code: number, ...rest: unknown[]) => this;
        return writeHead.call(this, statusCode, ...rest);
      }
    };
  }
}

/**
 * The connections among `sockets` on which no request has begun: those
 * `server.closeIdleConnections` would close, asked without letting it close them. Node keeps
 * its parsers' state to itself; its own test is the one way to read it. Each socket's
 * `destroy` answers for the call instead, then is given back.
 */
export function betweenRequests(server: http.Server, sockets: Iterable<Socket>): Socket[] {
  const idle: Socket[] = [];
  const asked: Socket[] = [];
  for (const socket of sockets) {
    // Own property: the prototype's `destroy` is back once it is deleted.
    socket.destroy = (): Socket => {
      idle.push(socket);
      return socket;
    };
    asked.push(socket);
  }
  try {
    // Node's own, whatever stands for it on `server` (see `ConnectionDrain.closeIdle`).
    http.Server.prototype.closeIdleConnections.call(server);
  } finally {
    for (const socket of asked) delete (socket as { destroy?: unknown }).destroy;
  }
  return idle;
}
