/**
 * Composition root: configuration → token store → data listeners → ops listener, and the
 * order in which they start and stop. The parts never know about each other; this file
 * connects their events and observers. The commands (`commands/`) decide when to build
 * what; the tests build through the same two factories.
 */
import { formatListen, ListenError } from './config/listen';
import type { KeyPath } from './config/errors';
import type { ProxyConfig } from './config/types';
import { createAccessLog, createSessionLog, forwardLogObserver } from './ops/request-log';
import { createOpsServer, type OpsServer } from './ops/server';
import { Health } from './ops/health';
import type { Logger } from './ops/logger';
import { logTokenEvents, tokenSideLogs } from './ops/token-log';
import { OpsMetrics, recordTokenEvents } from './ops/metrics';
import { RecentRequests } from './ops/recent-requests';
import { statusSetup } from './ops/status';
import type { ShutdownSteps } from './ops/shutdown';
import { AtRest, QUIET_SECONDS } from './proxy/at-rest';
import { combineObservers, type ForwardObserver } from './proxy/observer';
import { createDataListeners, type DataListener } from './proxy/listener';
import { CUT_ANSWER_GRACE_MS } from './proxy/lingering';
import { type Clock, systemClock } from './tokens/clock';
import { createTokenStore } from './tokens/store';
import { watchSecretFolders } from './config/secret-watch';
import { RENEW_FRACTION } from './tokens/renew-policy';
import type { TokenStore } from './tokens/types';
import { createTokenChecker } from './vidispine/whoami';
import { createServerFacts } from './vidispine/endpoints';
import { createTokenMinter } from './vidispine/minter';
import {
  createTransport,
  type TransportOptions,
  type VidispineTransport,
} from './vidispine/transport';
import { packageVersion } from './version';

export interface TokenStoreWiring {
  /** Where `passwordEnv` secrets are read; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Default: real time. The minters stamp `sentAt` with the same clock. */
  readonly clock?: Clock;
  /** Draws in [0, 1) for jitter; default `Math.random`. */
  readonly random?: () => number;
  /** Told once of each folder of secret files that cannot be watched (see `watchSecretFolders`). */
  readonly unwatched?: (folder: string, reason: string) => void;
  /** Told of each token request sent again on a new connection (`TransportOptions.resent`). */
  readonly resent?: TransportOptions['resent'];
}

export interface TokenService {
  readonly store: TokenStore;
  /** The connection pool the minters share, e.g. for `GET /API/whoami`. */
  readonly transport: VidispineTransport;
  /** Stops the store's timers and mints, then closes the pool. */
  stop(): void;
}

/**
 * One transport, one minter per user, `GET /API/whoami` checks, one store: the token side as
 * every caller builds it.
 */
export function createTokenStoreFor(
  config: Pick<ProxyConfig, 'vidispine' | 'users' | 'names'>,
  wiring: TokenStoreWiring = {},
): TokenService {
  const transport = createTransport(config.vidispine, { resent: wiring.resent });
  const { env, random } = wiring;
  const clock = wiring.clock ?? systemClock;
  // What one minter learns of the server (no GET /API/token) every minter uses.
  const server = createServerFacts();
  const store = createTokenStore({
    users: config.users,
    clock,
    random,
    minterFor: (user) =>
      createTokenMinter({
        vidispine: config.vidispine,
        user,
        transport,
        server,
        env,
        now: () => clock.now(),
        names: config.names,
      }),
    checker: createTokenChecker(transport, config.vidispine.mintTimeoutSeconds),
  });
  // A Secret updated while mints back off on its old value is used as soon as it lands.
  const watch = watchSecretFolders(
    config,
    (folder, file) => store.secretFolderChanged(folder, file),
    wiring.unwatched,
  );
  return {
    store,
    transport,
    stop() {
      watch.close();
      store.stop();
      transport.close();
    },
  };
}

