/**
 * The whole proxy as `run` builds it — `configFromObject` for the configuration,
 * `createProxyApp` for the parts — in front of a real simulator, over real sockets. Two
 * views of the same composition: `startApp` (ops listener, every log line captured) for tests
 * of the whole, `startHarness` (data listeners and the forwarder's reports) for the data path.
 */
import { createProxyApp, createTokenStoreFor, type ProxyApp } from '../../src/app';
import { configFromObject } from '../../src/config/load';
import type { ProxyConfig } from '../../src/config/types';
import { createLogger, type Logger } from '../../src/ops/logger';
import { ShutdownCoordinator, type ShutdownOptions } from '../../src/ops/shutdown';
import type { DataListener } from '../../src/proxy/listener';
import type { ForwardObserver, UpstreamErrorReason } from '../../src/proxy/observer';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator';
import type { Clock } from '../../src/tokens/clock';
import type { TokenStore } from '../../src/tokens/types';
import { call, type Reply } from './http';
import { parseExposition, type Exposition, value } from './prom-parse';
import { until } from './wait';
// The app requires these on first use (the first scrape, the first status page). Jest refuses
// a require while it is between tests, and with test.concurrent one test can end while another
// still runs: imported here, they are in jest's registry before any test starts.
import '../../src/ops/metrics-registry';
import 'express';

/** The simulator's default users and their passwords. */
const PASSWORDS: Readonly<Record<string, string>> = {
  admin: 'admin',
  alice: 'alice-password',
  bob: 'bob-password',
  runas: 'runas-password',
};

export const ALICE = { name: 'alice', password: PASSWORDS.alice, listen: '127.0.0.1:0' };

/** Counts what the forwarder reports, as the ops metrics would. */
export class RecordingObserver implements ForwardObserver {
  started = 0;
  finished: { user: string; method: string; status: number }[] = [];
  upstreamErrors: UpstreamErrorReason[] = [];
  /** What the log line of each says went wrong. */
  upstreamErrorDetails: string[] = [];
  unauthorized: { user: string; retried: boolean }[] = [];
  requestStarted(): void {
    this.started += 1;
  }
  requestFinished(user: string, method: string, status: number): void {
    this.finished.push({ user, method, status });
  }
  upstreamError(reason: UpstreamErrorReason, _user: string, detail: string): void {
    this.upstreamErrors.push(reason);
    this.upstreamErrorDetails.push(detail);
  }
  upstreamUnauthorized(user: string, retried: boolean): void {
    this.unauthorized.push({ user, retried });
  }
}

export interface AppOptions {
  readonly simulator?: SimulatorOptions;
  /** Use an already listening simulator instead of a new one. */
  readonly sim?: Simulator;
  /** Merged over the default YAML-shaped object; `users` replaces the default users. */
  readonly raw?: Record<string, unknown>;
  /** Extra keys for `vidispine` (merged over the simulator URL). */
  readonly vidispine?: Record<string, unknown>;
  /** Forward to this URL; tokens are still minted (and checked) at the simulator. */
  readonly forwardTo?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Do not wait for the first token. */
  readonly noWait?: boolean;
  readonly collectYoung?: () => void;
  /** The token store's clock; default real time. */
  readonly clock?: Clock;
}

export interface RunningApp {
  readonly sim: Simulator;
  readonly app: ProxyApp;
  /** Everything the forwarder reported. */
  readonly observer: RecordingObserver;
  /** Every JSON log line the app wrote, as text. */
  readonly logs: string[];
  /** The app's logger (writes to `logs`). */
  readonly logger: Logger;
  /** Data port of a user's listener (the first listener by default). */
  port(user?: string): number;
  /** Port of the ops listener (when `ops.listen` is on, as it is by default). */
  readonly opsPort: number;
  ops(path: string): Promise<Reply>;
  metrics(): Promise<Exposition>;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Cuts what is in flight, stops the app and the simulator. */
  close(): Promise<void>;
}

/**
 * A shutdown of `r`'s app, begun by each `begin`: no delay, `drainSeconds` of drain, the app's
 * own steps and an exit that does nothing, unless `overrides` say otherwise.
 */
export function shutdownCoordinator(
  r: RunningApp,
  drainSeconds: number,
  overrides: Partial<Pick<ShutdownOptions, 'exit' | 'steps' | 'delaySeconds' | 'timers'>> = {},
): ShutdownCoordinator {
  return new ShutdownCoordinator({
    delaySeconds: 0,
    drainSeconds,
    health: r.app.health,
    logger: r.logger,
    steps: r.app.shutdownSteps,
    exit: () => undefined,
    ...overrides,
  });
}

