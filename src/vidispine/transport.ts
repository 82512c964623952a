import type { VidispineConfig } from '../config/types';
import { createAgent, errorCode, pathPrefix, requestFor, trustedCas } from './connection';

export interface HttpAnswer {
  readonly status: number;
  /** At most `MAX_BODY_BYTES`; a token or a username is far smaller. */
  readonly body: string;
  readonly truncated: boolean;
  /** The answer's `Content-Type`, `Retry-After` and (Shiro's) `Reason`, when present. */
  readonly contentType?: string;
  readonly retryAfter?: string;
  readonly reason?: string;
  /** A redirect's target, as sent (the proxy follows none: it would carry the credentials on). */
  readonly location?: string;
}

/** Small GET requests to Vidispine's API (token minting, whoami) over one keep-alive agent. */
export interface VidispineTransport {
  /** Scheme, host and port, for messages (never credentials). */
  readonly origin: string;
  /** The origin and the base URL's path (`http://vidispine:8080/vs`), for messages. */
  readonly base: string;
  /** `apiPath` starts with `/API/`; it is appended to the base URL's path prefix. */
  get(apiPath: string, headers: Record<string, string>, signal: AbortSignal): Promise<HttpAnswer>;
  /** Closes idle keep-alive sockets. */
  close(): void;
}

const MAX_BODY_BYTES = 64 * 1024;

/** Vidispine sent a status line and headers, then the connection ended before the body did. */
export class CutAnswerError extends Error {
  readonly code: string | undefined;

  constructor(
    readonly status: number,
    cause: unknown,
  ) {
    super(`the answer (HTTP ${status}) was cut off`, { cause });
    this.code = errorCode(cause);
  }
}

/**
 * The request was aborted (its timeout, or its caller) before its connection to Vidispine
 * opened: nothing took the connection, as when a firewall or a NetworkPolicy drops it.
 */
export class NotConnectedError extends Error {
  constructor(cause: unknown) {
    super('aborted before the connection opened', { cause });
    this.name = 'NotConnectedError';
  }
}

/**
 * How long a connection of the token side may wait idle for its next request, as the
 * forwarded requests' pools keep theirs (`proxy/upstream.ts`); Node's agent shortens it to a
 * `Keep-Alive: timeout=` Vidispine sends, less a second, but only when one is set. Kept until
 * Vidispine (Jetty's idle timeout) or a balancer closed it, a connection met the next mint as
 * it closed, and that mint failed.
 */
const IDLE_CONNECTION_MS = 4000;

export function createTransport(
  vidispine: Pick<VidispineConfig, 'url' | 'caFile' | 'ca'>,
): VidispineTransport {
  const base = vidispine.url;
  // No socket limit: a queue would count against the mint timeout (60 users minting at once
  // timed out behind 8 sockets). What is in flight is bounded anyway: per user one mint and
  // one token check, from the token store.
  const agent = createAgent(base, trustedCas(vidispine), {
    keepAlive: true,
    timeout: IDLE_CONNECTION_MS,
  });
  const prefix = pathPrefix(base);
  const request = requestFor(base);
  const hostname = base.hostname.startsWith('[') ? base.hostname.slice(1, -1) : base.hostname;
  const port = base.port === '' ? undefined : Number(base.port);

  return {
    origin: base.origin,
    base: base.origin + prefix,
    close: () => agent.destroy(),
    get: (apiPath, headers, signal) =>
      new Promise<HttpAnswer>((resolve, reject) => {
        /** The answer's status, once its head arrived: a later failure cuts the answer. */
        let answered: number | undefined;
        // The path goes out as built (no URL parsing): nothing may turn `%2E%2E` into `..`.
        const req = request(
          { hostname, port, path: prefix + apiPath, method: 'GET', headers, agent, signal },
          (res) => {
            answered = res.statusCode ?? 0;
            const chunks: Buffer[] = [];
            let size = 0;
            let truncated = false;
            res.on('data', (chunk: Buffer) => {
              if (truncated) return;
              size += chunk.length;
              if (size > MAX_BODY_BYTES) {
                truncated = true;
                res.destroy();
                finish();
                return;
              }
              chunks.push(chunk);
            });
            const finish = () =>
              resolve({
                status: res.statusCode ?? 0,
                body: Buffer.concat(chunks).toString('utf8'),
                truncated,
                contentType: res.headers['content-type'],
                retryAfter: res.headers['retry-after'],
                reason: headerText(res.headers.reason),
                location: res.headers.location,
              });
            res.on('end', finish);
            res.on('error', (err) => reject(new CutAnswerError(res.statusCode ?? 0, err)));
          },
        );
        // A kept-alive socket is open already; a new one opens at its 'connect'.
        let connected = false;
        req.once('socket', (socket) => {
          if (!socket.connecting) connected = true;
          else socket.once('connect', () => (connected = true));
        });
        req.on('error', (err) =>
          reject(
            answered !== undefined
              ? new CutAnswerError(answered, err)
              : signal.aborted && !connected
                ? new NotConnectedError(err)
                : err,
          ),
        );
        req.end();
      }),
  };
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
