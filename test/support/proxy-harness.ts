/** A proxy wired to a real simulator over real sockets, plus small HTTP helpers for tests. */
import * as http from 'node:http';
import pino from 'pino';
import { createTokenStoreFor } from '../../src/app';
import { configFromObject } from '../../src/config';
import type {
  ProxyConfig,
  ProxySettings,
  UserConfig,
  VidispineConfig,
} from '../../src/config/types';
import { createDataListeners } from '../../src/proxy';
import type {
  AccessLogger,
  DataListener,
  ForwardObserver,
  UpstreamErrorReason,
} from '../../src/proxy';
import { createSimulator } from '../../src/simulator';
import type { Simulator, SimulatorOptions } from '../../src/simulator';
import { patternChunks } from '../../src/simulator/pattern';
import type { TokenStore } from '../../src/tokens/types';
import { userConfig } from './config-fixtures';
import { basic, readReply, type Reply } from './http';

export const PASSWORDS: Readonly<Record<string, string>> = {
  admin: 'admin',
  alice: 'alice-password',
  bob: 'bob-password',
  runas: 'runas-password',
};

/** Counts what the forwarder reports, as the ops metrics would. */
export class RecordingObserver implements ForwardObserver {
  started = 0;
  finished: { user: string; method: string; status: number }[] = [];
  upstreamErrors: UpstreamErrorReason[] = [];
  unauthorized: { user: string; retried: boolean }[] = [];
  requestStarted(): void {
    this.started += 1;
  }
  requestFinished(user: string, method: string, status: number): void {
    this.finished.push({ user, method, status });
  }
  upstreamError(reason: UpstreamErrorReason): void {
    this.upstreamErrors.push(reason);
  }
  upstreamUnauthorized(user: string, retried: boolean): void {
    this.unauthorized.push({ user, retried });
  }
}

export interface UserOverrides extends Partial<Omit<UserConfig, 'token'>> {
  readonly name: string;
  readonly token?: Partial<UserConfig['token']>;
}

export interface HarnessOptions {
  readonly simulator?: SimulatorOptions;
  /** Users with a listener each; default one listener for alice. */
  readonly users?: readonly UserOverrides[];
  readonly vidispine?: Partial<VidispineConfig>;
  readonly proxy?: Partial<ProxySettings>;
  /** Forward to this URL instead of the simulator (tokens are still minted there). */
  readonly forwardTo?: string;
  /** Turns the access log on, writing its records here. */
  readonly accessLog?: AccessLogger;
}

export interface Harness {
  readonly sim: Simulator;
  /** What the listeners were built from (the simulator as Vidispine). */
  readonly config: ProxyConfig;
  readonly store: TokenStore;
  readonly observer: RecordingObserver;
  readonly listeners: DataListener[];
  /** Port of the first listener. */
  readonly port: number;
  portOf(user: string): number;
  close(): Promise<void>;
}

function listenerUser({ name, ...overrides }: UserOverrides): UserConfig {
  return userConfig(name, {
    secret: { kind: 'literal', value: PASSWORDS[name] ?? 'unknown' },
    listen: { host: '127.0.0.1', port: 0 },
    ...overrides,
  });
}

export function proxyConfig(simUrl: string, options: HarnessOptions): ProxyConfig {
  // Every key the test does not set takes the schema's default, as in production.
  const base = configFromObject(
    {
      vidispine: {
        url: simUrl,
        mintTimeoutSeconds: 5,
        connectTimeoutSeconds: 2,
        upstreamTimeoutSeconds: 30,
        maxSockets: 32,
      },
      users: [{ name: 'alice', password: PASSWORDS.alice, listen: '127.0.0.1:0' }],
      proxy: options.proxy,
      ops: { listen: null },
      log: { level: 'silent' },
      shutdown: { delaySeconds: 0, drainSeconds: 1 },
    },
    {},
  );
  return {
    ...base,
    vidispine: { ...base.vidispine, ...options.vidispine },
    users: (options.users ?? [{ name: 'alice' }]).map(listenerUser),
  };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const sim = createSimulator(options.simulator ?? {});
  await sim.listen(0, '127.0.0.1');
  const config = proxyConfig(sim.url, options);
  const logger = pino({ level: 'silent' });
  const tokens = createTokenStoreFor(config);
  const { store } = tokens;
  store.start();
  const observer = new RecordingObserver();
  const forwardConfig =
    options.forwardTo === undefined
      ? config
      : { ...config, vidispine: { ...config.vidispine, url: new URL(options.forwardTo) } };
  const listeners = createDataListeners({
    config: forwardConfig,
    store,
    observer,
    logger,
    accessLog: options.accessLog,
  });
  await Promise.all(listeners.map((l) => l.listen()));
  const portOf = (user: string): number => {
    const listener = listeners.find((l) => l.user === user);
    const address = listener?.address();
    if (!address) throw new Error(`no listener for ${user}`);
    return address.port;
  };
  return {
    sim,
    config,
    store,
    observer,
    listeners,
    port: portOf(listeners[0].user),
    portOf,
    async close() {
      await Promise.all(listeners.map((l) => l.destroy()));
      tokens.stop();
      await sim.close();
    },
  };
}

export { basic, type Reply };

export interface RequestOptions {
  readonly method?: string;
  readonly path: string;
  readonly headers?: http.OutgoingHttpHeaders;
  readonly body?: Buffer | string;
  readonly agent?: http.Agent | false;
}

/** One request to the proxy; the whole (small) answer is collected. */
export function call(port: number, options: RequestOptions): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
        agent: options.agent ?? false,
      },
      (res) => readReply(res).then(resolve, reject),
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Polls a condition the code under test exposes no event for (counts in another server). */
export async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * Uploads `size` bytes of the simulator's file pattern, generated as it goes with
 * backpressure (never held whole); with `expect: 100-continue` only after the `100`.
 */
export function uploadPattern(
  port: number,
  size: number,
  options: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders } = {},
): Promise<Reply> {
  const headers = { 'content-length': String(size), ...options.headers };
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: options.method ?? 'POST',
      path: options.path ?? '/API/import/raw',
      agent: false,
      headers,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString() });
      });
    });
    const chunks = patternChunks(0, size);
    const pump = (): void => {
      for (let next = chunks.next(); !next.done; next = chunks.next()) {
        if (!req.write(next.value)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    if (headers.expect === undefined) pump();
    else req.once('continue', pump);
  });
}
