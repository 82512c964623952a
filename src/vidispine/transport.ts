import type { Socket } from 'node:net';
import type { VidispineConfig } from '../config/types';
import { errorCode } from '../error-message';
import { createAgent, IDLE_CONNECTION_MS, pathPrefix, requestFor, trustedCas } from './connection';

export interface HttpAnswer {
  readonly status: number;
  /** At most `MAX_BODY_BYTES`; a token or a username is far smaller. */
  readonly body: string;
  readonly truncated: boolean;
  /** The answer's `Content-Type`, `Retry-After` and (Shiro's) `Reason`, when present. */
  readonly contentType?: string;
  readonly retryAfter?: string;
  /** The answer's `Date`: a `Retry-After` date is on that clock, not this machine's. */
  readonly date?: string;
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

/** The request, as far as it went, when it failed: whether it may be sent once more. */
interface FailedAttempt {
  /** It went out on a connection kept from an earlier request. */
  readonly reusedSocket: boolean;
  /** Some byte came back on the connection after the request took it. */
  readonly answerBytes: boolean;
  /** Its timeout or its caller gave up on it. */
  readonly aborted: boolean;
  /** This was already the one attempt on a new connection. */
  readonly retried: boolean;
}

/**
 * Whether a failed GET is sent again, at once, on a connection opened for it: only when it
 * failed on a kept connection before a byte of its answer came back — that connection was
 * closed by Vidispine as the request went out (Node's "keep-alive socket reuse race"), so
 * Vidispine never answered it. Once: a new connection that fails is the answer. Never after
 * answer bytes (Vidispine had the request and said something of its own), never once aborted.
 * Sending a token GET twice at worst mints a second token nobody uses, which expires alone.
 */
function sendsAgain(attempt: FailedAttempt): boolean {
  return attempt.reusedSocket && !attempt.answerBytes && !attempt.aborted && !attempt.retried;
}

export interface TransportOptions {
  /**
   * A GET (`apiPath`, as given to `get`) failed on a kept connection before a byte of its
   * answer, with `err`, and is being sent again on a new one (see `sendsAgain`): told so
   * that it can be seen, since the GET itself succeeds or fails as one.
   */
  readonly resent?: (apiPath: string, err: unknown) => void;
}

export function createTransport(
  vidispine: Pick<VidispineConfig, 'url' | 'caFile' | 'ca'>,
  options: TransportOptions = {},
): VidispineTransport {
  const base = vidispine.url;
  const trust = trustedCas(vidispine);
  // No socket limit: a queue would count against the mint timeout (60 users minting at once
  // timed out behind 8 sockets). What is in flight is bounded anyway: per user one mint and
  // one token check, from the token store.
  // Idle connections close as the forwarded requests' do; Node's agent shortens the bound to
  // a `Keep-Alive: timeout=` Vidispine sends, less a second, but only when one is set. Kept
  // open, a connection met the next mint as Vidispine closed it, and that mint failed.
  const agent = createAgent(base, trust, { keepAlive: true, timeout: IDLE_CONNECTION_MS });
  // For the one retry after a kept connection failed: idle connections tend to die together
  // (Vidispine restarted, a NAT forgot them), so the retry must not take another kept one.
  const freshAgent = createAgent(base, trust, { keepAlive: false });
  const prefix = pathPrefix(base);
  const request = requestFor(base);
  const hostname = base.hostname.startsWith('[') ? base.hostname.slice(1, -1) : base.hostname;
  const port = base.port === '' ? undefined : Number(base.port);
  /** Closed: a request its close broke is not sent again on a connection opened after it. */
  let closed = false;

  const attempt = (
    apiPath: string,
    headers: Record<string, string>,
    signal: AbortSignal,
    retried: boolean,
  ): Promise<HttpAnswer> =>
    new Promise<HttpAnswer>((resolve, reject) => {
      /** The answer's status, once its head arrived: a later failure cuts the answer. */
      let answered: number | undefined;
      // The path goes out as built (no URL parsing): nothing may turn `%2E%2E` into `..`.
      const req = request(
        {
          hostname,
          port,
          path: prefix + apiPath,
          method: 'GET',
          headers,
          agent: retried ? freshAgent : agent,
          signal,
        },
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
              date: res.headers.date,
              reason: headerText(res.headers.reason),
              location: res.headers.location,
            });
          res.on('end', finish);
          res.on('error', (err) => reject(new CutAnswerError(res.statusCode ?? 0, err)));
        },
      );
      // A kept-alive socket is open already; a new one opens at its 'connect'.
      let connected = false;
      /** Bytes the socket had read before this request took it, and the socket. */
      let readBefore = 0;
      let socket: Socket | undefined;
      req.once('socket', (s) => {
        socket = s;
        readBefore = s.bytesRead;
        if (!s.connecting) connected = true;
        else s.once('connect', () => (connected = true));
      });
      req.on('error', (err) => {
        if (answered !== undefined) return reject(new CutAnswerError(answered, err));
        if (signal.aborted && !connected) return reject(new NotConnectedError(err));
        const failed: FailedAttempt = {
          reusedSocket: req.reusedSocket,
          answerBytes: socket !== undefined && socket.bytesRead > readBefore,
          aborted: signal.aborted,
          retried,
        };
        if (!closed && sendsAgain(failed)) {
          options.resent?.(apiPath, err);
          resolve(attempt(apiPath, headers, signal, true));
        } else reject(err);
      });
      req.end();
    });

  return {
    origin: base.origin,
    base: base.origin + prefix,
    close: () => {
      closed = true;
      agent.destroy();
      freshAgent.destroy();
    },
    get: (apiPath, headers, signal) => attempt(apiPath, headers, signal, false),
  };
}

function headerText(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
