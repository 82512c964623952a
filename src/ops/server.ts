/**
 * Ops listeners: probes, metrics, status and a small page, on their own port and never on
 * a data listener. The proxy's has all of them; the injection webhook's only the probes and
 * metrics. Everything here only reads; nothing reveals a token or a password.
 *
 * The probes and /metrics are answered directly: the kubelet and Prometheus call them every
 * few seconds in every pod, and the readiness probe is on the path to a pod's start. The
 * pages for people (/status, /, a 404 naming the endpoints) are an Express app, loaded on
 * the first request that needs it: Express is the costliest module to load at start-up.
 * Any other method on an endpoint gets 405 with `Allow: GET, HEAD`, and so does CONNECT.
 * It holds at most `OPS_MAX_CONNECTIONS` connections (see `boundConnections`).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Express, NextFunction, Request, Response } from 'express';
import { httpDate } from '../clock-text';
import { boundAddress, type ListenAddress, listenOn } from '../config/listen';
import { closeIdleWhole, type IdleClose } from '../idle-close';
import type { Health } from './health';
import type { Logger } from './logger';
import { renderStatusPage, STATUS_PAGE_CSP } from './page';
import { CoalescedRender } from './render-coalescing';
import { type StatusSetup, type StatusSources, statusReport } from './status';

export interface OpsServerOptions extends StatusSources {
  readonly health: Health;
  readonly metrics: MetricsSource;
  readonly logger: Logger;
  /** The configuration's facts that `/status` and `/` report. */
  readonly setup: StatusSetup;
  readonly now?: () => number;
}

export interface OpsServer {
  /** Resolves once listening; rejects (e.g. EADDRINUSE) with the address in the message. */
  listen(address: ListenAddress): Promise<void>;
  /** Stops accepting, ends keep-alive connections, resolves once closed. */
  close(): Promise<void>;
  /** Bound address (port 0 resolved), or null when not listening. */
  address(): AddressInfo | null;
}

/** Ops answers are small and quick; a scrape still running this long after close is cut. */
export const CLOSE_GRACE_MS = 2000;

/**
 * Connections the ops listener holds at once. It listens on every address for Prometheus,
 * so anyone who reaches the pod can open connections to it; unbounded, ~20,000 of them
 * stuck in their headers took every file the process may open (the data listeners then
 * reset every new client) and ~140 MB. A probe, a scrape and a person need a handful.
 */
export const OPS_MAX_CONNECTIONS = 128;

/**
 * Holds the listener to `max` connections. A new one past it takes the place of the oldest
 * that has no request being answered (stuck in its headers, or idle between requests), as
 * nginx reclaims idle connections when it runs out: a client holding connections open
 * cannot keep the kubelet's probe out, since each probe arrives newer than them all. Failing
 * that, it takes the place of the oldest whose answer waits on a client that does not read
 * it, or whose every request waits for a shared render of /metrics (`waitingScrapes`):
 * otherwise as few connections as the cap, each asking for an answer and reading none of
 * it, or each scraping again as soon as it is answered, would keep every probe out. Only
 * when every answer is being made or read is the newcomer dropped.
 *
 * @param full Called when a newcomer first finds the listener full, and not again until it
 *   is down to half as many connections: once per spell of abuse, not once per connection.
 * @returns The connections it holds, oldest first: every one open on `server` but those it
 *   has closed, which are gone from it at once, not at their `close`.
 */
export function boundConnections(
  server: Server,
  max: number,
  full: () => void,
): ReadonlySet<Socket> {
  const open = new Set<Socket>();
  let told = false;
  /** Connections with no request being answered, oldest first. */
  const idle = new Set<Socket>();
  // Requests being answered on each connection: pipelined ones overlap, the next one under
  // way before the last one's close.
  const answering = new Map<Socket, number>();
  server.on('connection', (socket: Socket) => {
    if (open.size >= max) {
      if (!told) full();
      told = true;
      const replaced = replaceable(idle, open, answering);
      if (replaced === undefined) {
        socket.destroy();
        return;
      }
      replaced.destroy();
      open.delete(replaced);
      idle.delete(replaced);
    }
    open.add(socket);
    idle.add(socket);
    socket.once('close', () => {
      open.delete(socket);
      idle.delete(socket);
      if (open.size <= max / 2) told = false;
      // Node 20 and 22 never close the answers still queued behind the one being written
      // when their connection goes: counted down by them, the connection would be kept.
      answering.delete(socket);
    });
  });
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket as Socket;
    idle.delete(socket);
    answering.set(socket, (answering.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const left = (answering.get(socket) ?? 1) - 1;
      if (left > 0) answering.set(socket, left);
      else {
        answering.delete(socket);
        if (open.has(socket)) idle.add(socket);
      }
    });
  });
  return open;
}

