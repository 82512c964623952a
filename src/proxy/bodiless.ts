/**
 * Answers that end at their head (RFC 9112 §6.3): any answer to HEAD, a 204, a 304,
 * whatever their fields say. Node keeps an HTTP/1.0 client's keep-alive connection only for
 * an answer with a `Content-Length` or one it may chunk, and says `close` to the rest — so
 * `ab -k` lost its connection after each such answer where nginx keeps it.
 */
import type * as http from 'node:http';

/** A status whose answer has no body, to any method. */
export function statusEndsAtHead(status: number): boolean {
  return status === 204 || status === 304;
}

/**
 * Called before `res` writes its head. Node consults `useChunkedEncodingByDefault` only to
 * keep the connection here: an answer without a body is never chunked, whatever it says.
 */
export function keepBodilessAlive(res: http.ServerResponse, status: number): void {
  if (res.req.method === 'HEAD' || statusEndsAtHead(status)) res.useChunkedEncodingByDefault = true;
}
