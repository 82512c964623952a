/**
 * The HTTPS listener the API server calls: `POST /mutate` with an AdmissionReview, answered
 * with one. A request is a short list of checks, each ending it with a 4xx of its own
 * (path, method, media type, size, JSON, AdmissionReview shape) before the pure decision in
 * `review.ts`. TLS 1.2 or newer; the certificate is swapped for new connections by
 * `useCertificate` without touching open ones.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { boundAddress, listenOn } from '../config/listen';
import type { Logger } from '../ops/logger';
import { type LoadedCertificate, SERVING_TLS } from './certificate';
import { HandshakeFailureLog, handshakeFailureReason } from './handshake-failures';
import type { Refusal, WebhookMetrics } from './metrics';
import type { InjectDefaults } from './request';
import { admit, type AdmissionRequest, type Decision, parseReview, reviewResponse } from './review';

const MUTATE_PATH = '/mutate';

export interface WebhookServerOptions {
  readonly defaults: InjectDefaults;
  readonly certificate: LoadedCertificate;
  /** Larger request bodies are refused with 413 (the API server sends at most ~3 MiB objects). */
  readonly maxBodyBytes: number;
  readonly metrics: WebhookMetrics;
  readonly logger: Logger;
  /** Default `WEBHOOK_SERVER_TIMEOUTS`. */
  readonly timeouts?: WebhookServerTimeouts;
}

export interface WebhookServerTimeouts {
  /** An idle connection between reviews is closed after this long. */
  readonly keepAliveMs: number;
  /** A request's head must be in this long after it began. */
  readonly headersMs: number;
  /** A whole request must be in this long after it began. */
  readonly requestMs: number;
  /**
   * A connection silent this long is closed. Node starts neither of the two above for a
   * TLS connection that never sends a request; this is what ends one.
   */
  readonly idleMs: number;
}

/**
 * The API server keeps connections to webhooks alive and reuses them; closing an idle one
 * first risks a request sent on a closing socket, which fails the review. The idle timeout
 * is longer still, so it never cuts a connection the keep-alive timeout would keep.
 */
const WEBHOOK_SERVER_TIMEOUTS: WebhookServerTimeouts = {
  keepAliveMs: 120_000,
  headersMs: 10_000,
  requestMs: 30_000,
  idleMs: 130_000,
};

export interface WebhookServer {
  listen(address: { readonly host: string; readonly port: number }): Promise<void>;
  /** New connections get this pair from now on. */
  useCertificate(certificate: LoadedCertificate): void;
  /** Shutdown has begun: every answer from now on closes its connection. */
  endKeepAlive(): void;
  /** Stop accepting and close idle connections; resolves once in-flight reviews are answered. */
  close(): Promise<void>;
  /** Cut every connection now. */
  destroy(): void;
  address(): AddressInfo | null;
}

class Refused extends Error {
  constructor(
    readonly status: number,
    readonly reason: Refusal,
    message: string,
  ) {
    super(message);
  }
}

/** `text` up to the first `separator`, all of it without one. */
const before = (text: string, separator: string): string => {
  const at = text.indexOf(separator);
  return at < 0 ? text : text.slice(0, at);
};

function refuseUnlessMutate(req: IncomingMessage): void {
  // The API server sends `?timeout=10s`.
  if (before(req.url ?? '', '?') !== MUTATE_PATH)
    throw new Refused(404, 'not_found', `not found; reviews go to POST ${MUTATE_PATH}`);
  if (req.method !== 'POST') throw new Refused(405, 'method', `${MUTATE_PATH} takes POST`);
  const type = before(req.headers['content-type'] ?? '', ';')
    .trim()
    .toLowerCase();
  if (type !== 'application/json') throw new Refused(415, 'media_type', 'send application/json');
}

/**
 * The body, kept up to `max` bytes, handed to `done` (no promise: a review is answered in
 * the 'end' event itself). A larger one is read to its end and thrown away, then refused:
 * answering while the client still sends would reset the connection under it, and the
 * client would see a broken pipe instead of the 413 (the request timeout bounds it). A
 * request that fails while sending (reset, timeout) has no one to answer: its socket is
 * already gone.
 */
function readBody(req: IncomingMessage, max: number, done: (body: Buffer | Refused) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= max) chunks.push(chunk);
    else chunks.length = 0;
  });
  req.on('end', () => {
    if (size > max) done(new Refused(413, 'too_large', `request body over ${max} bytes`));
    else done(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new Refused(400, 'bad_json', 'the body is not JSON');
  }
}

function sendAnswer(res: ServerResponse, status: number, text: string, close: boolean): void {
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  };
  if (close) headers.connection = 'close';
  res.writeHead(status, headers);
  res.end(text);
}

