/**
 * Data listeners: one `http.Server` per configured `users[].listen`, each with its own
 * keep-alive pool to Vidispine. This is the proxy's whole public surface.
 */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { boundAddress, listenOn } from '../config/listen';
import type { ProxyConfig, UserConfig } from '../config/types';
import { betweenRequests, closeIdleBy, openConnections } from '../idle-close';
import type { TokenStore } from '../tokens/types';
import { FORWARDED_METHODS, MAX_HEADER_FIELDS, admissionRules } from './admission';
import { BodyBudget } from './body';
import { clientErrorHandler } from './client-errors';
import { ConnectionDrain } from './drain';
import { Forwarder } from './forwarder';
import { HandedOver, endHandedOver } from './handed-over';
import { CUT_ANSWER_GRACE_MS, LingeringClose } from './lingering';
import { locationRewriter } from './location';
import { listenerNotices } from './notices';
import { ParseTurn } from './parse-turn';
import type { AccessLogger, ForwardObserver, SessionLogger } from './observer';
import { Pipelines, WaitingRequests, type Abandoned, type Dropped } from './pipeline';
import { ReadBuffers } from './read-buffers';
import { requestIdFrom } from './request-id';
import { WEBSOCKET_UPGRADES_ONLY, declinedUpgrade } from './upgrade-offer';
import { createUpstream } from './upstream';
import { createUpgradeHandler } from './websocket';

export interface DataListenerDeps {
  readonly config: ProxyConfig;
  readonly store: TokenStore;
  /** Who hears what the forwarder reports; nobody when left out. */
  readonly observer?: ForwardObserver;
  readonly logger: Logger;
  /** One record per request; pass it only when `proxy.accessLog` is on. */
  readonly accessLog?: AccessLogger;
  /** One record per WebSocket session, at its end; pass it only when `proxy.accessLog` is on. */
  readonly sessionLog?: SessionLogger;
  /** Default `DATA_SERVER_TIMEOUTS`. */
  readonly serverTimeouts?: ServerTimeouts;
  /** Runs a young-generation collection, for `ReadBuffers`; without it V8 decides alone. */
  readonly collectYoung?: () => void;
  /**
   * Most requests waiting their turn on all connections together, and most parsed on all of
   * them in one turn of the event loop before they are read no further in it; default
   * `MAX_WAITING_TOTAL`.
   */
  readonly maxWaitingRequests?: number;
}

export interface ServerTimeouts {
  /** A client must have sent its whole request head this long after connecting. */
  readonly headersTimeoutMs: number;
  /** How often Node checks connections against `headersTimeoutMs`. */
  readonly checkIntervalMs: number;
}

/**
 * Node's default backlog (511) overflows when a legacy app opens thousands of connections
 * at once (a cold start, a restart behind a pool); the kernel then drops SYNs and clients
 * retry after a second. The kernel still caps it at `net.core.somaxconn`.
 */
const LISTEN_BACKLOG = 4096;

/**
 * No overall request timeout (`requestTimeout: 0`): Node's default of 5 min would cut
 * multi-GiB uploads; Vidispine's own timeouts and the client decide instead. But Node
 * derives its header timeout from that value, so `0` would also let a client that never
 * finishes its headers (slowloris) hold a connection for ever: it is set on its own.
 */
export const DATA_SERVER_TIMEOUTS: ServerTimeouts = {
  headersTimeoutMs: 30_000,
  checkIntervalMs: 5_000,
};

/** A proxy for Vidispine only: tunnels to anywhere are refused in so many words. */
const CONNECT_REFUSED =
  `HTTP/1.1 405 Method Not Allowed\r\nAllow: ${FORWARDED_METHODS}\r\n` +
  'Content-Length: 0\r\nConnection: close\r\n\r\n';

