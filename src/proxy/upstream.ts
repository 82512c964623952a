/** The one place that knows where Vidispine is and how connections to it are pooled. */
import type * as http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { Client, Dispatcher, Pool, buildConnector as BuildConnector } from 'undici';
import type { VidispineConfig } from '../config/types';
import type { Trust } from '../vidispine/connection';
import {
  createAgent,
  IDLE_CONNECTION_MS,
  isSecure,
  pathPrefix,
  requestFor,
  serverName,
  trustedCas,
} from '../vidispine/connection';
import { classifyUpstreamError, UpstreamProtocolError, UpstreamTimeoutError } from './errors';

/** Who hears of bytes Vidispine sent after the answer to its request (see `PooledHandler`). */
export interface AfterAnswer {
  bytesAfterAnswer(err: Error): void;
}

/** A handler of a request through the pools, which may hear of bytes after its answer. */
export interface PooledHandler extends Dispatcher.DispatchHandler {
  /**
   * Vidispine sent bytes after this request's whole answer, on the connection that carried
   * it (in the same read, or while the connection waited for its next request): nginx's
   * "upstream sent more data than specified". undici read them as an answer nobody asked
   * for and closed the connection (`err` says what it read), so no later request takes
   * them for its own answer; it tells nobody, the request being over.
   */
  onBytesAfterAnswer?(err: Error): void;
}

export interface Upstream {
  readonly url: URL;
  /**
   * A request to Vidispine whose answer keeps all its header fields, as undici's does: Node's
   * client keeps only the first 1,000 by default and drops the rest without a word (a
   * `Content-Length` or `Set-Cookie` among them). The size of a head stays bounded by Node's
   * `maxHeaderSize`.
   */
  request(options: http.RequestOptions): http.ClientRequest;
  readonly agent: http.Agent;
  /**
   * `socket`, one of `agent`'s, carries a request of `owner`: bytes that arrive on it once it
   * waits for its next request are told to `owner`, and the connection is closed.
   */
  carries(socket: Socket, owner: AfterAnswer): void;
  /**
   * undici's pool, for requests without a body: its HTTP/1.1 client costs about half of
   * `node:http`'s CPU per request, but cannot hold a body back until `100 Continue`, so
   * requests with one keep `agent`. Made at the first such request.
   */
  pool(): Dispatcher;
  /**
   * Like `pool().dispatch`, but on a connection that carries this one request (sent with
   * `reset`, so closed after its answer), from a pool of its own made at the first: for a
   * retry after a pooled connection failed. Idle connections tend to die together (a
   * restart of Vidispine, a NAT that forgot them), so the retry must not get another one.
   */
  dispatchFresh(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): void;
  /** Closes the connections of both pools, if they were made. */
  destroyPool(): void;
  /**
   * Whether requests without a body wait for one of the pool's connections: all
   * `maxSockets` of them are taken (or being made).
   */
  poolWanted(): boolean;
  /**
   * Whether undici is handling an error of one of the pools' connections right now. It
   * reads a reset (as an orderly close) as the end of an answer delimited by the close of
   * its connection, and ends that answer then: one that ends while this holds was cut short.
   */
  resetting(): boolean;
  /**
   * Never keeps a connection, so every request gets a new one. For WebSocket upgrades (one
   * Vidispine answered without switching protocols may still owe bytes of the handshake,
   * so it must not serve the next request) and for a retry after a pooled connection failed.
   */
  readonly freshAgent: http.Agent;
  readonly hostname: string;
  readonly port: number;
  /** `Host` sent upstream: Vidispine's own, whatever the client used. */
  readonly hostHeader: string;
  readonly pathPrefix: string;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  /** Longest silence allowed inside a response body. */
  readonly readTimeoutMs: number;
}