export async function startApp(options: AppOptions = {}): Promise<RunningApp> {
  const sim = options.sim ?? createSimulator(options.simulator ?? {});
  if (options.sim !== undefined) return startAppWith(sim, options);
  await sim.listen(0, '127.0.0.1');
  try {
    return await startAppWith(sim, options);
  } catch (err) {
    await sim.close();
    throw err;
  }
}

async function startAppWith(sim: Simulator, options: AppOptions): Promise<RunningApp> {
  const env = options.env ?? {};
  const config = configFromObject(
    {
      vidispine: { url: sim.url, mintTimeoutSeconds: 2, ...options.vidispine },
      users: [ALICE],
      ops: { listen: '127.0.0.1:0' },
      log: { level: 'debug' },
      shutdown: { delaySeconds: 0, drainSeconds: 0 },
      ...options.raw,
    },
    env,
  );
  const logs: string[] = [];
  const logger = createLogger({
    level: config.log.level,
    destination: { write: (line: string) => void logs.push(line) },
  });
  const observer = new RecordingObserver();
  const forwardTo = options.forwardTo;
  const app = createProxyApp({
    config:
      forwardTo === undefined
        ? config
        : { ...config, vidispine: { ...config.vidispine, url: new URL(forwardTo) } },
    tokens: createTokenStoreFor(config, { env, clock: options.clock }),
    logger,
    observer,
    collectYoung: options.collectYoung,
  });
  await app.start();
  const port = (user?: string): number => {
    const listener =
      user === undefined ? app.listeners[0] : app.listeners.find((l) => l.user === user);
    const address = listener?.address();
    if (!address) throw new Error(`no listener for ${user ?? 'the first user'}`);
    return address.port;
  };
  const opsPort = app.ops?.address()?.port ?? 0;
  const ops = (path: string): Promise<Reply> => {
    if (app.ops === null) throw new Error('the ops listener is off');
    return call(opsPort, { path });
  };
  const metrics = async (): Promise<Exposition> => parseExposition((await ops('/metrics')).text);
  const running: RunningApp = {
    sim,
    app,
    observer,
    logs,
    logger,
    port,
    opsPort,
    ops,
    metrics,
    async metric(name, labels = {}) {
      return value(await metrics(), name, labels) ?? 0;
    },
    async close() {
      await app.shutdownSteps.abortInFlight();
      await app.shutdownSteps.stop();
      await sim.close();
    },
  };
  if (options.noWait !== true) {
    await until(() => app.health.started().ok, 10_000, 'the first token');
  }
  return running;
}

/** A data listener's user: its password is the simulator's, its listener on a free port. */
export type HarnessUser = Record<string, unknown> & { readonly name: string };

export interface HarnessOptions {
  readonly simulator?: SimulatorOptions;
  /** Users with a listener each (`listen: undefined` for none); default one listener for alice. */
  readonly users?: readonly HarnessUser[];
  /** YAML keys of `vidispine` and `proxy`. */
  readonly vidispine?: Record<string, unknown>;
  readonly proxy?: Record<string, unknown>;
  /** Forward to this URL instead of the simulator (tokens are still minted there). */
  readonly forwardTo?: string;
  readonly collectYoung?: () => void;
}

export interface Harness {
  readonly sim: Simulator;
  /** What the listeners were built from. */
  readonly config: ProxyConfig;
  readonly store: TokenStore;
  readonly observer: RecordingObserver;
  readonly listeners: readonly DataListener[];
  /** Port of the first listener. */
  readonly port: number;
  portOf(user: string): number;
  close(): Promise<void>;
}

/** The data path alone: listeners and what they report, no ops listener, no logs. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const users = (options.users ?? [{ name: 'alice' }]).map((user) => ({
    password: PASSWORDS[user.name] ?? 'unknown',
    listen: '127.0.0.1:0',
    ...user,
  }));
  const r = await startApp({
    simulator: options.simulator,
    vidispine: {
      mintTimeoutSeconds: 5,
      connectTimeoutSeconds: 2,
      upstreamTimeoutSeconds: 30,
      maxSockets: 32,
      ...options.vidispine,
    },
    raw: {
      users,
      proxy: options.proxy,
      ops: { listen: null },
      log: { level: 'silent' },
      shutdown: { delaySeconds: 0, drainSeconds: 1 },
    },
    forwardTo: options.forwardTo,
    noWait: true,
    collectYoung: options.collectYoung,
  });
  return {
    sim: r.sim,
    config: r.app.config,
    store: r.app.store,
    observer: r.observer,
    listeners: r.app.listeners,
    port: r.port(),
    portOf: r.port,
    close: r.close,
  };
}
