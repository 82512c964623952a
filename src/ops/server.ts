/**
 * The ops listener: probes, metrics, status and a small page, on their own port and never
 * on a data listener. Everything here only reads; nothing reveals a token or a password.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Health, ProbeResult } from './health';
import type { Logger } from './logger';
import type { OpsMetrics } from './metrics';
import { renderStatusPage } from './page';
import { userStatusJson } from './status';
import type { TokenStatusSource } from './views';

export interface OpsServerOptions {
  readonly health: Health;
  readonly metrics: OpsMetrics;
  readonly tokens: TokenStatusSource;
  readonly logger: Logger;
  /** Shown on the `/` page. */
  readonly version?: string;
  readonly now?: () => number;
}

export interface OpsServer {
  /** Resolves once listening; rejects (e.g. EADDRINUSE) with the address in the message. */
  listen(address: { readonly host: string; readonly port: number }): Promise<void>;
  /** Stops accepting, ends keep-alive connections, resolves once closed. */
  close(): Promise<void>;
  /** Bound address (port 0 resolved), or null when not listening. */
  address(): AddressInfo | null;
}

/** Ops answers are small and quick; a scrape still running this long after close is cut. */
const CLOSE_GRACE_MS = 2000;

function createOpsApp(options: OpsServerOptions): express.Express {
  const { health, metrics, tokens, logger } = options;
  const now = options.now ?? Date.now;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });

  const probe = (res: Response, result: ProbeResult, name: string): void => {
    res.status(result.ok ? 200 : 503).json({ status: result.ok ? 'ok' : `not ${name}`, ...result });
  };

  app.get('/livez', (_req, res) => {
    res
      .status(health.live() ? 200 : 503)
      .type('text/plain')
      .send('ok\n');
  });
  app.get('/startupz', (_req, res) => probe(res, health.started(), 'started'));
  app.get('/readyz', (_req, res) => probe(res, health.ready(), 'ready'));
  app.get('/metrics', async (_req, res) => {
    const body = await metrics.render();
    res.type(metrics.contentType).send(body);
  });
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
        renderStatusPage({ users, ready: health.ready(), version: options.version ?? '', now: at }),
      );
  });
  app.use((_req, res) => {
    res.status(404).json({
      error: 'not found',
      endpoints: ['/livez', '/startupz', '/readyz', '/metrics', '/status', '/'],
    });
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

export function createOpsServer(options: OpsServerOptions): OpsServer {
  const server: Server = createServer(createOpsApp(options));
  return {
    listen: (address) => listen(server, address),
    close: () => close(server),
    address: () => {
      const bound = server.address();
      return bound !== null && typeof bound === 'object' ? bound : null;
    },
  };
}

function listen(server: Server, address: { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => {
      reject(
        new Error(
          `ops listener cannot listen on ${address.host}:${address.port}: ${error.message}`,
        ),
      );
    };
    server.once('error', onError);
    server.listen(address.port, address.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
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
