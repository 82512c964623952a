/** Network fixtures: a closed port, exact bytes on a socket, a recording server, a relay that cuts. */
import { spawn } from 'node:child_process';
import dns from 'node:dns';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { until } from './wait';

/** A port whose connections are never taken: each SYN is dropped, as a firewall drops it. */
export interface SilentPort {
  readonly port: number;
  close(): void;
}

/**
 * A listener in a stopped child process whose accept queue (backlog 1) is full: the kernel
 * drops every further SYN, so a connection to `port` neither opens nor is refused, as behind
 * a firewall or a NetworkPolicy that drops it.
 */
export async function silentPort(): Promise<SilentPort> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      "require('node:net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, function () { process.stdout.write(this.address().port + '\\n'); })",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const fillers: net.Socket[] = [];
  const close = (): void => {
    for (const s of fillers) s.destroy();
    child.kill('SIGKILL');
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
      child.once('exit', () => reject(new Error('the listener exited')));
    });
    // Stopped, it accepts nothing; the kernel still completes handshakes into its queue.
    child.kill('SIGSTOP');
    await until(() => /^\d+ \(.*\) T/.test(readFileSync(`/proc/${child.pid}/stat`, 'utf8')));
    for (let i = 0; i < 2; i++) {
      await new Promise<void>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1', resolve);
        s.once('error', reject);
        fillers.push(s);
      });
    }
    return { port, close };
  } catch (err) {
    close();
    throw err;
  }
}

/** A port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface RawAnswer {
  /** Everything the server sent before it closed (or before `waitMs` passed). */
  readonly text: string;
  /** First status code in the answer, 0 when none. */
  readonly status: number;
  /** The server closed the connection. */
  readonly closed: boolean;
}

/** Writes exact bytes on a fresh TCP connection and collects the answer until close. */
export function rawExchange(
  port: number,
  bytes: string | Buffer,
  waitMs = 3000,
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    const finish = (): void => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ text, status: m ? Number(m[1]) : 0, closed });
    };
    const timer = setTimeout(finish, waitMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') closed = true;
      else reject(err);
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.write(bytes);
  });
}

/** A loopback server that records every connection and request it gets. */
/**
 * Writes exact bytes on a fresh TCP connection and tells how the server ended it: `'fin'`
 * for an orderly close, else the socket's error code (`ECONNRESET` for a reset). Rejects if
 * the server has not closed it after `waitMs`.
 */
export function connectionEnd(port: number, bytes: string, waitMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server did not close the connection'));
    }, waitMs);
    const settle = (how: string): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(how);
    };
    socket.on('error', (err: NodeJS.ErrnoException) => settle(err.code ?? err.message));
    socket.on('end', () => settle('fin'));
    socket.resume();
    socket.write(Buffer.from(bytes, 'latin1'));
  });
}

/** A test server listening on loopback: its URL and port, and a close that cuts its connections. */
export interface LoopbackServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Listens `server` on a free loopback port; `close` ends kept connections too, then waits. */
export async function onLoopback(server: http.Server): Promise<LoopbackServer> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Recorder {
  readonly port: number;
  readonly url: string;
  connections: number;
  requests: string[];
  close(): Promise<void>;
}

export async function startRecorder(): Promise<Recorder> {
  const server = http.createServer((req, res) => {
    recorder.requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    res.end('evil');
  });
  const recorder = { connections: 0, requests: [] as string[] };
  server.on('connection', () => (recorder.connections += 1));
  return Object.assign(recorder, await onLoopback(server));
}

/** What the relay does with Vidispine's answers (bytes it sends back on a connection). */
export type AnswerLimit =
  /** Passes them all. */
  | undefined
  /** Passes the first `bytes` of each connection's answers, then resets the connection. */
  | { readonly bytes: number; readonly then: 'reset' }
  /** Passes the first `bytes`, then holds the rest back until `resetAll`. */
  | { readonly bytes: number; readonly then: 'hold' };

/** A TCP relay in front of Vidispine that can cut every connection it carries. */
export interface Relay {
  readonly url: string;
  /** Connections currently relayed. */
  open(): number;
  /** Resets (RST) every relayed connection, both sides. */
  resetAll(): void;
  /** From now on, cut or hold what Vidispine answers on each connection (counted anew). */
  limitAnswers(limit: AnswerLimit): void;
  close(): Promise<void>;
}

export async function startRelay(targetPort: number): Promise<Relay> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let limit: AnswerLimit;
  const answeredSinceLimit = new WeakMap<net.Socket, number>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      const answered = answeredSinceLimit.get(upstream) ?? 0;
      const room = limit === undefined ? chunk.length : limit.bytes - answered;
      const passed = chunk.subarray(0, Math.max(0, room));
      answeredSinceLimit.set(upstream, answered + passed.length);
      if (passed.length > 0 && !client.write(passed)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
      if (limit === undefined || room > chunk.length) return;
      if (limit.then === 'hold') upstream.pause();
      else {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      }
    });
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const resetAll = (): void => {
    for (const [client, upstream] of [...pairs]) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
  };
  return {
    url: `http://127.0.0.1:${port}`,
    open: () => pairs.size,
    resetAll,
    limitAnswers(next) {
      limit = next;
      for (const [, upstream] of pairs) answeredSinceLimit.delete(upstream);
    },
    close: () =>
      new Promise<void>((resolve) => {
        resetAll();
        server.close(() => resolve());
      }),
  };
}

/**
 * Has `dns.lookup` take a fully qualified name with its trailing dot (`localhost.`) as the name
 * without it, as DNS would: no resolver here knows `localhost.`. Restore the spy it returns.
 */
export function lookupWithoutTrailingDot(): jest.SpyInstance {
  const lookup = dns.lookup.bind(dns) as (...args: unknown[]) => void;
  return jest
    .spyOn(dns, 'lookup')
    .mockImplementation(((host: string, ...rest: unknown[]) =>
      lookup(host.replace(/\.$/, ''), ...rest)) as unknown as typeof dns.lookup);
}