export interface ProxyAppOptions {
  readonly config: ProxyConfig;
  readonly logger: Logger;
  /** Where `passwordEnv` secrets are read; default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * The token side; default `createTokenStoreFor(config, { env })`. Given one, the app owns
   * it (stops it on shutdown); tests mint at one server and forward to another this way.
   */
  readonly tokens?: TokenService;
  /** Hears the forwarder's reports besides the metrics and the logs. */
  readonly observer?: ForwardObserver;
  /**
   * Runs a young-generation collection (see `ReadBuffers` and `AtRest`); `run` passes V8's
   * own. Without it V8 decides alone.
   */
  readonly collectYoung?: () => void;
}

export interface ProxyApp {
  readonly config: ProxyConfig;
  readonly store: TokenStore;
  readonly health: Health;
  readonly metrics: OpsMetrics;
  readonly listeners: readonly DataListener[];
  /** Null when `ops.listen` is off. */
  readonly ops: OpsServer | null;
  /**
   * Open every listener, then begin minting (so `/livez` answers while the first mint runs).
   * Rejects with a `ListenError` naming the setting when one cannot bind.
   */
  start(): Promise<void>;
  /** What the shutdown sequence runs, in order. */
  readonly shutdownSteps: ShutdownSteps;
}

export function createProxyApp(options: ProxyAppOptions): ProxyApp {
  const { config, logger } = options;
  const tokens =
    options.tokens ?? createTokenStoreFor(config, { env: options.env, ...tokenSideLogs(logger) });
  const { store } = tokens;
  const metrics = new OpsMetrics({ users: config.users.map((u) => u.name), tokens: store });
  recordTokenEvents(store, metrics);
  logTokenEvents(store, logger, config.names);
  const health = new Health(store);
  // On the store's clock, which moves only with elapsed time: a step back of the wall clock
  // would keep the last minutes' requests on /status for the hour stepped back. (A jump
  // forward counts as time passed there, as it may be a suspend.)
  const recent = new RecentRequests(() => store.now());
  const { collectYoung } = options;
  const atRest = collectYoung
    ? new AtRest(() => {
        collectYoung();
        logger.debug(
          { event: 'at_rest', quietSeconds: QUIET_SECONDS },
          `no request for ${QUIET_SECONDS} s: young collection, for V8 to give memory back`,
        );
      })
    : undefined;
  const listeners = createDataListeners({
    config,
    store,
    observer: combineObservers(
      metrics,
      recent,
      forwardLogObserver(logger, config.names),
      atRest ?? {},
      options.observer ?? {},
    ),
    logger,
    accessLog: config.proxy.accessLog ? createAccessLog(logger) : undefined,
    sessionLog: config.proxy.accessLog ? createSessionLog(logger) : undefined,
    collectYoung,
  });
  const ops = config.ops.listen
    ? createOpsServer({
        health,
        metrics,
        tokens: store,
        recent,
        boundAddress: (user) => {
          const bound = listeners.find((l) => l.user === user)?.address();
          return bound ? formatListen({ host: bound.address, port: bound.port }) : null;
        },
        logger,
        setup: statusSetup(config, {
          version: packageVersion(),
          startedAt: Date.now(),
          renewFraction: RENEW_FRACTION,
        }),
      })
    : null;

  return {
    config,
    store,
    health,
    metrics,
    listeners,
    ops,
    async start() {
      const setting = (path: KeyPath): string => config.names.name(path);
      const opsListen = config.ops.listen;
      if (ops && opsListen) {
        await ListenError.around(setting(['ops', 'listen']), opsListen, () =>
          ops.listen(opsListen),
        );
      }
      await Promise.all(
        config.users.map(async ({ name, listen }, index) => {
          const listener = listeners.find((l) => l.user === name);
          if (listener === undefined || listen === undefined) return;
          await ListenError.around(setting(['users', index, 'listen']), listen, () =>
            listener.listen(),
          );
        }),
      );
      store.start();
    },
    shutdownSteps: {
      endKeepAlive: () => {
        for (const l of listeners) l.drain();
      },
      closeListeners: async () => {
        await Promise.all(listeners.map((l) => l.close()));
      },
      abortInFlight: async (grace) => {
        const graceMs = grace === true ? CUT_ANSWER_GRACE_MS : 0;
        await Promise.all(listeners.map((l) => l.destroy(graceMs)));
      },
      stop: async () => {
        atRest?.stop();
        tokens.stop();
        await ops?.close();
      },
    },
  };
}