/** A keep-alive pool per listener; TLS verifies against the system roots plus `caFile`. */
export function createUpstream(config: VidispineConfig): Upstream {
  const url = config.url;
  // Read now, not when undici's pools are first made: that is at a later request.
  const trust = trustedCas(config);
  const agent = createAgent(url, trust, {
    keepAlive: true,
    keepAliveMsecs: 1000,
    // How long a connection may wait idle for its next request, as undici's pool keeps one
    // (shortened further by a `Keep-Alive: timeout=` Vidispine sends): kept longer, it meets a
    // Vidispine or balancer that closed it without a word, and a POST sent on it as it closes
    // is a 502, since a request that may not be repeated is never sent twice. A request on the
    // connection sets its own response timeout.
    timeout: IDLE_CONNECTION_MS,
    maxSockets: config.maxSockets,
    maxFreeSockets: config.maxSockets,
    scheduling: 'lifo',
  });
  const owners = new WeakMap<Duplex, AfterAnswer>();
  closeOnIdleBytes(agent, (socket, err) => owners.get(socket)?.bytesAfterAnswer(err));
  const freshAgent = createAgent(url, trust, { keepAlive: false });
  const send = requestFor(url);
  let pool: Pool | undefined;
  let freshPool: Pool | undefined;
  let failing = false;
  const makePool = (): Pool =>
    createPool(config, trust, (connect) =>
      watchingErrors(
        connect,
        () => (failing = true),
        () => (failing = false),
      ),
    );
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return {
    url,
    request: (options) => {
      const req = send(options);
      req.maxHeadersCount = 0;
      return req;
    },
    agent,
    carries: (socket, owner) => void owners.set(socket, owner),
    pool: () => (pool ??= makePool()),
    dispatchFresh: (options, handler) =>
      void (freshPool ??= makePool()).dispatch({ ...options, reset: true }, handler),
    destroyPool: () => {
      void pool?.destroy();
      void freshPool?.destroy();
    },
    poolWanted: () => (pool?.stats.pending ?? 0) > 0,
    resetting: () => failing,
    freshAgent,
    hostname,
    port: url.port === '' ? (isSecure(url) ? 443 : 80) : Number(url.port),
    hostHeader: url.host,
    pathPrefix: pathPrefix(url),
    connectTimeoutMs: config.connectTimeoutSeconds * 1000,
    responseTimeoutMs: config.upstreamTimeoutSeconds * 1000,
    readTimeoutMs: config.readTimeoutSeconds * 1000,
  };
}

/**
 * Has `agent` close a kept connection on any byte that arrives while it waits for its next
 * request, and tell `heard`: Node 20 drops such bytes and hands the connection to the next
 * request, which may then read the rest of them as its answer. Node 24 closes it itself,
 * reading them out of sight of the stream, silently: the bytes it read tell.
 */
function closeOnIdleBytes(agent: http.Agent, heard: (socket: Duplex, err: Error) => void): void {
  // Node's own methods, documented as overridable; typed `void`, `keepSocketAlive` says
  // whether the connection is kept.
  const keep = agent.keepSocketAlive.bind(agent) as (socket: Duplex) => boolean;
  const reuse = agent.reuseSocket.bind(agent);
  const waiting = new WeakMap<Duplex, () => void>();
  agent.keepSocketAlive = (socket: Duplex): boolean => {
    if (!keep(socket)) return false;
    const read = (socket as Socket).bytesRead;
    const closed = (): void => {
      const unasked = (socket as Socket).bytesRead - read;
      if (unasked > 0) {
        heard(
          socket,
          new UpstreamProtocolError(
            `${unasked} bytes while the connection waited for its next request`,
          ),
        );
      }
    };
    const destroy = (): void => void socket.destroy();
    socket.once('data', destroy);
    socket.once('close', closed);
    waiting.set(socket, () => {
      socket.off('data', destroy);
      socket.off('close', closed);
    });
    return true;
  };
  agent.reuseSocket = (socket, request) => {
    waiting.get(socket)?.();
    waiting.delete(socket);
    reuse(socket, request);
  };
}

