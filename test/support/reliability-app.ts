/**
 * The whole proxy as `run` builds it (createProxyApp over a configuration from
 * configFromObject), in front of a real simulator, with every log line captured in memory.
 * Also raw-socket and polling helpers for the reliability tests.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { createProxyApp, type ProxyApp } from '../../src/app';
import { configFromObject } from '../../src/config';
import { createLogger, type Logger } from '../../src/ops';
import { createSimulator, type Simulator, type SimulatorOptions } from '../../src/simulator';
import type { TokenEventName, TokenEvents } from '../../src/tokens/types';
import { call, type Reply } from './proxy-harness';
import { parseExposition, value, type Exposition } from './prom-parse';

export interface AppOptions {
  readonly simulator?: SimulatorOptions;
  /** Merged over the default YAML-shaped object; `users` replaces the default users. */
  readonly raw?: Record<string, unknown>;
  /** Extra keys for `vidispine` (merged over the simulator URL). */
  readonly vidispine?: Record<string, unknown>;
  readonly env?: NodeJS.ProcessEnv;
  /** Start an already listening simulator instead of a new one. */
  readonly sim?: Simulator;
  /** Do not wait for the first token. */
  readonly noWait?: boolean;
}

export interface RunningApp {
  readonly sim: Simulator;
  readonly app: ProxyApp;
  /** Every JSON log line the app wrote, as text. */
  readonly logs: string[];
  /** The app's logger (writes to `logs`). */
  readonly logger: Logger;
  /** Data port of a user's listener (the first listener by default). */
  port(user?: string): number;
  readonly opsPort: number;
  ops(path: string): Promise<Reply>;
  metrics(): Promise<Exposition>;
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  close(): Promise<void>;
}

export const ALICE = { name: 'alice', password: 'alice-password', listen: '127.0.0.1:0' };

export async function startApp(options: AppOptions = {}): Promise<RunningApp> {
  const sim = options.sim ?? createSimulator(options.simulator ?? {});
  if (options.sim === undefined) await sim.listen(0, '127.0.0.1');
  const raw = {
    vidispine: { url: sim.url, mintTimeoutSeconds: 2, ...options.vidispine },
    users: [ALICE],
    ops: { listen: '127.0.0.1:0' },
    log: { level: 'debug' },
    shutdown: { delaySeconds: 0, drainSeconds: 0 },
    ...options.raw,
  };
  const config = configFromObject(raw, options.env ?? {});
  const logs: string[] = [];
  const logger = createLogger({
    level: config.log.level,
    destination: { write: (line: string) => void logs.push(line) },
  });
  const app = createProxyApp({ config, logger, env: options.env ?? {} });
  await app.start();
  const opsAddress = app.ops?.address();
  if (!opsAddress) throw new Error('ops listener did not start');
  const port = (user?: string): number => {
    const listener =
      user === undefined ? app.listeners[0] : app.listeners.find((l) => l.user === user);
    const address = listener?.address();
    if (!address) throw new Error(`no listener for ${user ?? 'the first user'}`);
    return address.port;
  };
  const ops = (path: string): Promise<Reply> => call(opsAddress.port, { path });
  const metrics = async (): Promise<Exposition> => parseExposition((await ops('/metrics')).text);
  const running: RunningApp = {
    sim,
    app,
    logs,
    logger,
    port,
    opsPort: opsAddress.port,
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

/** Polls `condition` every 10 ms (events are awaited elsewhere; this is for counters). */
export async function until(
  condition: () => boolean,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface RawAnswer {
  /** Everything the server sent before it closed (or before `waitMs` passed). */
  readonly text: string;
  /** First status code in the answer, 0 when none. */
  readonly status: number;
  /** The server closed the connection. */
  readonly closed: boolean;
}

/** Writes exact bytes on a fresh TCP connection and collects the answer until close. */
export function rawExchange(
  port: number,
  bytes: string | Buffer,
  waitMs = 3000,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ text, status: m ? Number(m[1]) : 0, closed });
    };
    const timer = setTimeout(finish, waitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') closed = true;
      else reject(err);
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.write(bytes);
  });
}

/** A loopback server that records every connection and request it gets. */
export interface Recorder {
  readonly port: number;
  readonly url: string;
  connections: number;
  requests: string[];
  close(): Promise<void>;
}

export async function startRecorder(): Promise<Recorder> {
  const server = http.createServer((req, res) => {
    recorder.requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    res.end('evil');
  });
  const recorder: Recorder = {
    port: 0,
    url: '',
    connections: 0,
    requests: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => (recorder.connections += 1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return Object.assign(recorder, { port, url: `http://127.0.0.1:${port}` });
}

/** Every response header of a reply as text, one per line, for searching. */
export function headerText(reply: Reply): string {
  return Object.entries(reply.headers)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : (v ?? '')}`)
    .join('\n');
}

export interface Answer {
  readonly status: number;
  readonly retryAfter?: string;
  readonly at: number;
  readonly text: string;
  readonly bytes: number;
}

export interface Traffic {
  readonly answers: Answer[];
  /** Stops after the request in progress; resolves with every answer. */
  stop(): Promise<Answer[]>;
}

/** One client sending `path` back to back (a short pause between), until stopped. */
export function startTraffic(port: number, path = '/API/whoami', pauseMs = 20): Traffic {
  const answers: Answer[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        const reply = await call(port, { path, agent });
        const retryAfter = reply.headers['retry-after'];
        answers.push({
          status: reply.status,
          retryAfter,
          at: Date.now(),
          text: reply.text,
          bytes: reply.body.length,
        });
      } catch (err) {
        answers.push({ status: 0, at: Date.now(), text: (err as Error).message, bytes: 0 });
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
    agent.destroy();
  })();
  return {
    answers,
    async stop() {
      running = false;
      await loop;
      return answers;
    },
  };
}

/** Resolves with the next payload of a store event. */
export function nextEvent<E extends TokenEventName>(
  app: ProxyApp,
  name: E,
  timeoutMs = 15_000,
): Promise<TokenEvents[E]> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      reject(new Error(`no ${name} event within ${timeoutMs} ms`));
    }, timeoutMs);
    app.store.on(name, (payload) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(payload);
    });
  });
}

/** A TCP relay in front of Vidispine that can cut every connection it carries. */
export interface Relay {
  readonly url: string;
  /** Connections currently relayed. */
  open(): number;
  /** Resets (RST) every relayed connection, both sides. */
  resetAll(): void;
  close(): Promise<void>;
}

export async function startRelay(targetPort: number): Promise<Relay> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const resetAll = (): void => {
    for (const [client, upstream] of [...pairs]) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
  };
  return {
    url: `http://127.0.0.1:${port}`,
    open: () => pairs.size,
    resetAll,
    close: () =>
      new Promise<void>((resolve) => {
        resetAll();
        server.close(() => resolve());
      }),
  };
}
