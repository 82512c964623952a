/**
 * WebSocket upgrades (`/APIWS/...`), carried by http-proxy-3: identity and token exactly
 * as for plain requests, then the library splices the two sockets.
 */
import { STATUS_CODES } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createProxyServer } from 'http-proxy-3';
import type { Logger } from 'pino';
import type { TokenLease, TokenStore } from '../tokens/types';
import { classifyUpstreamError, describeUpstreamError, statusForUpstreamError } from './errors';
import { ignoreError, noTokenAnswer } from './answers';
import type { IdentityRule } from './identity';
import { pickIdentity } from './identity';
import type { ForwardObserver } from './observer';
import { MAX_TARGET_LENGTH, originForm } from './target';
import type { Upstream } from './upstream';

export interface UpgradeOptions {
  readonly identity: IdentityRule;
  /** Lower-case names of the client credential headers to remove; hop-by-hop ones stay. */
  readonly credentialHeaders: readonly string[];
  readonly upstream: Upstream;
  readonly store: TokenStore;
  readonly observer: ForwardObserver;
  readonly logger: Logger;
}

/** A plain HTTP answer on a socket that asked for an upgrade. */
function refuse(
  socket: Duplex,
  status: number,
  message: string,
  extra: Readonly<Record<string, string>> = {},
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${message}\n`;
  const head = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...Object.entries(extra).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}

interface Sent {
  readonly user: string;
  readonly token: string;
  readonly sentAt: number;
}

export interface UpgradeHandler {
  readonly handle: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Close every upgraded connection (after draining plain requests). */
  destroyAll(): void;
}

export function createUpgradeHandler(options: UpgradeOptions): UpgradeHandler {
  const { identity: rule, credentialHeaders, upstream, store, observer, logger } = options;
  const sockets = new Set<Duplex>();
  const sent = new WeakMap<IncomingMessage, Sent>();
  const proxy = createProxyServer({
    target: upstream.url,
    agent: upstream.agent,
    changeOrigin: true,
    // Use the request target as it came (made origin-form below), never re-parsed.
    toProxy: true,
    secure: true,
  });

  proxy.on('proxyReqWs', (proxyReq, req) => {
    const record = sent.get(req);
    if (record === undefined) return;
    const observe = (status: number): void =>
      store.observe(record.user, record.token, record.sentAt, status);
    proxyReq.once('upgrade', (res) => observe(res.statusCode ?? 101));
    // Runs before the library copies the refusal to the client, so the challenge is gone.
    proxyReq.once('response', (res) => {
      const status = res.statusCode ?? 502;
      observe(status);
      delete res.headers['www-authenticate'];
      if (status === 401) {
        observer.upstreamUnauthorized(record.user, false);
        store.invalidate(record.user, record.token);
      }
    });
  });

  proxy.on('error', (err, req, socket) => {
    const reason = classifyUpstreamError(err);
    observer.upstreamError(reason);
    logger.warn({ user: sent.get(req)?.user, reason }, 'WebSocket upgrade to Vidispine failed');
    // For upgrades the library hands back the client socket, never a ServerResponse.
    if (socket instanceof Socket) {
      refuse(socket, statusForUpstreamError(reason), describeUpstreamError(reason));
    }
  });

  function forward(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    user: string,
    lease: TokenLease,
  ): void {
    for (const name of credentialHeaders) delete req.headers[name];
    sent.set(req, { user, token: lease.value, sentAt: Date.now() });
    proxy.ws(req, socket, head, { headers: { authorization: `token ${lease.value}` } });
  }

  const handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', ignoreError);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const target = req.url ?? '';
    if (target.length > MAX_TARGET_LENGTH) {
      refuse(socket, 414, `request target longer than ${MAX_TARGET_LENGTH} bytes`);
      return;
    }
    const identity = pickIdentity(rule, req.headers);
    if (!identity.ok) {
      logger.warn({ event: 'user_selection_refused' }, identity.reason);
      refuse(socket, 403, identity.reason);
      return;
    }
    const path = originForm(target);
    if (path === undefined || req.headers.upgrade?.toLowerCase() !== 'websocket') {
      refuse(socket, 400, 'only WebSocket upgrades of a path can be forwarded');
      return;
    }
    req.url = path;
    const user = identity.user;
    const lease = store.current(user);
    if (lease !== undefined) {
      forward(req, socket, head, user, lease);
      return;
    }
    store.get(user).then(
      (fresh) => {
        if (!socket.destroyed) forward(req, socket, head, user, fresh);
      },
      (err: unknown) => {
        const answer = noTokenAnswer(user, err);
        refuse(socket, 503, answer.message, { 'Retry-After': answer.retryAfter });
      },
    );
  };

  return {
    handle,
    destroyAll() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
  };
}