/** Loaded at the first request without a body: a process that never sends one never loads undici. */
function createPool(
  config: VidispineConfig,
  trust: Trust,
  watch: (connect: BuildConnector.connector) => BuildConnector.connector,
): Pool {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const undici = require('./undici') as typeof import('./undici');
  // Verified against Node's roots plus `caFile`, as the agent does.
  const connect = undici.buildConnector({
    timeout: config.connectTimeoutSeconds * 1000,
    ...trust,
  });
  // Under the agent's name too: undici hands the connector each request's own, taken from the
  // host as written (a trailing dot kept), over any name given to `buildConnector`.
  const name = serverName(config.url);
  const named: BuildConnector.connector = (options, callback) =>
    connect({ ...options, ...name }, callback);
  return new undici.Pool(config.url.origin, {
    connections: config.maxSockets,
    connect: watch(named),
    // undici lengthens its idle time to what a `Keep-Alive: timeout=` from Vidispine announces
    // (less 2 s, up to 10 min): a connection idle that long meets a NAT or firewall that forgot
    // it, and the next GET waits the whole response timeout for a 504. Node's agent only ever
    // shortens its own, so capped here both pools let an idle connection go alike.
    keepAliveTimeout: IDLE_CONNECTION_MS,
    keepAliveMaxTimeout: IDLE_CONNECTION_MS,
    factory: (origin, options) => watchedClient(new undici.Client(origin, options)),
  });
}

/** One connection of a pool, as `watchedClient` follows it. */
interface Connection {
  /** The request whose whole answer came last on the socket, while no other request took it. */
  answered: PooledHandler | undefined;
}

/**
 * `client` (one of a pool's connections: one socket at a time, one request on it at a time),
 * telling the request of the last answer on its socket (`onBytesAfterAnswer`) when the socket
 * closes on bytes undici could not take as an answer before another request took it.
 */
function watchedClient(client: Client): Client {
  const connection: Connection = { answered: undefined };
  const dispatch = client.dispatch.bind(client);
  client.dispatch = (options, handler) => dispatch(options, new WatchedCall(handler, connection));
  client.on('disconnect', (_origin, _targets, err) => {
    const { answered } = connection;
    connection.answered = undefined;
    // A reset, a close or an idle timeout is no byte too many; undici's verdict on bytes that
    // are no answer is.
    if (answered !== undefined && classifyUpstreamError(err) === 'protocol') {
      answered.onBytesAfterAnswer?.(err);
    }
  });
  return client;
}

/** A request's handler as undici gets it: notes on its connection when its answer was whole. */
class WatchedCall implements Dispatcher.DispatchHandler {
  constructor(
    private readonly handler: PooledHandler,
    private readonly connection: Connection,
  ) {}

  onConnect(abort: (err?: Error) => void): void {
    // On the socket now: what arrives from here on is this request's answer.
    this.connection.answered = undefined;
    this.handler.onConnect?.(abort);
  }

  onHeaders(status: number, headers: Buffer[], resume: () => void, text: string): boolean {
    return this.handler.onHeaders?.(status, headers, resume, text) ?? true;
  }

  onData(chunk: Buffer): boolean {
    return this.handler.onData?.(chunk) ?? true;
  }

  onComplete(trailers: string[] | null): void {
    this.connection.answered = this.handler;
    this.handler.onComplete?.(trailers);
  }

  onError(err: Error): void {
    this.handler.onError?.(err);
  }
}

/**
 * `connect`, with `started` and `ended` called around undici's own handling of each error
 * of a connection. undici adds its listeners while `connect`'s callback runs; one put in
 * front of them and one after them bracket it, whatever it does in between. Should a
 * listener between them throw, the last one never runs: `ended` is also queued for when
 * this turn of the event loop's work is over, so no answer after it is taken for a cut one.
 */
