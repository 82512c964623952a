/**
 * WebSocket upgrades (`/APIWS/...`): admitted by the same passes as every other request,
 * sent upstream through `node:http` with the same header policy and our token, then the
 * two sockets are spliced. Vidispine's refusal (any answer but `101`) is passed on like a
 * plain response and its connection closed: it never returns to a pool.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import { STATUS_CODES, validateHeaderName, validateHeaderValue } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { TokenLease, TokenStore } from '../tokens/types';
import type { AdmissionRules } from './admission';
import { admit } from './admission';
import { ignoreError, noTokenAnswer } from './answers';
import {
  UpstreamProtocolError,
  UpstreamTimeoutError,
  classifyUpstreamError,
  describeUpstreamError,
  statusForUpstreamError,
} from './errors';
import { NO_BODY } from './framing';
import { attachToken, clientResponseHeaders, isValidReason } from './headers';
import type { LocationRewriter } from './location';
import type { ForwardObserver } from './observer';
import type { Pipelines } from './pipeline';
import { refusalReason, withoutToken } from './unauthorized';
import type { Upstream } from './upstream';
import { limitConnect } from './upstream';

export interface UpgradeOptions {
  readonly rules: AdmissionRules;
  /** An upgrade waits for what its connection asked before it to be answered. */
  readonly pipelines: Pipelines;
  readonly upstream: Upstream;
  readonly rewriteLocation: LocationRewriter;
  readonly store: TokenStore;
  readonly observer: ForwardObserver;
  readonly logger: Logger;
}

/** The head of an answer written by hand on a socket that asked for an upgrade. */
function head(status: number, reason: string, headers: readonly string[]): string {
  let text = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (let i = 0; i < headers.length; i += 2) {
    validateHeaderName(headers[i]);
    validateHeaderValue(headers[i], headers[i + 1]);
    text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  }
  return `${text}\r\n`;
}

/** The proxy's own plain answer on a socket that asked for an upgrade. */
function refuse(
  socket: Duplex,
  status: number,
  message: string,
  extra: readonly string[] = [],
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = `${message.replace(/[\r\n]+/g, ' ')}\n`;
  const headers = [
    'Content-Type',
    'text/plain; charset=utf-8',
    'Content-Length',
    String(Buffer.byteLength(body)),
    'Connection',
    'close',
    ...extra,
  ];
  socket.end(head(status, STATUS_CODES[status] ?? '', headers) + body);
}

export interface UpgradeHandler {
  readonly handle: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Close every upgraded connection (after draining plain requests). */
  destroyAll(): void;
}