export interface DataListener {
  /** The user this listener acts as unless its select header names another. */
  readonly user: string;
  /** Bind to the configured address (port 0 picks a free one); rejects on bind errors. */
  listen(): Promise<void>;
  /** The bound address, or null before `listen()` / after `close()`. */
  address(): AddressInfo | null;
  /** Requests accepted and not yet answered (or abandoned by their client). */
  inFlight(): number;
  /**
   * Shutdown has begun: the last answer owed on each connection says `Connection: close`
   * and closes it. The listener still accepts; idle connections close with `close()`.
   */
  drain(): void;
  /**
   * Stop accepting and let every in-flight request finish, however long it takes; give the
   * connections still in their lingering close `CUT_ANSWER_GRACE_MS` to be closed by their
   * clients; then end what is left (idle keep-alive connections, WebSocket tunnels) and
   * release the upstream pool. Resolves once the listener is closed and every
   * request is accounted for. The caller owns any deadline: see `destroy`.
   */
  close(): Promise<void>;
  /**
   * Cut every connection now, in flight or not; resolves as `close` does. With `graceMs`,
   * the connections in their lingering close, among them those of the uploads still coming
   * that the cut answers 503, are cut only once their clients have closed them or `graceMs`
   * have passed, so a client still writing can read its answer; a call without cuts them now.
   */
  destroy(graceMs?: number): Promise<void>;
}