export function watchingErrors(
  connect: BuildConnector.connector,
  started: () => void,
  ended: () => void,
): BuildConnector.connector {
  const start = (): void => {
    started();
    process.nextTick(ended);
  };
  return (options, callback) =>
    connect(options, (...args) => {
      const socket = args[1];
      socket?.prependListener('error', start);
      callback(...args);
      socket?.on('error', ended);
    });
}

/** The event that says a new socket can carry a request: over https, its TLS handshake done. */
function readyEvent(socket: Socket): 'secureConnect' | 'connect' {
  return socket instanceof TLSSocket ? 'secureConnect' : 'connect';
}

/**
 * Destroys `req` with a connect timeout unless a new socket connects within `ms`: over https,
 * once its TLS handshake is done, as undici's pool counts it. A port that accepts connections
 * and never answers the handshake would otherwise hold the request until the response timeout
 * (which Node doubles while the handshake runs).
 */
export function limitConnect(req: http.ClientRequest, ms: number): void {
  req.once('socket', (socket) => {
    if (!socket.connecting) return;
    const timer = setTimeout(() => req.destroy(new UpstreamTimeoutError('connect')), ms);
    const clear = (): void => clearTimeout(timer);
    socket.once(readyEvent(socket), clear);
    socket.once('close', clear);
  });
}

/**
 * Ends a response whose body Vidispine stopped sending for `ms` (nginx's
 * `proxy_read_timeout`). Silence while the body is held back because the client reads
 * slowly (paused by `relay` or a pipe) does not count. The same for a refused upgrade's body.
 */
export function watchUpstreamBody(
  upstreamReq: http.ClientRequest,
  upstreamRes: http.IncomingMessage,
  ms: number,
): void {
  const timer = setTimeout(() => {
    if (upstreamRes.isPaused()) timer.refresh();
    else upstreamReq.destroy(new UpstreamTimeoutError('read'));
  }, ms);
  upstreamRes.on('data', () => timer.refresh());
  upstreamRes.once('close', () => clearTimeout(timer));
}

/**
 * Destroys `req` and calls `timedOut` with a queue timeout (504) unless it gets a socket
 * within `ms`: Node's agent queues a request over `maxSockets` with no clock at all, and the
 * request's own timeout runs only on a socket. Destroyed, a queued request is never sent, but
 * Node reports nothing yet (its `error` and `close` come once it is handed a socket): the
 * caller answers through `timedOut`. It stays in the agent's queue, holding what was written
 * into it (a body held for replay is written only once it has a socket: here it would be
 * outside the replay budget), until a socket of its origin comes free or is made for it:
 * handed to a destroyed request, Node's client passes the socket on as freed, so one socket
 * coming free clears every such request queued ahead of a live one, and no socket is lost.
 *
 * The clock starts with the request, not with a look at the agent's queue: a request given a
 * free or new socket gets it on the next tick and clears its timer then, and requests with a
 * body, the only ones here, are not the hot path (small GETs go through undici's pool).
 */
export function limitQueueWait(
  req: http.ClientRequest,
  ms: number,
  timedOut: (err: UpstreamTimeoutError) => void,
): void {
  const timer = setTimeout(() => {
    // Destroyed by its owner while queued: its `close` too waits for a socket.
    if (req.destroyed) return;
    const err = new UpstreamTimeoutError('queue');
    req.destroy(err);
    timedOut(err);
  }, ms);
  const clear = (): void => clearTimeout(timer);
  req.once('socket', clear);
  req.once('close', clear);
}

/**
 * Calls `then` once `req`'s head can go out: it has a socket (it may have waited for one of
 * `maxSockets`), connected. Never, if it is destroyed first.
 */
export function whenSent(req: http.ClientRequest, then: () => void): void {
  req.once('socket', (socket) => {
    if (socket.connecting) socket.once(readyEvent(socket), then);
    else then();
  });
}