function logDecision(
  logger: Logger,
  request: AdmissionRequest,
  decision: Decision,
  durationMs: number,
): void {
  // A denial is news to whoever deploys the pod, and so is a warning, which reaches the
  // controller that creates a workload's pods rather than anyone's kubectl; every other
  // answer is counted in admission_reviews_total{result}. A line per injected pod cost about
  // a quarter of the webhook's CPU per review (bench:inject --log-level), so it is there at
  // debug, and its fields are not even gathered below that.
  const level = decision.result === 'denied' || decision.warnings ? 'info' : 'debug';
  if (!logger.isLevelEnabled(level)) return;
  const object = request.object as { metadata?: { name?: string; generateName?: string } } | null;
  const fields = {
    event: 'admission',
    uid: request.uid,
    namespace: request.namespace ?? undefined,
    pod: object?.metadata?.name || object?.metadata?.generateName || request.name || undefined,
    operation: request.operation,
    kind: request.kind.kind,
    dryRun: request.dryRun ?? false,
    result: decision.result,
    message: decision.message,
    warnings: decision.warnings,
    durationMs,
  };
  logger[level](fields, `admission: ${decision.result}`);
}

const error = (message: string): string => JSON.stringify({ error: message });

export function createWebhookServer(options: WebhookServerOptions): WebhookServer {
  const { defaults, metrics, logger, maxBodyBytes } = options;
  /**
   * From the shutdown signal on, answers say `Connection: close`: the API server then opens
   * its next connection to a replica that stays, rather than sending a review into this one
   * when it closes, which fails that review (and, with failurePolicy Fail, the pod).
   */
  let closing = false;
  const send = (res: ServerResponse, status: number, text: string, close = false): void =>
    sendAnswer(res, status, text, close || closing);

  const review = (res: ServerResponse, body: Buffer, started: number): void => {
    const parsed = parseReview(parseJson(body));
    if ('problem' in parsed) throw new Refused(400, 'not_a_review', parsed.problem);
    const decision = admit(parsed, defaults);
    send(res, 200, reviewResponse(parsed.uid, decision));
    const seconds = (performance.now() - started) / 1e3;
    metrics.reviewed(decision.result, seconds);
    logDecision(logger, parsed, decision, Math.round(seconds * 1e6) / 1e3);
  };

  const refuse = (res: ServerResponse, err: Refused): void => {
    metrics.refusedRequest(err.reason);
    logger.warn(
      { event: 'admission_refused', status: err.status, reason: err.reason, error: err.message },
      'request refused',
    );
    if (err.status === 405) res.setHeader('allow', 'POST');
    // A body left unread (too large) is discarded by Node; the connection then closes.
    send(res, err.status, error(err.message), err.reason === 'too_large');
  };

  /** Runs one step of answering a request: a refusal becomes its 4xx, anything else a 500. */
  const step = (res: ServerResponse, run: () => void): void => {
    try {
      run();
    } catch (err) {
      if (err instanceof Refused) return refuse(res, err);
      logger.error({ event: 'admission_failed', err }, 'answering a review failed');
      if (!res.headersSent) send(res, 500, error('internal error'));
      else res.destroy();
    }
  };

  /**
   * Connections that have not sent a request yet, from the moment they connect (their TLS
   * handshake may still be under way), by the client's address and port, which name one
   * connection at a time. Node does not count them idle, so `closeIdleConnections` leaves
   * them, and closing would wait on them for the whole drain window though they have nothing
   * under way.
   */
  const unused = new Map<string, Socket>();
  const endpoint = (socket: Socket): string => `${socket.remoteAddress}|${socket.remotePort}`;

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const started = performance.now();
    unused.delete(endpoint(req.socket));
    step(res, () => {
      refuseUnlessMutate(req);
      readBody(req, maxBodyBytes, (body) =>
        step(res, () => {
          if (body instanceof Refused) throw body;
          review(res, body, started);
        }),
      );
    });
  };

  const server: Server = createServer(
    { ...SERVING_TLS, cert: options.certificate.cert, key: options.certificate.key },
    onRequest,
  );
  const timeouts = options.timeouts ?? WEBHOOK_SERVER_TIMEOUTS;
  server.keepAliveTimeout = timeouts.keepAliveMs;
  server.headersTimeout = timeouts.headersMs;
  server.requestTimeout = timeouts.requestMs;
  server.timeout = timeouts.idleMs;
  server.on('connection', (socket: Socket) => {
    const key = endpoint(socket);
    unused.set(key, socket);
    socket.once('close', () => {
      if (unused.get(key) === socket) unused.delete(key);
    });
  });
  // Counted always; said at warn once a minute per reason, the rest at debug as before.
  const handshakeLog = new HandshakeFailureLog();
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const reason = handshakeFailureReason(err.code);
    metrics.handshakeFailed(reason);
    const failures = handshakeLog.failed(reason);
    if (failures === undefined) {
      logger.debug({ event: 'tls_client_error', error: err.message }, 'TLS handshake failed');
      return;
    }
    logger.warn(
      {
        event: 'tls_handshake_failed',
        reason,
        failures,
        client: socket.remoteAddress,
        code: err.code,
        error: err.message,
      },
      'TLS handshakes failing',
    );
  });

  return {
    listen: (address) => listenOn(server, address, 'webhook listener'),
    useCertificate(certificate) {
      server.setSecureContext({ ...SERVING_TLS, cert: certificate.cert, key: certificate.key });
    },
    endKeepAlive() {
      closing = true;
    },
    close: () =>
      new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeIdleConnections();
        for (const socket of unused.values()) socket.destroy();
      }),
    destroy: () => server.closeAllConnections(),
    address: () => boundAddress(server),
  };
}
