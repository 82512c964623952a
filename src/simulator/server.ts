import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { SimContext } from './context';
import { CallCounter } from './counters';
import { FaultSwitch } from './faults';
import { CONTROL_PREFIX, handleControl } from './control';
import { NO_SERVER, backendDown, reject, requestOrigin, splitTarget } from './http';
import { ItemStore } from './items';
import { OPEN_ROOT_RE, dispatchOpen } from './routes/noauth';
import { dispatchApi } from './routes/router';
import { TokenRegistry } from './token-registry';
import { closesAfterAnswer, onlyWebSocketUpgrades } from './upgrade-offer';
import {
  type AccessKeyStatus,
  type CallFilter,
  type FaultLimits,
  SIMULATOR_DEFAULTS,
  type Simulator,
  type SimulatorOptions,
  type TokenEndpointFault,
  type TokenInfo,
} from './types';
import { DEFAULT_USERS, UserDirectory } from './users';
import { WebSocketEcho } from './websocket';

/** Jetty's default idle timeout: keep-alive clients must not race a shorter server timeout. */
const KEEP_ALIVE_MS = 30_000;

class SimulatorServer implements Simulator {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly ctx: SimContext;
  private readonly webSockets: WebSocketEcho;
  private readonly controlPath: boolean;
  private readonly baseNow: () => number;
  private clockOffset = 0;
  private inFlight = 0;
  private origin: string | undefined;

