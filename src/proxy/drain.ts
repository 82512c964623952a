/**
 * Client connections while the proxy shuts down. From the signal on, the last answer owed on
 * each connection says `Connection: close` and the connection closes after it (as nginx and
 * Envoy do when draining): the client opens a new connection for its next request — to
 * another pod once the endpoints have propagated — instead of sending it into one that is
 * about to close (a reset, and for a POST no way to tell whether it was applied). Requests
 * already received behind an answer are still answered: only the last one says `close`.
 * Idle connections stay open until the listener closes: a request sent on one meanwhile is
 * answered (with `close`), whereas closing it could cross a request already on its way.
 * Once the listener has closed, a connection closes as soon as it is idle (`IdleClose`): one
 * whose answers went out `keep-alive` before the signal.
 */
import * as http from 'node:http';
import type { Socket } from 'node:net';
import { IdleClose } from '../idle-close';
import { keepBodilessAlive } from './bodiless';
import type { Pipelines } from './pipeline';

export class ConnectionDrain extends IdleClose {
  private draining = false;

  /**
   * @param betweenRequests The connections on which no request has begun, as Node's parser
   *   sees it (`betweenRequests`), whatever they still owe.
   */
  constructor(
    private readonly pipelines: Pipelines,
    betweenRequests: () => Iterable<Socket>,
  ) {
    super(betweenRequests);
  }

  /** From now on, each connection's last answer closes it. */
  begin(): void {
    this.draining = true;
  }

  /**
   * The listener no longer accepts (the shutdown's delay is over): idle connections close,
   * now and whenever one turns idle.
   */
  override listenerClosed(): void {
    this.begin();
    super.listenerClosed();
  }

  /**
   * A WebSocket upgrade or a `CONNECT` was read on `socket`, and Node handed the connection
   * over: its answer is now the last one owed there — a `101` and a session the shutdown
   * cuts, or a refusal that closes the connection — so the answers still owed before it
   * keep the connection for it.
   */
  handedOver(socket: Socket): void {
    this.forget(socket);
  }

  /**
   * `res` is about to write its head. Decided now, not when the request came: an answer
   * given `keep-alive` is always followed by one already requested, so the client never
   * sends into a connection that closes under it.
   */
  beforeHead(res: http.ServerResponse): void {
    if (!this.draining || !this.isLatest(res)) return;
    res.shouldKeepAlive = false;
    this.pipelines.closeAfterAnswer(res.req.socket);
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
