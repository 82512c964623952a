/**
 * A recording upstream on raw TCP: it parses what the proxy sends with a strict HTTP/1.1
 * parser of its own (not Node's), the way a backend would read it, and records every
 * request, every connection and every byte sequence that is not a well-framed request.
 * A body that leaves the proxy unframed shows up here as a second, smuggled request (or
 * as malformed bytes), never silently.
 */
import * as net from 'node:net';

export interface UpstreamRequest {
  /** Which TCP connection carried it (0, 1, … in accept order). */
  readonly connection: number;
  /** Its position on that connection. */
  readonly position: number;
  /** Its position among every request this upstream received. */
  readonly sequence: number;
  readonly method: string;
  readonly target: string;
  readonly version: string;
  /** In arrival order, names as sent. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
  /** How the body was delimited. */
  readonly framing: 'none' | 'length' | 'chunked';
}

type WithHeaders = Pick<UpstreamRequest, 'headers'>;

/** Values of every header named `name` (any case), in order. */
export function headerValues(request: WithHeaders, name: string): string[] {
  const lower = name.toLowerCase();
  return request.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

export function header(request: WithHeaders, name: string): string | undefined {
  const values = headerValues(request, name);
  return values.length === 0 ? undefined : values.join(', ');
}

export interface Malformed {
  readonly connection: number;
  readonly problem: string;
  /** The unparseable bytes (latin1), truncated. */
  readonly bytes: string;
}

/**
 * What to send for a request: raw bytes (status line and all), `'hang'` to send nothing,
 * `'close'` to close the connection without an answer.
 */
export type Answer = string | Buffer | 'hang' | 'close';
export type Responder = (request: UpstreamRequest, socket: net.Socket) => Answer;

export interface RawUpstream {
  readonly port: number;
  readonly url: string;
  readonly requests: UpstreamRequest[];
  /** Each request as its head arrived, before any body: method, target and headers. */
  readonly heads: Omit<UpstreamRequest, 'body' | 'position' | 'sequence' | 'framing'>[];
  readonly malformed: Malformed[];
  /** Connections accepted so far. */
  connections(): number;
  /** Connections still open. */
  open(): number;
  /** Replaced by tests; the default answers 200 with the request's sequence number. */
  respond: Responder;
  /** Answer `Expect: 100-continue` with `100 Continue` as soon as the head arrives (default). */
  sendContinue: boolean;
  /** Resolves once `count` requests have been recorded. */
  received(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([^\s]+) (HTTP\/1\.[01])$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

export function ok(body: string, extra = ''): string {
  return `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
}

const defaultResponder: Responder = (request) => ok(`answer ${request.sequence}`);

class ParseError extends Error {}

interface Head {
  readonly method: string;
  readonly target: string;
  readonly version: string;
  readonly headers: [string, string][];
}

function parseHead(text: string): Head {
  const lines = text.split('\r\n');
  const line = REQUEST_LINE.exec(lines[0]);
  if (line === null) throw new ParseError(`bad request line ${JSON.stringify(lines[0])}`);
  const headers: [string, string][] = [];
  for (const raw of lines.slice(1)) {
    if (raw.includes('\n') || raw.includes('\r')) throw new ParseError('bare CR or LF');
    const colon = raw.indexOf(':');
    const name = colon > 0 ? raw.slice(0, colon) : '';
    if (!TOKEN.test(name)) throw new ParseError(`bad header line ${JSON.stringify(raw)}`);
    const value = raw.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!FIELD_VALUE.test(value)) throw new ParseError(`bad value in ${JSON.stringify(raw)}`);
    headers.push([name, value]);
  }
  return { method: line[1], target: line[2], version: line[3], headers };
}

type Framing =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' };

function framingOf(head: Head): Framing {
  const values = (name: string): string[] =>
    head.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
  const lengths = values('content-length');
  const codings = values('transfer-encoding');
  if (values('host').length !== 1) throw new ParseError('not exactly one Host');
  if (lengths.length > 0 && codings.length > 0) {
    throw new ParseError('both Content-Length and Transfer-Encoding');
  }
  if (codings.length > 0) {
    if (codings.length > 1 || codings[0].toLowerCase() !== 'chunked') {
      throw new ParseError(`Transfer-Encoding ${codings.join(', ')}`);
    }
    return { kind: 'chunked' };
  }
  if (lengths.length > 1) throw new ParseError('more than one Content-Length');
  if (lengths.length === 1) {
    if (!/^\d+$/.test(lengths[0])) throw new ParseError(`Content-Length ${lengths[0]}`);
    return { kind: 'length', length: Number(lengths[0]) };
  }
  return { kind: 'none' };
}

/** A chunked body at the start of `buf`: its data and length consumed, or undefined if short. */
function parseChunked(buf: Buffer): { body: Buffer; consumed: number } | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const sizeLine = buf.subarray(at, eol).toString('latin1');
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeLine)) throw new ParseError(`chunk size ${sizeLine}`);
    const size = parseInt(sizeLine, 16);
    at = eol + 2;
    if (size === 0) {
      // Trailer section: lines until an empty one.
      for (;;) {
        const end = buf.indexOf('\r\n', at);
        if (end < 0) return undefined;
        const empty = end === at;
        at = end + 2;
        if (empty) return { body: Buffer.concat(parts), consumed: at };
      }
    }
    if (buf.length < at + size + 2) return undefined;
    parts.push(buf.subarray(at, at + size));
    if (buf.subarray(at + size, at + size + 2).toString('latin1') !== '\r\n') {
      throw new ParseError('chunk not followed by CRLF');
    }
    at += size + 2;
  }
}

export async function startRawUpstream(
  respond: Responder = defaultResponder,
): Promise<RawUpstream> {
  const sockets = new Set<net.Socket>();
  const waiters: { count: number; resolve: () => void }[] = [];
  let accepted = 0;
  let sequence = 0;

  const server = net.createServer((socket) => {
    const connection = accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buf = Buffer.alloc(0);
    let position = 0;
    let pending: { head: Head; framing: Framing; bodyStart: number } | undefined;
    let broken = false;

    const record = (head: Head, framing: Framing, body: Buffer): void => {
      const request: UpstreamRequest = {
        connection,
        position: position++,
        sequence: sequence++,
        ...head,
        body,
        framing: framing.kind,
      };
      upstream.requests.push(request);
      for (const w of waiters.filter((x) => upstream.requests.length >= x.count)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      const answer = upstream.respond(request, socket);
      if (answer === 'close') socket.destroy();
      else if (answer !== 'hang' && socket.writable) socket.write(answer);
    };

    const parse = (): void => {
      while (!broken) {
        if (pending === undefined) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) {
            if (buf.length > 64 * 1024) throw new ParseError('head longer than 64 KiB');
            return;
          }
          const head = parseHead(buf.subarray(0, end).toString('latin1'));
          pending = { head, framing: framingOf(head), bodyStart: end + 4 };
          upstream.heads.push({ connection, ...head });
          const expect = head.headers.find(([n]) => n.toLowerCase() === 'expect');
          if (expect !== undefined && upstream.sendContinue) {
            socket.write('HTTP/1.1 100 Continue\r\n\r\n');
          }
        }
        const { head, framing, bodyStart } = pending;
        const rest = buf.subarray(bodyStart);
        let body: Buffer;
        let consumed: number;
        if (framing.kind === 'none') {
          body = Buffer.alloc(0);
          consumed = 0;
        } else if (framing.kind === 'length') {
          if (rest.length < framing.length) return;
          body = Buffer.from(rest.subarray(0, framing.length));
          consumed = framing.length;
        } else {
          const chunked = parseChunked(rest);
          if (chunked === undefined) return;
          ({ body, consumed } = chunked);
        }
        buf = buf.subarray(bodyStart + consumed);
        pending = undefined;
        record(head, framing, body);
      }
    };

    socket.on('data', (chunk: Buffer) => {
      if (broken) return;
      buf = Buffer.concat([buf, chunk]);
      try {
        parse();
      } catch (err) {
        if (!(err instanceof ParseError)) throw err;
        broken = true;
        upstream.malformed.push({
          connection,
          problem: err.message,
          bytes: buf.subarray(0, 300).toString('latin1'),
        });
        socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const upstream: RawUpstream = {
    port,
    url: `http://127.0.0.1:${port}`,
    requests: [],
    heads: [],
    malformed: [],
    connections: () => accepted,
    open: () => sockets.size,
    respond,
    sendContinue: true,
    received(count, timeoutMs = 5000) {
      if (upstream.requests.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const waiter = { count, resolve: () => (clearTimeout(timer), resolve()) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`upstream received ${upstream.requests.length} of ${count} requests`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  return upstream;
}