  constructor(options: SimulatorOptions) {
    this.baseNow = options.now ?? Date.now;
    const now = (): number => this.now();
    const lifetime = checkedLifetime({
      defaultSeconds: positiveInteger(
        'defaultSeconds',
        options.defaultSeconds ?? SIMULATOR_DEFAULTS.defaultSeconds,
      ),
      maxSeconds: positiveInteger(
        'maxSeconds',
        options.maxSeconds ?? SIMULATOR_DEFAULTS.maxSeconds,
      ),
      aboveMax: options.aboveMax ?? SIMULATOR_DEFAULTS.aboveMax,
    });
    const refreshSeconds =
      options.refreshIntervalSeconds ?? SIMULATOR_DEFAULTS.refreshIntervalSeconds;
    if (!(refreshSeconds >= 0)) throw new Error('refreshIntervalSeconds must be non-negative');
    const refused = options.refusedRunAsStatus;
    if (refused !== undefined && refused !== 401 && refused !== 403) {
      throw new Error('refusedRunAsStatus must be 401 or 403');
    }
    this.ctx = {
      users: new UserDirectory(options.users ?? DEFAULT_USERS),
      tokens: new TokenRegistry(now, refreshSeconds * 1000),
      faults: new FaultSwitch(now),
      counters: new CallCounter(),
      items: new ItemStore(),
      lifetime,
      refusedRunAsStatus: options.refusedRunAsStatus ?? SIMULATOR_DEFAULTS.refusedRunAsStatus,
      reasonHeader: options.reasonHeader ?? false,
      tokenEndpoint: options.tokenEndpoint ?? true,
      uploadPasskey: nonEmpty(
        'uploadPasskey',
        options.uploadPasskey ?? SIMULATOR_DEFAULTS.uploadPasskey,
      ),
      backendAvailable: true,
      whoamiStatus: options.whoamiStatus,
      origin: (req) => requestOrigin(req, this.url),
    };
    this.controlPath = options.controlPath ?? false;
    this.webSockets = new WebSocketEcho(this.ctx);
    // Big uploads may take any time: no overall request timeout.
    this.server = createServer({
      ...onlyWebSocketUpgrades(),
      requestTimeout: 0,
      keepAliveTimeout: KEEP_ALIVE_MS,
    });
    this.server.on('request', (req, res) => this.onRequest(req, res));
    // Jetty checks credentials before answering 100 Continue, so do we.
    this.server.on('checkContinue', (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req, socket, head) => this.webSockets.upgrade(req, socket, head));
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    // Unparseable requests get a 400 (a head too large 431) and a closed connection; resets
    // need no answer.
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (err.code === 'ECONNRESET' || !socket.writable) return socket.destroy();
      socket.end(
        err.code === 'HPE_HEADER_OVERFLOW'
          ? 'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n'
          : 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n',
      );
    });
  }

  get url(): string {
    if (this.origin === undefined) throw new Error('the simulator is not listening');
    return this.origin;
  }

  listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        const addr = this.server.address();
        if (addr === null || typeof addr === 'string') return reject(new Error('no TCP address'));
        const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
        this.origin = `http://${h}:${addr.port}`;
        resolve(this.origin);
      });
    });
  }

  async close(): Promise<void> {
    const socketsClosed = [...this.sockets].map(
      (s) => new Promise<void>((resolve) => s.once('close', () => resolve())),
    );
    const serverClosed = this.server.listening
      ? new Promise<void>((resolve) => this.server.close(() => resolve()))
      : Promise.resolve();
    this.server.closeAllConnections();
    this.webSockets.close();
    // Upgraded (WebSocket) sockets are no longer the HTTP server's to close.
    for (const s of this.sockets) s.destroy();
    await Promise.all([serverClosed, ...socketsClosed]);
  }

  calls(filter?: CallFilter): number {
    return this.ctx.counters.total(filter);
  }

  resetCalls(): void {
    this.ctx.counters.reset();
  }

  revokeAllTokens(): void {
    this.ctx.tokens.revokeAll();
  }

  revokeToken(value: string): void {
    this.ctx.tokens.revoke(value);
  }

  failTokenEndpoints(fault: TokenEndpointFault, opts?: FaultLimits): void {
    this.ctx.faults.set(fault, opts);
  }

  healTokenEndpoints(): void {
    this.ctx.faults.heal();
  }

  setUserPassword(name: string, password: string): void {
    this.ctx.users.setPassword(name, password);
  }

  setUserDisabled(name: string, disabled: boolean): void {
    this.ctx.users.setDisabled(name, disabled);
  }

  setAccessKeyStatus(id: string, status: AccessKeyStatus): void {
    this.ctx.users.setKeyStatus(id, status);
  }

  setBackendAvailable(available: boolean): void {
    this.ctx.backendAvailable = available;
  }

  /** `GET /API/whoami` answers `status` whatever the credentials; undefined serves it again. */
  setWhoamiStatus(status: number | undefined): void {
    this.ctx.whoamiStatus = status;
  }

  setMaxSeconds(seconds: number): void {
    this.ctx.lifetime = checkedLifetime({
      ...this.ctx.lifetime,
      maxSeconds: positiveInteger('maxSeconds', seconds),
    });
  }

  tokenInfo(value: string): TokenInfo | undefined {
    const s = this.ctx.tokens.peek(value);
    return (
      s && { user: s.user, expiresAt: s.expiresAt, autoRefresh: s.autoRefresh, seconds: s.seconds }
    );
  }

  openConnections(): number {
    return this.sockets.size;
  }

  inFlightRequests(): number {
    return this.inFlight;
  }

  now(): number {
    return this.baseNow() + this.clockOffset;
  }

  advanceClock(ms: number): void {
    this.clockOffset += ms;
  }

  tokenCount(): number {
    return this.ctx.tokens.size();
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (closesAfterAnswer(req)) res.shouldKeepAlive = false;
    this.inFlight += 1;
    res.once('close', () => (this.inFlight -= 1));
    try {
      this.route(req, res);
    } catch (err) {
      // A handler bug must cost one request, never the server.
      if (!res.headersSent) reject(res, 500, 'internal simulator error');
      else res.destroy(err instanceof Error ? err : undefined);
    }
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const target = splitTarget(req.url ?? '/');
    const ex = { ctx: this.ctx, req, res, target };
    if (backendDown(this.ctx, target.path)) return reject(res, 503, NO_SERVER);
    if (target.path.startsWith('/API/')) return dispatchApi(ex);
    if (OPEN_ROOT_RE.test(target.path)) return dispatchOpen(ex);
    if (this.controlPath && target.path.startsWith(CONTROL_PREFIX)) {
      return handleControl(this, req, res, target);
    }
    reject(res, 404, 'no such resource');
  }
}

/**
 * Under `aboveMax: 'reject'`, a default lifetime above the cap would have every token request
 * without `seconds` refused.
 */
function checkedLifetime(lifetime: SimContext['lifetime']): SimContext['lifetime'] {
  if (lifetime.aboveMax === 'reject' && lifetime.defaultSeconds > lifetime.maxSeconds) {
    throw new Error(
      `simulator option defaultSeconds (${lifetime.defaultSeconds}) must not exceed maxSeconds (${lifetime.maxSeconds}) unless aboveMax is 'cap'`,
    );
  }
  return lifetime;
}

function positiveInteger(name: string, value: number): number {
  if (!(Number.isInteger(value) && value > 0)) {
    throw new Error(`simulator option ${name} must be a positive integer`);
  }
  return value;
}

function nonEmpty(name: string, value: string): string {
  if (value === '') throw new Error(`simulator option ${name} must not be empty`);
  return value;
}

export function createSimulator(options: SimulatorOptions = {}): Simulator {
  return new SimulatorServer(options);
}