function createDataListener(
  user: UserConfig & { listen: NonNullable<UserConfig['listen']> },
  deps: DataListenerDeps,
  shared: {
    bodyBudget: BodyBudget;
    readBuffers: ReadBuffers;
    waiting: WaitingRequests;
    parseTurn: ParseTurn;
  },
): DataListener {
  const { config, store, observer = {} } = deps;
  const logger = deps.logger.child({ listener: user.name });
  const upstream = createUpstream(config.vidispine);
  const identity = {
    defaultUser: user.name,
    selectHeader: user.selectUserHeader?.toLowerCase(),
    knownUsers: new Set(config.users.map((u) => u.name)),
  };
  const rules = admissionRules(identity, config.users, deps.accessLog !== undefined);
  const rewriteLocation = locationRewriter(upstream.url, 'http');
  const { waiting, parseTurn, ...forwarderShared } = shared;
  const pipelines = new Pipelines(
    waiting,
    droppedNotice(logger, waiting.budget),
    abandonedNotice(logger),
    () => upstream.poolWanted(),
  );
  const notices = listenerNotices(logger);
  const sendTimeoutMs = config.proxy.sendTimeoutSeconds * 1000;
  const forwarder = new Forwarder({
    rules,
    pipelines,
    upstream,
    rewriteLocation,
    replayBufferBytes: config.proxy.replayBufferBytes,
    ...forwarderShared,
    expectContinueTimeoutMs: config.proxy.expectContinueTimeoutMs,
    clientBodyTimeoutMs: config.proxy.clientBodyTimeoutSeconds * 1000,
    sendTimeoutMs,
    store,
    observer,
    logger,
    notices,
    accessLog: deps.accessLog,
  });
  const handedOver = new HandedOver();
  const upgrades = createUpgradeHandler({
    rules,
    pipelines,
    upstream,
    rewriteLocation,
    store,
    observer,
    notices,
    handedOver,
    accessLog: deps.accessLog,
    sessionLog: deps.sessionLog,
    sendTimeoutMs,
    listenerClosed: () => drain.closed,
  });
  const timeouts = deps.serverTimeouts ?? DATA_SERVER_TIMEOUTS;
  const drain = new ConnectionDrain(pipelines, () => betweenRequests(server, connections));
  const lingering = new LingeringClose((socket) => pipelines.closeAfterAnswer(socket));
  const server: http.Server = http.createServer({
    ...WEBSOCKET_UPGRADES_ONLY,
    ServerResponse: drain.responseClass(),
    requestTimeout: 0,
    // Admission refuses an HTTP/1.1 request without Host, counted and with its reason.
    requireHostHeader: false,
    headersTimeout: timeouts.headersTimeoutMs,
    connectionsCheckingInterval: timeouts.checkIntervalMs,
  });
  /**
   * Node's own 5 s is shorter than most client pools keep a connection (nginx waits 75 s):
   * a client that reuses one just as the proxy closes it gets a reset for a request that
   * never arrived. `Keep-Alive: timeout=` tells clients that read it when to stop.
   */
  server.keepAliveTimeout = config.proxy.keepAliveTimeoutSeconds * 1000;
  // One more than admission allows, so admission can tell a request that had too many.
  server.maxHeadersCount = MAX_HEADER_FIELDS + 1;
  /**
   * Node reads and hands over requests pipelined behind an answer that closes the
   * connection; they are never answered, so they must not be processed either (RFC 9112
   * §9.6): the client sends them again on a new connection. Such a request is still the
   * latest read (`LingeringClose.received`): a body it has still coming makes the close
   * linger, or the connection, closed with those bytes unread, is reset under the tail of
   * the answer ahead still in its send buffer.
   */
  const unlessClosing =
    (handle: (req: http.IncomingMessage, res: http.ServerResponse) => void) =>
    (req: http.IncomingMessage, res: http.ServerResponse): void => {
      parseTurn.parsedOne(req.socket);
      lingering.received(req);
      if (pipelines.isClosing(req.socket)) return;
      drain.received(res);
      if (declinedUpgrade(req)) {
        res.shouldKeepAlive = false;
        pipelines.closeAfterAnswer(req.socket);
      }
      handle(req, res);
    };
  server.on('request', unlessClosing(forwarder.handle));
  server.on('checkContinue', unlessClosing(forwarder.handleExpectingContinue));
  // Node would answer an expectation other than `100-continue` with a 417 of its own, seen
  // by no metric or log: admission gives that 417 instead.
  server.on('checkExpectation', unlessClosing(forwarder.handle));
  server.on(
    'clientError',
    clientErrorHandler(
      (socket) => drain.owedAnswer(socket as Socket),
      (status, socket, code) => {
        // Its method is whatever the parser could not read: counted as OTHER, answered at once.
        observer.requestStarted?.();
        observer.requestFinished?.(user.name, 'OTHER', status, 0);
        // Logged as nginx logs it, without its method and target: what the parser read of
        // them is not known to be either, and a head may hold credentials.
        deps.accessLog?.({
          requestId: requestIdFrom(undefined).id,
          user: user.name,
          method: '-',
          path: '-',
          status,
          durationSeconds: 0,
          remoteAddress: (socket as Socket).remoteAddress,
          replayed: false,
          refusal: code,
        });
      },
      {
        answered: (socket, status, code) => pipelines.refusing(socket as Socket, status, code),
        cut: (socket) => pipelines.dropping(socket as Socket),
      },
      {
        has: (socket) => lingering.has(socket as Socket),
        afterRefusal: (socket) => lingering.afterRefusal(socket as Socket),
      },
    ),
  );
  // Not `closeIdleWhole`: the drain is made before the server, which takes its response
  // class, and a request read on a closing connection is never `received` (`unlessClosing`).
  closeIdleBy(server, drain);
  server.on('connection', parseTurn.connected);
  /**
   * Every connection open, for a cut that spares some (`destroy` with a grace) and for the
   * drain's idle closes.
   */
  const connections = openConnections(server);
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    parseTurn.handedOver(socket as Socket);
    drain.handedOver(socket as Socket);
    upgrades.handle(req, socket, head);
  });
  server.on('connect', (_req: http.IncomingMessage, socket: Duplex) => {
    parseTurn.handedOver(socket as Socket);
    drain.handedOver(socket as Socket);
    handedOver.add(socket);
    // After the answers still owed on this connection, never in front of them.
    pipelines.enter(socket as Socket, {
      safe: false,
      small: false,
      start: () =>
        endHandedOver(socket, pipelines.isClosing(socket as Socket) ? undefined : CONNECT_REFUSED),
    });
  });

  let closing: Promise<void> | undefined;
  /** Cuts now what `destroy` left to a grace (see `LingeringClose.cutAfter`). */
  let graceCut: (() => void) | undefined;
  /**
   * Ends every connection this listener still holds, both sides, and accounts for every
   * request that was in flight on them before it returns: a second signal exits right after.
   */
  const cutAll = (): void => {
    // First, so an answer only the close delimits gets a reset rather than an orderly close.
    forwarder.cutAnswers();
    lingering.cutAll();
    server.closeAllConnections();
    upgrades.cut();
    handedOver.destroyAll();
    upstream.agent.destroy();
    upstream.destroyPool();
    upstream.freshAgent.destroy();
    forwarder.accountCut();
    upgrades.accountCut();
  };
  const close = (): Promise<void> => {
    if (closing === undefined) {
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      drain.listenerClosed();
      // Whatever is still open once the last request is accounted for is idle or a tunnel.
      // An upgrade sent before the close is a request in flight too: its answer is waited for.
      closing = Promise.all([forwarder.idle(), upgrades.idle()]).then(async () => {
        // A connection in its lingering close was answered: the drain gives it the grace of
        // an answer cut at the window's end, not its own bounds, or a client that keeps
        // sending would hold every shutdown to the end of its window.
        await new Promise<void>((resolve) => lingering.cutAfter([], CUT_ANSWER_GRACE_MS, resolve));
        cutAll();
        await serverClosed;
      });
    }
    return closing;
  };

  return {
    user: user.name,
    listen: async () => {
      await listenOn(server, user.listen, `the data listener of ${user.name}`, LISTEN_BACKLOG);
      // Bind errors are the caller's to report, once; this is for errors after that.
      server.on('error', (err) =>
        logger.error({ event: 'listener_error', err }, 'data listener error'),
      );
    },
    address: () => boundAddress(server),
    inFlight: () => forwarder.inFlight() + upgrades.pending(),
    drain: () => drain.begin(),
    close,
    destroy(graceMs = 0) {
      const closed = close();
      if (graceMs <= 0 || graceCut !== undefined) {
        graceCut?.();
        cutAll();
        return closed;
      }
      // Those the cut answers, and those already lingering, are cut at the grace's end; the
      // rest now.
      const answered = forwarder.cutAnswers();
      // An upgrade answered 503 lingers as a refused upload does, here and in `close`'s wait.
      for (const socket of upgrades.cut()) lingering.adopt(socket);
      const spared = new Set(answered);
      for (const socket of connections) {
        if (!spared.has(socket) && !lingering.has(socket)) socket.destroy();
      }
      handedOver.destroyAll((socket) => lingering.has(socket as Socket));
      graceCut = lingering.cutAfter(answered, graceMs, cutAll);
      return closed;
    },
  };
}

