import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

export const CHALLENGE = 'Basic realm="Vidispine"';

/** A request target split without normalising anything: what the client sent is kept. */
export interface Target {
  readonly raw: string;
  readonly path: string;
  /** Without the '?'; '' when absent. */
  readonly query: string;
}

export function splitTarget(raw: string): Target {
  const q = raw.indexOf('?');
  return q < 0
    ? { raw, path: raw, query: '' }
    : { raw, path: raw.slice(0, q), query: raw.slice(q + 1) };
}

export interface Segment {
  readonly name: string;
  /** Matrix parameters: `/item/VX-1;version=3` → { version: '3' }. */
  readonly matrix: Readonly<Record<string, string>>;
}

/** Path segments after the leading '/', a trailing '/' ignored, matrix parameters split off. */
export function segmentsOf(path: string): Segment[] {
  const parts = path.split('/').slice(1);
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  return parts.map((part) => {
    const [name, ...params] = part.split(';');
    const matrix: Record<string, string> = {};
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq < 0) matrix[p] = '';
      else matrix[p.slice(0, eq)] = p.slice(eq + 1);
    }
    return { name, matrix };
  });
}

export function sendBody(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: OutgoingHttpHeaders = {},
): void {
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, {
    ...headers,
    'content-type': contentType,
    'content-length': payload.length,
  });
  res.end(res.req.method === 'HEAD' ? undefined : payload);
}

export function sendText(
  res: ServerResponse,
  status: number,
  text: string,
  headers?: OutgoingHttpHeaders,
): void {
  sendBody(res, status, 'text/plain;charset=utf-8', text, headers);
}

export function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers?: OutgoingHttpHeaders,
): void {
  sendBody(res, status, 'application/json', JSON.stringify(value), headers);
}

/**
 * A 4xx/5xx with a one-line reason. 401 carries the Basic challenge as Vidispine does.
 * When the client still withholds its body (Expect: 100-continue without our 100), the
 * connection is closed: its next bytes might be that body rather than a new request.
 */
export function reject(res: ServerResponse, status: number, reason: string): void {
  const headers: OutgoingHttpHeaders = {};
  if (status === 401) headers['www-authenticate'] = CHALLENGE;
  if (expectsContinue(res)) headers.connection = 'close';
  sendText(res, status, `${reason}\n`, headers);
}

const continueSent = new WeakSet<ServerResponse>();

/** Lets a client waiting on `Expect: 100-continue` send its body. */
export function allowBody(res: ServerResponse): void {
  if (!expectsContinue(res)) return;
  continueSent.add(res);
  res.writeContinue();
}

function expectsContinue(res: ServerResponse): boolean {
  const expect = res.req.headers.expect;
  return expect !== undefined && /^100-continue$/i.test(expect) && !continueSent.has(res);
}
