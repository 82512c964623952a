/** HTTP as the tests speak it: one request with its whole answer, Basic credentials, uploads. */
import * as http from 'node:http';
import { patternChunks } from '../../src/simulator/pattern';

export interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
}

/** The whole (small) answer, once it has ended. */
export function readReply(res: http.IncomingMessage): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', reject);
    res.on('end', () => {
      const body = Buffer.concat(chunks);
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString() });
    });
  });
}

export function basic(user: string, secret: string): string {
  return `Basic ${Buffer.from(`${user}:${secret}`).toString('base64')}`;
}

export function tokenAuth(value: string): string {
  return `token ${value}`;
}

export interface RequestOptions {
  readonly method?: string;
  readonly path: string;
  readonly headers?: http.OutgoingHttpHeaders;
  readonly body?: Buffer | string;
  /** Default: a fresh connection. */
  readonly agent?: http.Agent | false;
}

/**
 * One request to `to` — a port on 127.0.0.1, or a base URL the path is appended to — with
 * the whole (small) answer read.
 */
export function call(to: number | string, options: RequestOptions): Promise<Reply> {
  const where =
    typeof to === 'number' ? { host: '127.0.0.1', port: to, path: options.path } : undefined;
  const settings = {
    ...where,
    method: options.method ?? 'GET',
    headers: options.headers,
    agent: options.agent ?? false,
  };
  return new Promise((resolve, reject) => {
    const answer = (res: http.IncomingMessage): void => void readReply(res).then(resolve, reject);
    const req =
      typeof to === 'number'
        ? http.request(settings, answer)
        : http.request(`${to}${options.path}`, settings, answer);
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Every response header of a reply as text, one per line, for searching. */
export function headerText(reply: Reply): string {
  return Object.entries(reply.headers)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : (v ?? '')}`)
    .join('\n');
}

/** An upload whose body the test writes itself, piece by piece, and its answer. */
export interface OpenUpload {
  readonly req: http.ClientRequest;
  readonly reply: Promise<Reply>;
}

/** A `POST` of `size` bytes to `path` on a fresh connection, head sent, body left to the caller. */
export function openUpload(port: number, size: number, path = '/API/import/raw'): OpenUpload {
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: 'POST',
    path,
    headers: { 'content-length': size },
    agent: false,
  });
  const reply = new Promise<Reply>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => void readReply(res).then(resolve, reject));
  });
  return { req, reply };
}

/**
 * Uploads `size` bytes of the simulator's file pattern, generated as it goes with
 * backpressure (never held whole); with `expect: 100-continue` only after the `100`.
 */
export function uploadPattern(
  port: number,
  size: number,
  options: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders } = {},
): Promise<Reply> {
  const headers = { 'content-length': String(size), ...options.headers };
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port,
      method: options.method ?? 'POST',
      path: options.path ?? '/API/import/raw',
      agent: false,
      headers,
    });
    req.on('error', reject);
    req.on('response', (res) => void readReply(res).then(resolve, reject));
    const chunks = patternChunks(0, size);
    const pump = (): void => {
      for (let next = chunks.next(); !next.done; next = chunks.next()) {
        if (!req.write(next.value)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    if (headers.expect === undefined) pump();
    else req.once('continue', pump);
  });
}