/**
 * Said once per connection reset for the bound on waiting requests: its address and how
 * many of its requests waited, never what they asked for.
 */
function droppedNotice(logger: Logger, budget: number): Dropped {
  return (socket, waiting) => {
    logger.warn(
      { event: 'pipeline_dropped', remoteAddress: socket.remoteAddress, waiting },
      `connection from ${socket.remoteAddress ?? 'a client'} reset: it had the most pipelined ` +
        `requests waiting their turn (${waiting}) when more than ${budget} waited on all connections`,
    );
  };
}

function abandonedNotice(logger: Logger): Abandoned {
  return (socket, { served, waiting }) => {
    logger.warn(
      { event: 'pipeline_abandoned', remoteAddress: socket.remoteAddress, served, waiting },
      `connection from ${socket.remoteAddress ?? 'a client'} closed behind its answer under ` +
        `way: it took nothing while answers pipelined behind it held connections to Vidispine ` +
        `that other requests waited for ` +
        `(${served} requests let go unanswered, ${waiting} more waiting their turn)`,
    );
  };
}

/** One listener per user that has a `listen` address, in configuration order. */
export function createDataListeners(deps: DataListenerDeps): DataListener[] {
  const listeners: DataListener[] = [];
  const waiting = new WaitingRequests(deps.maxWaitingRequests);
  const shared = {
    bodyBudget: new BodyBudget(deps.config.proxy.replayBufferTotalBytes),
    readBuffers: new ReadBuffers(deps.collectYoung),
    waiting,
    // What was parsed and waits is bounded by the same figure as what one turn may parse.
    parseTurn: new ParseTurn(waiting.budget),
  };
  for (const user of deps.config.users) {
    const listen = user.listen;
    if (listen !== undefined) {
      listeners.push(createDataListener({ ...user, listen }, deps, shared));
    }
  }
  return listeners;
}
