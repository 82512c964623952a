/** The one place that knows where Vidispine is and how connections to it are pooled. */
import type * as http from 'node:http';
import type { VidispineConfig } from '../config/types';
import { createAgent, isSecure, pathPrefix, requestFor } from '../vidispine/connection';
import { UpstreamTimeoutError } from './errors';

export interface Upstream {
  readonly url: URL;
  readonly request: typeof http.request;
  readonly agent: http.Agent;
  /**
   * For WebSocket upgrades: never keeps a connection. One Vidispine answered without
   * switching protocols may still owe bytes of the handshake, so it must not serve the
   * next request.
   */
  readonly upgradeAgent: http.Agent;
  readonly hostname: string;
  readonly port: number;
  /** `Host` sent upstream: Vidispine's own, whatever the client used. */
  readonly hostHeader: string;
  readonly pathPrefix: string;
  readonly connectTimeoutMs: number;
  readonly responseTimeoutMs: number;
  /** Longest silence allowed inside a response body. */
  readonly readTimeoutMs: number;
}

/** A keep-alive pool per listener; TLS verifies against the system roots plus `caFile`. */
export function createUpstream(config: VidispineConfig): Upstream {
  const url = config.url;
  const agent = createAgent(config, {
    keepAlive: true,
    keepAliveMsecs: 1000,
    maxSockets: config.maxSockets,
    maxFreeSockets: config.maxSockets,
    scheduling: 'lifo',
  });
  const upgradeAgent = createAgent(config, { keepAlive: false });
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return {
    url,
    request: requestFor(url),
    agent,
    upgradeAgent,
    hostname,
    port: url.port === '' ? (isSecure(url) ? 443 : 80) : Number(url.port),
    hostHeader: url.host,
    pathPrefix: pathPrefix(url),
    connectTimeoutMs: config.connectTimeoutSeconds * 1000,
    responseTimeoutMs: config.upstreamTimeoutSeconds * 1000,
    readTimeoutMs: config.readTimeoutSeconds * 1000,
  };
}

/** Destroys `req` with a connect timeout unless a new socket connects within `ms`. */
export function limitConnect(req: http.ClientRequest, ms: number): void {
  req.once('socket', (socket) => {
    if (!socket.connecting) return;
    const timer = setTimeout(() => req.destroy(new UpstreamTimeoutError('connect')), ms);
    const clear = (): void => clearTimeout(timer);
    socket.once('connect', clear);
    socket.once('close', clear);
  });
}