/** Said once per spell: an operator whose probes or scrapes fail learns why, and from when. */
function opsListenerFull(logger: Logger): void {
  logger.warn(
    { event: 'ops_connections_full', max: OPS_MAX_CONNECTIONS },
    `the ops listener holds ${OPS_MAX_CONNECTIONS} connections, its most: each new one now ` +
      'takes the place of the oldest one idle, not reading its answer or only waiting for a ' +
      'render of /metrics, or is closed when none is; something is holding connections to ' +
      'it open',
  );
}

/**
 * The connection a newcomer past the cap replaces: the oldest idle one, else the oldest
 * whose answer is backed up in it (its client takes none of what the kernel holds for it)
 * or whose every request being answered only waits for a shared render.
 */
function replaceable(
  idle: ReadonlySet<Socket>,
  open: ReadonlySet<Socket>,
  answering: ReadonlyMap<Socket, number>,
): Socket | undefined {
  for (const socket of idle) return socket;
  for (const socket of open) {
    if (socket.writableLength > 0 || onlyWaiting(socket, answering.get(socket) ?? 0)) {
      return socket;
    }
  }
  return undefined;
}

/**
 * Scrapes waiting for a shared render of /metrics, by connection. A flood of scrapes that
 * read their answers spends most of its time there (up to 50 ms each), where before a
 * render was made at once and the connection was idle again: the bound must be able to take
 * their place, or 128 such clients keep the kubelet's probes out. Dropping one costs nothing
 * but that scrape: the render goes on for the others.
 */
const waitingScrapes = new WeakMap<Socket, number>();

function onlyWaiting(socket: Socket, answering: number): boolean {
  const waiting = waitingScrapes.get(socket) ?? 0;
  return waiting > 0 && waiting >= answering;
}

/** `text`, with its connection counted in `waitingScrapes` until it settles. */
async function waitedFor<T>(socket: Socket, text: Promise<T>): Promise<T> {
  waitingScrapes.set(socket, (waitingScrapes.get(socket) ?? 0) + 1);
  try {
    return await text;
  } finally {
    const left = (waitingScrapes.get(socket) ?? 1) - 1;
    if (left > 0) waitingScrapes.set(socket, left);
    else waitingScrapes.delete(socket);
  }
}

/** Prometheus text from a registry (the proxy's `OpsMetrics`, the webhook's own). */
export interface MetricsSource {
  readonly contentType: string;
  render(): Promise<string>;
}

/** What a probe answers: 200 when `ok`, else 503; the whole object is the JSON body. */
export interface ProbeAnswer {
  readonly ok: boolean;
}

/** The probes of a process that has no users of its own (the injection webhook). */
export interface ProcessProbes {
  /** It should be sent traffic now. */
  ready(): ProbeAnswer;
}

export interface ProbeServerOptions {
  readonly probes: ProcessProbes;
  readonly metrics: MetricsSource;
  readonly logger: Logger;
}

/** Answered without Express: what a machine calls every few seconds. */
interface DirectRoute {
  readonly path: string;
  answer(res: ServerResponse): void | Promise<void>;
}

/** Pages for people, served by the Express app; returns the paths it adds. */
type Page = (app: Express) => string[];

const NO_STORE = 'no-store';

/**
 * On every answer: never cached, and never sniffed — `/status`, the probes and the 404
 * quote Vidispine's words and names from the configuration, which a browser that sniffed
 * could take for markup (Envoy's admin answers say `nosniff` alike).
 */
