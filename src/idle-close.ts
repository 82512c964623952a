/**
 * The idle connections of an HTTP server whose listener has closed, closed without cutting
 * an answer: the data listeners' drain and the ops listener's close. Idle means two things at
 * once: nothing owed on the connection (`owedAnswer`: every request read was answered, the
 * last answer's bytes all handed to the kernel), and no request begun (Node's parser is
 * between two requests, as `server.closeIdleConnections` sees it). Node's test alone is not
 * enough: it counts a connection idle once the answer being written has been ended, though
 * its bytes and those of the answers pipelined behind it may still be waiting to be sent to
 * a slow client, and the close would throw them away (nginx and Envoy close a draining
 * connection only once its last answer has been written out).
 */
import * as http from 'node:http';
import type { Socket } from 'node:net';

export class IdleClose {
  private listenerGone = false;
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
  constructor(private readonly betweenRequests: () => Iterable<Socket>) {}

  /** The answer still owed to the latest request read on `socket`, if any. */
  owedAnswer(socket: Socket): http.ServerResponse | undefined {
    const res = this.latest.get(socket);
    return res === undefined || res.writableFinished ? undefined : res;
  }

  /** Whether `res` answers the latest request read on its connection. */
  isLatest(res: http.ServerResponse): boolean {
    return this.latest.get(res.req.socket) === res;
  }

  /** Whether the listener has closed (`listenerClosed`). */
  get closed(): boolean {
    return this.listenerGone;
  }

  /** The listener no longer accepts: idle connections close, now and whenever one turns idle. */
  listenerClosed(): void {
    this.listenerGone = true;
    this.closeIdle();
  }

  /** A request was read: its answer is now the last one owed on its connection. */
  received(res: http.ServerResponse): void {
    this.latest.set(res.req.socket, res);
    // Node's own 'finish' listener, added before the request was handed over, has already
    // let the connection go idle when this one runs.
    res.on('finish', () => this.answered(res));
    // A body still coming when its answer has gone out (one answered unread: Node reads and
    // drops the rest) holds the connection until its end, when no answer ends: it turns idle
    // then, and would otherwise wait for the close grace.
    if (!res.req.complete) res.req.once('end', () => this.bodyRead());
  }

  /**
   * Node handed `socket` over (a WebSocket upgrade, a `CONNECT`): nothing read on it before
   * is the last answer owed there any more.
   */
  forget(socket: Socket): void {
    this.latest.delete(socket);
  }

  private bodyRead(): void {
    if (this.listenerGone) this.closeIdleSoon();
  }

  private answered(res: http.ServerResponse): void {
    const socket = res.req.socket;
    if (this.latest.get(socket) === res) this.latest.delete(socket);
    if (this.listenerGone) this.closeIdleSoon();
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
   * Closes every idle connection. The end of any answer, or of a body read after its answer,
   * leads here (`closeIdleSoon`), and another connection may then have answers still going
   * out: each is asked, not only the one just answered. It stands for the server's
   * `closeIdleConnections` too, which `close()` calls.
   */
  closeIdle(): void {
    for (const socket of this.betweenRequests()) {
      if (this.owedAnswer(socket) === undefined) socket.destroy();
    }
  }
}

/**
 * `server`'s idle connections closed by `IdleClose`: every connection and request followed,
 * and `server.closeIdleConnections`, which `server.close()` calls, asks its test. For a
 * server whose requests are all answered by Node's own pipelining, in order.
 *
 * @param connections Every connection `server` holds open (`openConnections`), when the
 *   caller already follows them.
 */
export function closeIdleWhole(
  server: http.Server,
  connections: ReadonlySet<Socket> = openConnections(server),
): IdleClose {
  const idle = new IdleClose(() => betweenRequests(server, connections));
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) =>
    idle.received(res),
  );
  closeIdleBy(server, idle);
  return idle;
}

/** Every connection open on `server`, followed from its accept to its close. */
export function openConnections(server: http.Server): ReadonlySet<Socket> {
  const connections = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  return connections;
}

/**
 * `server.closeIdleConnections`, which `server.close()` calls, asks `idle`'s test: Node's own
 * counts a connection idle once its answer has ended, though that answer's last bytes may
 * still wait to go out.
 */
export function closeIdleBy(server: http.Server, idle: IdleClose): void {
  server.closeIdleConnections = (): void => idle.closeIdle();
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
    // Node's own, whatever stands for it on `server` (see `IdleClose.closeIdle`).
    http.Server.prototype.closeIdleConnections.call(server);
  } finally {
    for (const socket of asked) delete (socket as { destroy?: unknown }).destroy;
  }
  return idle;
}