export function createUpgradeHandler(options: UpgradeOptions): UpgradeHandler {
  const { rules, pipelines, upstream, rewriteLocation, store, observer, logger } = options;
  const sockets = new Set<Duplex>();

  function failed(user: string, client: Duplex, err: unknown): void {
    const reason = classifyUpstreamError(err);
    observer.upstreamError?.(reason);
    logger.warn({ user, reason }, 'WebSocket upgrade to Vidispine failed');
    refuse(client, statusForUpstreamError(reason), describeUpstreamError(reason));
  }

  /** Vidispine switched protocols: send its `101` on, then carry bytes both ways. */
  function splice(
    client: Duplex,
    req: IncomingMessage,
    res: IncomingMessage,
    server: Socket,
  ): void {
    const headers = clientResponseHeaders(res.rawHeaders, rewriteLocation, req.headers.host);
    headers.push('Connection', 'Upgrade', 'Upgrade', 'websocket');
    let text: string;
    try {
      text = head(101, res.statusMessage ?? '', headers);
    } catch {
      server.destroy();
      observer.upstreamError?.('protocol');
      refuse(client, 502, describeUpstreamError('protocol'));
      return;
    }
    server.on('error', ignoreError);
    const end = (): void => {
      client.destroy();
      server.destroy();
    };
    client.once('close', end);
    server.once('close', end);
    client.write(text);
    server.pipe(client);
    client.pipe(server);
  }

  /** Vidispine refused the upgrade: its answer goes to the client, then both connections close. */
  function passOn(client: Duplex, req: IncomingMessage, res: IncomingMessage, token: string): void {
    const status = res.statusCode ?? 502;
    const headers = clientResponseHeaders(res.rawHeaders, rewriteLocation, req.headers.host);
    // An error answer may quote the credential it refused: ours never reaches the client.
    if (status >= 400) withoutToken(headers, token);
    headers.push('Connection', 'close');
    let text: string;
    try {
      text = head(status, res.statusMessage ?? '', headers);
    } catch {
      res.destroy();
      observer.upstreamError?.('protocol');
      refuse(client, 502, describeUpstreamError('protocol'));
      return;
    }
    client.write(text);
    // Without Content-Length the body runs to the close of the connection.
    res.pipe(client);
    res.once('close', () => {
      if (!res.complete) client.destroy();
    });
  }

  function forward(
    req: IncomingMessage,
    client: Duplex,
    early: Buffer,
    user: string,
    path: string,
    headers: string[],
    lease: TokenLease,
  ): void {
    const outgoing = attachToken(headers, upstream.hostHeader, lease.value, NO_BODY, false);
    outgoing.push('Connection', 'Upgrade', 'Upgrade', 'websocket');
    let upstreamReq: ClientRequest;
    try {
      upstreamReq = upstream.request({
        agent: upstream.upgradeAgent,
        hostname: upstream.hostname,
        port: upstream.port,
        method: 'GET',
        path: upstream.pathPrefix + path,
        headers: outgoing,
        timeout: upstream.responseTimeoutMs,
      });
    } catch (err) {
      refuse(client, 400, `request cannot be forwarded: ${(err as Error).message}`);
      return;
    }
    const sentAt = Date.now();
    let answered = false;
    limitConnect(upstreamReq, upstream.connectTimeoutMs);
    upstreamReq.on('timeout', () => upstreamReq.destroy(new UpstreamTimeoutError('response')));
    upstreamReq.on('error', (err) => {
      if (answered) client.destroy();
      else failed(user, client, err);
    });
    client.once('close', () => upstreamReq.destroy());
    upstreamReq.on('upgrade', (res, server: Socket, serverEarly: Buffer) => {
      if (!isValidReason(res.statusMessage)) {
        server.destroy();
        failed(user, client, new UpstreamProtocolError('control byte in the reason phrase'));
        return;
      }
      answered = true;
      store.accepted(user, lease.value, sentAt);
      // A WebSocket may rightly stay quiet for hours.
      server.setTimeout(0);
      if (serverEarly.length > 0) server.unshift(serverEarly);
      if (early.length > 0) client.unshift(early);
      splice(client, req, res, server);
    });
    upstreamReq.on('response', (res) => {
      if (!isValidReason(res.statusMessage)) {
        upstreamReq.destroy(new UpstreamProtocolError('control byte in the reason phrase'));
        return;
      }
      answered = true;
      if (res.statusCode !== 401) store.accepted(user, lease.value, sentAt);
      else {
        // Not replayed; a dead token is dropped, so the client's reconnect finds a fresh one.
        observer.upstreamUnauthorized?.(user, false);
        const reason = refusalReason(res.rawHeaders, lease.value);
        void store.rejected(user, lease.value, sentAt, reason);
      }
      passOn(client, req, res, lease.value);
    });
    upstreamReq.end();
  }

  const handle = (req: IncomingMessage, client: Duplex, early: Buffer): void => {
    client.on('error', ignoreError);
    sockets.add(client);
    client.once('close', () => sockets.delete(client));
    // Node hands the socket over at once; answers still owed on it go first.
    pipelines.enter(client as Socket, { safe: false, start: () => upgrade(req, client, early) });
  };

  function upgrade(req: IncomingMessage, client: Duplex, early: Buffer): void {
    if (client.destroyed) return;
    const admission = admit(req, rules, true);
    if (!admission.ok) {
      if (admission.event !== undefined) logger.warn({ event: admission.event }, admission.reason);
      refuse(client, admission.status, admission.reason);
      return;
    }
    const { user, path, headers } = admission;
    const lease = store.current(user);
    if (lease !== undefined) {
      forward(req, client, early, user, path, headers, lease);
      return;
    }
    store.get(user).then(
      (fresh) => {
        if (!client.destroyed) forward(req, client, early, user, path, headers, fresh);
      },
      (err: unknown) => {
        const answer = noTokenAnswer(user, err);
        refuse(client, 503, answer.message, ['Retry-After', answer.retryAfter]);
      },
    );
  }

  return {
    handle,
    destroyAll() {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
  };
}