const EVERY_ANSWER = { 'Cache-Control': NO_STORE, 'X-Content-Type-Options': 'nosniff' } as const;

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'Content-Type': `${type}; charset=utf-8`,
    'Content-Length': Buffer.byteLength(body),
    ...EVERY_ANSWER,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/** Every ops endpoint only reads. */
const ALLOW = 'GET, HEAD';

const METHOD_NOT_ALLOWED = JSON.stringify({ error: 'method not allowed', allow: ALLOW });

/** A method other than GET or HEAD on an existing endpoint: 405 naming the ones it takes. */
function methodNotAllowed(res: ServerResponse): void {
  res.setHeader('Allow', ALLOW);
  send(res, 405, 'application/json', METHOD_NOT_ALLOWED);
}

/**
 * CONNECT asks for a tunnel, and Node hands its connection over raw, where it would be
 * dropped without a word: it gets the same 405 as any other method, and the connection
 * ends, since what the client sends after it was meant for the tunnel. What it still sends
 * is read and dropped. Node no longer tracks the connection, so nothing else would end it:
 * it is cut after the close grace whatever the client does, or a client that kept sending
 * would hold the listener's close, and the proxy's exit, for as long as it liked.
 */
function refuseConnect(socket: Duplex): void {
  socket.on('error', () => undefined);
  const cut = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
  cut.unref();
  socket.once('close', () => clearTimeout(cut));
  socket.end(
    'HTTP/1.1 405 Method Not Allowed\r\n' +
      `Date: ${httpDate(Date.now())}\r\nAllow: ${ALLOW}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(METHOD_NOT_ALLOWED)}\r\n` +
      Object.entries(EVERY_ANSWER)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('') +
      `Connection: close\r\n\r\n${METHOD_NOT_ALLOWED}`,
  );
  socket.resume();
}

function probeAnswer(res: ServerResponse, result: ProbeAnswer, name: string): void {
  const body = JSON.stringify({ status: result.ok ? 'ok' : `not ${name}`, ...result });
  send(res, result.ok ? 200 : 503, 'application/json', body);
}

/**
 * The process is serving: answered by the event loop itself, so a wedged loop fails it; token
 * trouble never does — restarting would not mint a token any sooner.
 */
const LIVE_ROUTE: DirectRoute = {
  path: '/livez',
  answer: (res) => send(res, 200, 'text/plain', 'ok\n'),
};

const readyRoute = (probes: { ready(): ProbeAnswer }): DirectRoute => ({
  path: '/readyz',
  answer: (res) => probeAnswer(res, probes.ready(), 'ready'),
});

const startedRoute = (health: Health): DirectRoute => ({
  path: '/startupz',
  answer: (res) => probeAnswer(res, health.started(), 'started'),
});

/**
 * Scrapes share renders (see render-coalescing): a flood of them costs the data listeners at
 * most a render every 50 ms, and each still shows every event before it arrived.
 */
function metricsRoute(metrics: MetricsSource): DirectRoute {
  const renders = new CoalescedRender(() => metrics.render());
  return {
    path: '/metrics',
    answer: async (res) => {
      const left = new AbortController();
      res.once('close', () => left.abort());
      const body = await waitedFor(res.req.socket, renders.text(left.signal));
      // Its client left while it waited: nothing to answer.
      if (body === undefined) return;
      res.writeHead(200, {
        'Content-Type': metrics.contentType,
        'Content-Length': Buffer.byteLength(body),
        ...EVERY_ANSWER,
      });
      res.end(res.req.method === 'HEAD' ? undefined : body);
    },
  };
}

/**
 * The Express app for the pages: no caching or sniffing, no framework banner, a 404 naming every
 * endpoint (the direct ones too), errors logged.
 */
function pagesApp(logger: Logger, pages: readonly Page[], direct: readonly string[]): Express {
  // Required here, on first use, not at the top (see the file's comment).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const express = require('express') as typeof import('express');
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // One spelling per endpoint, as the direct routes: `/STATUS` or `/status/` is another path.
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.use((_req, res, next) => {
    res.set(EVERY_ANSWER);
    next();
  });
  const paths = pages.flatMap((page) => page(app));
  if (paths.length > 0) app.all(paths, (_req, res) => methodNotAllowed(res));
  const endpoints = [...direct, ...paths];
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found', endpoints });
  });
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    failed(logger, req.path, error, res);
  });
  return app;
}

