/**
 * Composition root: configuration → token store → data listeners → ops listener, and the
 * order in which they start and stop. The parts never know about each other; this file
 * connects their events and observers.
 */
import { configForCommand, type ProxyConfig } from './config';
import {
  combineObservers,
  createAccessLog,
  createLogger,
  createOpsServer,
  forwardLogObserver,
  Health,
  installProcessErrorHandlers,
  type Logger,
  logStartup,
  logTokenEvents,
  OpsMetrics,
  type OpsServer,
  recordTokenEvents,
  ShutdownCoordinator,
  type ShutdownSteps,
} from './ops';
import { createDataListeners, type DataListener } from './proxy';
import { createTokenStore, type TokenStore } from './tokens';
import {
  createTokenChecker,
  createTokenMinter,
  createTransport,
  type VidispineTransport,
} from './vidispine';
import { packageVersion } from './version';

export interface ProxyAppOptions {
  readonly config: ProxyConfig;
  readonly logger: Logger;
  /** Where `passwordEnv` secrets are read; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface ProxyApp {
  readonly config: ProxyConfig;
  readonly store: TokenStore;
  readonly health: Health;
  readonly metrics: OpsMetrics;
  readonly listeners: readonly DataListener[];
  /** Null when `ops.listen` is off. */
  readonly ops: OpsServer | null;
  /** Open every listener, then begin minting (so `/livez` answers while the first mint runs). */
  start(): Promise<void>;
  /** What the shutdown sequence runs, in order. */
  readonly shutdownSteps: ShutdownSteps;
}

/**
 * The token store of a configuration: an HTTP minter per user and GET /API/whoami checks,
 * over one shared transport. `env` is where `passwordEnv` secrets are read.
 */
export function createTokenStoreFor(
  config: ProxyConfig,
  transport: VidispineTransport,
  env?: NodeJS.ProcessEnv,
): TokenStore {
  return createTokenStore({
    users: config.users,
    minterFor: (user) => createTokenMinter({ vidispine: config.vidispine, user, transport, env }),
    checker: createTokenChecker(transport, config.vidispine.mintTimeoutSeconds),
  });
}

export function createProxyApp({ config, logger, env }: ProxyAppOptions): ProxyApp {
  const transport = createTransport(config.vidispine);
  const store = createTokenStoreFor(config, transport, env);
  const metrics = new OpsMetrics({ users: config.users.map((u) => u.name), tokens: store });
  recordTokenEvents(store, metrics);
  logTokenEvents(store, logger);
  const health = new Health(store);
  const listeners = createDataListeners({
    config,
    store,
    observer: combineObservers(metrics, forwardLogObserver(logger)),
    logger,
    accessLog: config.proxy.accessLog ? createAccessLog(logger) : undefined,
  });
  const ops = config.ops.listen
    ? createOpsServer({ health, metrics, tokens: store, logger, version: packageVersion() })
    : null;
  const drainMs = config.shutdown.drainSeconds * 1000;

  return {
    config,
    store,
    health,
    metrics,
    listeners,
    ops,
    async start() {
      if (ops && config.ops.listen) await ops.listen(config.ops.listen);
      await Promise.all(listeners.map((l) => l.listen()));
      store.start();
    },
    shutdownSteps: {
      closeListeners: async () => {
        await Promise.all(listeners.map((l) => l.close(drainMs)));
      },
      // Each listener cuts its own leftovers when its drain window ends; closing again only
      // waits for that.
      abortInFlight: async () => {
        await Promise.all(listeners.map((l) => l.close(0)));
      },
      stop: async () => {
        store.stop();
        transport.close();
        await ops?.close();
      },
    },
  };
}

/** Where each data listener is bound (port 0 resolved), for the `listening` log line. */
function boundAddresses(app: ProxyApp): { user: string; address: string; port: number }[] {
  return app.listeners.flatMap((l) => {
    const a = l.address();
    return a ? [{ user: l.user, address: a.address, port: a.port }] : [];
  });
}

/** Runs an app until SIGTERM/SIGINT has drained it; resolves with the exit code. */
export async function serve(
  config: ProxyConfig,
  logger: Logger,
  onStarted?: (app: ProxyApp) => void,
): Promise<number> {
  const errors = installProcessErrorHandlers({ logger });
  const app = createProxyApp({ config, logger });
  const shutdown = new ShutdownCoordinator({
    ...config.shutdown,
    health: app.health,
    logger,
    steps: app.shutdownSteps,
  });
  shutdown.install();
  try {
    await app.start();
  } catch (err) {
    errors.fatal('could not open a listener', err);
    return 1;
  }
  logger.info(
    { event: 'listening', listeners: boundAddresses(app), ops: app.ops?.address() ?? null },
    'listening',
  );
  onStarted?.(app);
  return shutdown.done;
}

export async function runCommand(args: string[]): Promise<number> {
  const config = configForCommand(args, process.env);
  if (config === 2) return 2;
  const logger = createLogger({ level: config.log.level });
  logStartup(logger, config, packageVersion());
  return serve(config, logger);
}
