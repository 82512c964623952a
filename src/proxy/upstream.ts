/** The one place that knows where Vidispine is and how connections to it are pooled. */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { rootCertificates } from 'node:tls';
import type { VidispineConfig } from '../config/types';
import { UpstreamTimeoutError } from './errors';
import { upstreamPathPrefix } from './target';

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
}

function readCa(caFile: string): Buffer {
  try {
    return readFileSync(caFile);
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : 'unreadable';
    throw new Error(`vidispine.caFile ${caFile} cannot be read (${code})`);
  }
}

/** A keep-alive pool per listener; TLS verifies against the system roots plus `caFile`. */
export function createUpstream(config: VidispineConfig): Upstream {
  const url = config.url;
  const secure = url.protocol === 'https:';
  const pool = {
    keepAlive: true,
    keepAliveMsecs: 1000,
    maxSockets: config.maxSockets,
    maxFreeSockets: config.maxSockets,
    scheduling: 'lifo' as const,
  };
  const tls =
    config.caFile === undefined ? {} : { ca: [...rootCertificates, readCa(config.caFile)] };
  const agent = secure ? new https.Agent({ ...pool, ...tls }) : new http.Agent(pool);
  const upgradeAgent = secure ? new https.Agent({ keepAlive: false, ...tls }) : new http.Agent();
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return {
    url,
    request: secure ? https.request : http.request,
    agent,
    upgradeAgent,
    hostname,
    port: url.port === '' ? (secure ? 443 : 80) : Number(url.port),
    hostHeader: url.host,
    pathPrefix: upstreamPathPrefix(url),
    connectTimeoutMs: config.connectTimeoutSeconds * 1000,
    responseTimeoutMs: config.upstreamTimeoutSeconds * 1000,
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
