/** The proxy's own short answers: plain text, one line, never a secret. */
import { STATUS_CODES, type ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { httpDate } from '../clock-text';
import { NoTokenError } from '../tokens/types';
import { retryAfterHeader } from './errors';
import { hasLength } from './headers';

const LINE_BREAKS = /[\r\n]+/g;

/** Client sockets and bodies may fail at any time; `close` events carry the consequence. */
export function ignoreError(): void {
  // intentionally empty
}

/**
 * The answer Node is writing on `socket` now, if any. Node keeps it in the socket's
 * undocumented `_httpMessage` (set by `ServerResponse.assignSocket`, cleared by
 * `detachSocket`), which its own `socketOnDrain` and `socketOnError` read, in Node 20 and 24
 * alike: no public API names it. Should a release drop it, this says none, which throws
 * nowhere, but a pipelined answer ahead of an upgrade waits for drains again, as the tests
 * of pipelined upgrades would show.
 */
export function attachedAnswer(socket: Duplex): ServerResponse | null {
  return (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage ?? null;
}

/**
 * Ends an answer whose body cannot be finished (Vidispine stopped short). A chunked or
 * length-delimited answer shows the cut by its framing; a close-delimited one (to an
 * HTTP/1.0 client, without `Content-Length`) ends where the connection does, so an orderly
 * close would make a short body look whole: its connection is reset instead.
 *
 * @param headers The answer's head as written, to tell whether it carried a length.
 */
export function cutAnswer(res: ServerResponse, headers: readonly string[]): void {
  // Node holds a response's head until its first body bytes, and those (corked) until the
  // next tick: a cut meanwhile would send nothing at all, an empty reply that a client
  // takes for a stale connection and may send again. What was written goes out first: from
  // behind the response's own cork, where Node.js 24 keeps the chunks of a chunked answer
  // (Node.js 20 corks only the socket), then from behind the socket's.
  res.flushHeaders();
  for (let corks = res.writableCorked; corks > 0; corks -= 1) res.uncork();
  res.socket?.uncork();
  const closeDelimited = !res.chunkedEncoding && !hasLength(headers);
  if (!closeDelimited || !resetConnection(res.socket)) res.destroy();
}

/**
 * Resets a client's live TCP connection (RST), and says whether there was one. Unlike an
 * orderly close, the client cannot take a cut for an end, and the bytes queued for it are
 * dropped at once rather than kept by the kernel, in an orphaned socket, for a reader that
 * may never read them.
 */
export function resetConnection(connection: Duplex | null): boolean {
  if (!(connection instanceof Socket) || connection.destroyed) return false;
  connection.resetAndDestroy();
  return true;
}

export function sendPlain(
  res: ServerResponse,
  status: number,
  message: string,
  extra?: Readonly<Record<string, string>>,
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = `${message.replace(LINE_BREAKS, ' ')}\n`;
  // The reason is always given: a status message left on `res` by a refused `writeHead`
  // (Vidispine's, say) would otherwise be reused and refused again.
  res.writeHead(status, STATUS_CODES[status] ?? '', {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    // Node's own would format it with `Date` (see clock-text).
    Date: httpDate(Date.now()),
    ...extra,
  });
  res.end(body);
}

/** The one-line answer to a request that gets no token, and why. */
export const noTokenMessage = (user: string, reason: string): string =>
  `no Vidispine token for user ${user}: ${reason}`;

/** Why a request still waiting for its token is refused when the drain window ends. */
export const SHUTTING_DOWN = 'the proxy is shutting down';

/** The shutdown's `Retry-After` to a request Vidispine never had: retry it soon, elsewhere. */
export const SHUTDOWN_RETRY_AFTER = '1';

/** The one-line reason and `Retry-After` for a request that cannot get a token. */
export function noTokenAnswer(user: string, err: unknown): { message: string; retryAfter: string } {
  const reason = err instanceof NoTokenError ? err.message : 'the token store is unavailable';
  const retryAfter = err instanceof NoTokenError ? err.retryAfterSeconds : 1;
  return {
    message: noTokenMessage(user, reason),
    retryAfter: retryAfterHeader(retryAfter),
  };
}