function failed(logger: Logger, path: string, error: unknown, res: ServerResponse): void {
  logger.error({ event: 'ops_request_failed', path, err: error }, 'ops endpoint failed');
  if (!res.headersSent) send(res, 500, 'application/json', '{"error":"internal error"}');
  else res.destroy();
}

async function answer(route: DirectRoute, res: ServerResponse, logger: Logger): Promise<void> {
  try {
    await route.answer(res);
  } catch (error) {
    failed(logger, route.path, error, res);
  }
}

/** `scheme://authority` in front of a target in absolute form (RFC 9112 §3.2.2). */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;

/**
 * The path without its query: matched exactly (`/READYZ` and `/readyz/` are other paths). A
 * server must take a target in absolute form (`GET http://pod:9090/readyz`, as a client
 * behind a forward proxy sends it) as its path, which Express does for the pages.
 */
function routePath(url: string | undefined): string {
  const path = (url ?? '/').replace(ABSOLUTE_FORM, '').split('?', 1)[0];
  return path === '' ? '/' : path;
}

/** The proxy's users and their tokens: /status and the / page, from one report. */
function statusPages(options: OpsServerOptions): Page {
  const { health, setup } = options;
  const now = options.now ?? Date.now;
  const report = () => statusReport(setup, options, health.ready(), now());
  return (app) => {
    app.get('/status', (_req, res) => {
      res.json(report());
    });
    app.get('/', (_req, res) => {
      res
        .set('Content-Security-Policy', STATUS_PAGE_CSP)
        .type('html')
        .send(renderStatusPage(report()));
    });
    return ['/status', '/'];
  };
}

/** The proxy's ops listener. */
export function createOpsServer(options: OpsServerOptions): OpsServer {
  const { health, metrics, logger } = options;
  return opsServer(
    logger,
    [LIVE_ROUTE, startedRoute(health), readyRoute(health), metricsRoute(metrics)],
    [statusPages(options)],
  );
}

/** An ops listener with /livez, /readyz and /metrics only (the injection webhook's). */
export function createProbeServer({ probes, metrics, logger }: ProbeServerOptions): OpsServer {
  return opsServer(logger, [LIVE_ROUTE, readyRoute(probes), metricsRoute(metrics)], []);
}

function opsServer(
  logger: Logger,
  direct: readonly DirectRoute[],
  pages: readonly Page[],
): OpsServer {
  const routes = new Map(direct.map((route) => [route.path, route]));
  let app: Express | undefined;
  const server: Server = createServer();
  /**
   * Once the listener has closed, connections close as they turn idle, those whose answer
   * ends after it too (a scrape waits up to 50 ms for a shared render, so under a flood of
   * scrapes that is every connection), else they would stay open until the close grace cuts
   * them. Idle once the answer is out, not merely ended: Node's own test would cut the tail
   * of a large /metrics still going out to a slow reader (4,157,740 of 5,077,780 bytes).
   * Wired before the handler: each request's answer is followed before the handler may end
   * it. The connections it asks about are those the bound holds: the others it has closed.
   */
  const idle = closeIdleWhole(
    server,
    boundConnections(server, OPS_MAX_CONNECTIONS, () => opsListenerFull(logger)),
  );
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // Node's own would format it with `Date` (see clock-text), at the first probe of a pod.
    res.setHeader('Date', httpDate(Date.now()));
    const route = routes.get(routePath(req.url));
    if (route === undefined) {
      app ??= pagesApp(logger, pages, [...routes.keys()]);
      app(req, res);
    } else if (req.method === 'GET' || req.method === 'HEAD') {
      void answer(route, res, logger);
    } else {
      methodNotAllowed(res);
    }
  });
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => refuseConnect(socket));
  return {
    listen: (address) => listenOn(server, address, 'the ops listener'),
    close: () => close(server, idle),
    address: () => boundAddress(server),
  };
}

function close(server: Server, idle: IdleClose): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    force.unref();
    server.close((error) => {
      clearTimeout(force);
      if (error) reject(error);
      else resolve();
    });
    idle.listenerClosed();
  });
}
