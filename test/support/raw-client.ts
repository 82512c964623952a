/**
 * A client on raw TCP that writes exact bytes and parses the answers strictly, one per
 * request it sent (pipelined or not), so a test sees exactly what came back and in which
 * order — including answers that arrive on a connection the client expected to be done.
 */
import * as net from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly reason: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
  /** `headers` value of `name` (any case), joined. */
  header(name: string): string | undefined;
}

export interface RawResult {
  /** Final (non-1xx) answers, in order. */
  readonly responses: RawResponse[];
  /** Informational answers (100, 103, …) seen before them. */
  readonly informational: number[];
  /** The proxy closed the connection. */
  readonly closed: boolean;
  /** Bytes after the last whole answer (latin1): must be empty for a well-framed stream. */
  readonly trailing: string;
}

export interface RawOptions {
  /** Stop once this many final answers arrived (default 1)… */
  readonly responses?: number;
  /** …or only once the proxy closed the connection. */
  readonly untilClosed?: boolean;
  /** Give up (and report what arrived) after this long. */
  readonly timeoutMs?: number;
  /**
   * The requests were HEAD: their answers carry no body. A list says it per final answer,
   * in order, for pipelined requests of several methods.
   */
  readonly head?: boolean | readonly boolean[];
  /** Half-close after writing: the client will send nothing more. */
  readonly end?: boolean;
  /**
   * Written first, alone, on the same connection: the rest is written once its one answer
   * arrived (a connection that has already served a request). That answer is the first of
   * `responses`, and counts towards the number awaited.
   */
  readonly first?: string;
}

function makeResponse(status: number, reason: string, headers: [string, string][], body: Buffer) {
  return {
    status,
    reason,
    headers,
    body,
    header(name: string): string | undefined {
      const lower = name.toLowerCase();
      const values = headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
      return values.length === 0 ? undefined : values.join(', ');
    },
  };
}

type Parsed = { response: RawResponse; consumed: number } | 'incomplete';

function parseOne(buf: Buffer, closed: boolean, head: boolean): Parsed {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return 'incomplete';
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]);
  if (m === null) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
  const status = Number(m[1]);
  const headers = lines.slice(1).map((line): [string, string] => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon), line.slice(colon + 1).trim()];
  });
  const value = (name: string): string | undefined =>
    headers.find(([n]) => n.toLowerCase() === name)?.[1];
  const start = end + 4;
  const rest = buf.subarray(start);
  if (head || status < 200 || status === 204 || status === 304) {
    return { response: makeResponse(status, m[2], headers, Buffer.alloc(0)), consumed: start };
  }
  if (value('transfer-encoding')?.toLowerCase() === 'chunked') {
    const parts: Buffer[] = [];
    let at = 0;
    for (;;) {
      const eol = rest.indexOf('\r\n', at);
      if (eol < 0) return 'incomplete';
      const size = parseInt(rest.subarray(at, eol).toString('latin1'), 16);
      at = eol + 2;
      if (size === 0) {
        const tail = rest.indexOf('\r\n', at);
        if (tail < 0) return 'incomplete';
        const body = Buffer.concat(parts);
        return { response: makeResponse(status, m[2], headers, body), consumed: start + tail + 2 };
      }
      if (rest.length < at + size + 2) return 'incomplete';
      parts.push(rest.subarray(at, at + size));
      at += size + 2;
    }
  }
  const length = value('content-length');
  if (length !== undefined) {
    const n = Number(length);
    if (rest.length < n) return 'incomplete';
    const body = Buffer.from(rest.subarray(0, n));
    return { response: makeResponse(status, m[2], headers, body), consumed: start + n };
  }
  // Delimited by the close of the connection.
  if (!closed) return 'incomplete';
  return { response: makeResponse(status, m[2], headers, Buffer.from(rest)), consumed: buf.length };
}

/** Writes `bytes` on a fresh connection and collects the answers. */
export function rawRequest(
  port: number,
  bytes: string | Buffer,
  options: RawOptions = {},
): Promise<RawResult> {
  const wanted = options.untilClosed === true ? Infinity : (options.responses ?? 1);
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let closed = false;
    let settled = false;
    /** What is written once the answer to `options.first` arrived. */
    let pending: string | Buffer | undefined;
    const responses: RawResponse[] = [];
    const informational: number[] = [];
    const timers: NodeJS.Timeout[] = [];

    const drain = (): void => {
      for (;;) {
        const { head } = options;
        const parsed = parseOne(
          buf,
          closed,
          Array.isArray(head) ? head[responses.length] === true : head === true,
        );
        if (parsed === 'incomplete') return;
        buf = buf.subarray(parsed.consumed);
        if (parsed.response.status < 200 && parsed.response.status !== 101) {
          informational.push(parsed.response.status);
        } else responses.push(parsed.response);
      }
    };
    const finish = (): void => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      socket.destroy();
      resolve({ responses, informational, closed, trailing: buf.toString('latin1') });
    };
    const step = (): void => {
      try {
        drain();
      } catch (err) {
        settled = true;
        socket.destroy();
        reject(err as Error);
        return;
      }
      if (responses.length >= wanted || closed) finish();
      else if (pending !== undefined && responses.length > 0) {
        const rest = pending;
        pending = undefined;
        send(rest);
      }
    };
    timers.push(setTimeout(finish, options.timeoutMs ?? 5000));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      step();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      step();
      finish();
    });
    const send = (what: string | Buffer): void => {
      // A string is one character per byte, as HTTP/1.1 heads are.
      const data = typeof what === 'string' ? Buffer.from(what, 'latin1') : what;
      if (options.end === true) socket.end(data);
      else socket.write(data);
    };
    if (options.first === undefined) send(bytes);
    else {
      pending = bytes;
      socket.write(Buffer.from(options.first, 'latin1'));
    }
  });
}
