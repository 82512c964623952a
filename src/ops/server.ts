/**
 * Ops listeners: probes, metrics, status and a small page, on their own port and never on
 * a data listener. The proxy's has all of them; the injection webhook's only the probes and
 * metrics. Everything here only reads; nothing reveals a token or a password.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { boundAddress, type ListenAddress, listenOn } from '../config/listen';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Health } from './health';
import type { Logger } from './logger';
import { renderStatusPage } from './page';
import { userStatusJson } from './status';
import type { TokenStatusSource } from './views';

export interface OpsServerOptions {
  readonly health: Health;
  readonly metrics: MetricsSource;
  readonly tokens: TokenStatusSource;
  readonly logger: Logger;
  /** Shown on the `/` page. */
  readonly version?: string;
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
const CLOSE_GRACE_MS = 2000;

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
  /** The process is serving. */
  live(): boolean;
  /** It should be sent traffic now. */
  ready(): ProbeAnswer;
}

export interface ProbeServerOptions {
  readonly probes: ProcessProbes;
  readonly metrics: MetricsSource;
  readonly logger: Logger;
}

type Route = (app: express.Express) => string[];

/** No caching, no framework banner, the routes, a 404 naming the endpoints, errors logged. */
function opsApp(logger: Logger, routes: readonly Route[]): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  const endpoints = routes.flatMap((route) => route(app));
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found', endpoints });
  });
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    logger.error(
      { event: 'ops_request_failed', path: req.path, err: error },
      'ops endpoint failed',
    );
    if (!res.headersSent) res.status(500).json({ error: 'internal error' });
  });
  return app;
}

function probe(res: Response, result: ProbeAnswer, name: string): void {
  res.status(result.ok ? 200 : 503).json({ status: result.ok ? 'ok' : `not ${name}`, ...result });
}

const liveRoute =
  (probes: { live(): boolean }): Route =>
  (app) => {
    app.get('/livez', (_req, res) => {
      res
        .status(probes.live() ? 200 : 503)
        .type('text/plain')
        .send('ok\n');
    });
    return ['/livez'];
  };

const readyRoute =
  (probes: { ready(): ProbeAnswer }): Route =>
  (app) => {
    app.get('/readyz', (_req, res) => probe(res, probes.ready(), 'ready'));
    return ['/readyz'];
  };

const metricsRoute =
  (metrics: MetricsSource): Route =>
  (app) => {
    app.get('/metrics', async (_req, res) => {
      const body = await metrics.render();
      res.type(metrics.contentType).send(body);
    });
    return ['/metrics'];
  };

const startedRoute =
  (health: Health): Route =>
  (app) => {
    app.get('/startupz', (_req, res) => probe(res, health.started(), 'started'));
    return ['/startupz'];
  };

/** The proxy's users and their tokens: /status and the / page. */
function statusRoutes(options: OpsServerOptions): Route {
  const { health, tokens } = options;
  const now = options.now ?? Date.now;
  return (app) => {
    app.get('/status', (_req, res) => {
      const at = now();
      res.json({
        time: new Date(at).toISOString(),
        shuttingDown: health.shuttingDown,
        users: tokens.status().map((view) => userStatusJson(view, at)),
      });
    });
    app.get('/', (_req, res) => {
      const at = now();
      const users = tokens.status().map((view) => userStatusJson(view, at));
      res
        .set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'")
        .type('html')
        .send(
          renderStatusPage({
            users,
            ready: health.ready(),
            version: options.version ?? '',
            now: at,
          }),
        );
    });
    return ['/status', '/'];
  };
}

/** The proxy's ops listener. */
export function createOpsServer(options: OpsServerOptions): OpsServer {
  const { health, metrics, logger } = options;
  return opsServer(
    opsApp(logger, [
      liveRoute(health),
      startedRoute(health),
      readyRoute(health),
      metricsRoute(metrics),
      statusRoutes(options),
    ]),
  );
}

/** An ops listener with /livez, /readyz and /metrics only (the injection webhook's). */
export function createProbeServer({ probes, metrics, logger }: ProbeServerOptions): OpsServer {
  return opsServer(opsApp(logger, [liveRoute(probes), readyRoute(probes), metricsRoute(metrics)]));
}

function opsServer(app: express.Express): OpsServer {
  const server: Server = createServer(app);
  return {
    listen: (address) => listenOn(server, address, 'the ops listener'),
    close: () => close(server),
    address: () => boundAddress(server),
  };
}

function close(server: Server): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const force = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
    force.unref();
    server.close((error) => {
      clearTimeout(force);
      if (error) reject(error);
      else resolve();
    });
    server.closeIdleConnections();
  });
}
