/**
 * Answers that end at their head (RFC 9112 §6.3: any answer to HEAD, a 204, a 304) need no
 * length to keep their connection. Node keeps an HTTP/1.0 client's keep-alive connection
 * only for an answer with a `Content-Length` or one it may chunk, and says `close` to the
 * rest — so `ab -k` lost its connection after each such answer where nginx keeps it.
 */
import type * as http from 'node:http';

export function endsAtHead(method: string | undefined, status: number): boolean {
  return method === 'HEAD' || status === 204 || status === 304;
}

/**
 * Called before `res` writes its head. Node consults `useChunkedEncodingByDefault` only to
 * keep the connection here: an answer without a body is never chunked, whatever it says.
 */
export function keepBodilessAlive(res: http.ServerResponse, status: number): void {
  if (endsAtHead(res.req.method, status)) res.useChunkedEncodingByDefault = true;
}
