import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AuthResult } from './auth';

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

/** `host[:port]` as RFC 3986 allows it: a name or address, or a bracketed IPv6 literal. */
const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::\d*)?$/;

/**
 * The origin a request addressed: `http://` and its `Host`, as JAX-RS builds absolute URIs
 * (a proxy in front sees its own configured Vidispine URL in a `Location`); `bound`, the
 * listening address, for a request without a usable `Host` (HTTP/1.0).
 */
export function requestOrigin(req: IncomingMessage, bound: string): string {
  const host = req.headers.host;
  return host !== undefined && HOST_RE.test(host) ? `http://${host}` : bound;
}

/** What a load balancer in front of VidiCore says when no backend is up. */
export const NO_SERVER = 'No server available';

/** With the backend down, every path under a Vidispine root (`/API…`) gets `NO_SERVER`. */
export function backendDown(ctx: { readonly backendAvailable: boolean }, path: string): boolean {
  return !ctx.backendAvailable && path.startsWith('/API');
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

/**
 * An answer with content, or without any where the status has none (204, 304: RFC 9110
 * §6.4.1, no Content-Length or Content-Type either).
 */
export function sendBody(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: OutgoingHttpHeaders = {},
): void {
  if (status === 204 || status === 304) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
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
 * (A client still withholding its body behind `Expect: 100-continue` gets the connection
 * closed after this answer: node does that whenever no 100 was sent.)
 */
export function reject(
  res: ServerResponse,
  status: number,
  reason: string,
  headers: OutgoingHttpHeaders = {},
): void {
  sendText(
    res,
    status,
    `${reason}\n`,
    status === 401 ? { ...headers, 'www-authenticate': CHALLENGE } : headers,
  );
}

/**
 * Whether a resource declared for `methods` serves the request's method: JAX-RS (Jersey,
 * VidiCore's framework) answers HEAD for every GET resource by running the GET and dropping
 * its body. If not, 405 with `Allow` has been sent.
 */
export function methodServed(res: ServerResponse, methods: readonly string[]): boolean {
  const served = methods.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m]));
  const method = res.req.method ?? '';
  if (served.includes(method)) return true;
  res.setHeader('allow', served.join(', '));
  reject(res, 405, `${method} is not allowed here`);
  return false;
}

/** Refused credentials: the status and one line, plus `Reason:` when the server sends it. */
export function refuseCredentials(
  res: ServerResponse,
  auth: Extract<AuthResult, { ok: false }>,
  withReason: boolean,
): void {
  reject(res, auth.status, auth.reason, withReason ? reasonHeader(auth.detail) : {});
}

/** A `Reason:` header value: one line of visible Latin-1, whatever a name contained. */
export function reasonHeader(detail: string): OutgoingHttpHeaders {
  return { reason: detail.replace(/[^\x20-\x7e\xa0-\xff]/g, '?').slice(0, 500) };
}

const continueSent = new WeakSet<ServerResponse>();

/**
 * Lets a client waiting on `Expect: 100-continue` send its body. Handlers call it once the
 * request has passed every check, as Jetty answers 100 only when the resource reads the body.
 */
export function allowBody(res: ServerResponse): void {
  const expect = res.req.headers.expect;
  if (expect === undefined || !/^100-continue$/i.test(expect) || continueSent.has(res)) return;
  continueSent.add(res);
  res.writeContinue();
}

/** Reads a small body whole; undefined when it is larger than `limit` bytes. */
export function readSmallBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.once('end', () => resolve(size <= limit ? Buffer.concat(chunks) : undefined));
    req.once('error', reject);
    // Settles nothing when the body already ended; otherwise the client went away mid-body.
    req.once('close', () => reject(new Error('request aborted')));
  });
}
