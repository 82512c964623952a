/**
 * No socket outlives its exchange: a few hundred clients and upstream answers that go wrong
 * (aborts at every stage, resets, silence, bad framing, refusals, scrapes cut short) against
 * the built proxy as a child process, after which the proxy holds no connection of a client
 * and only idle, bounded connections to Vidispine. Sockets are told apart by the kernel's own
 * table: each `socket:[inode]` among the child's fds is looked up in its /proc/<pid>/net/tcp,
 * whose local port says "client of the data or ops listener" and remote port "Vidispine".
 * Needs Linux /proc; reported as skipped elsewhere.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import * as net from 'node:net';
import { parseExposition, samples } from '../support/prom-parse';
import { aliceEnv, ChildProxy } from '../support/child-proxy';
import { rawExchange } from '../support/net';

const onLinux = existsSync('/proc/self/net/tcp');
const describeOnLinux = onLinux ? describe : describe.skip;
if (!onLinux) console.warn('no-leak test skipped: no /proc/<pid>/net/tcp to read sockets from');

const MAX_SOCKETS = 8;
const H = 'Host: x\r\n';
const KiB = 1024;
const BIG_ANSWER = 4096 * KiB;

/** A Vidispine on raw TCP that misbehaves by path, and knows which connections are mid-exchange. */
interface Upstream {
  readonly port: number;
  /**
   * Open connections with a request unanswered, an answer unsent or a WebSocket spliced: the
   * path, and the proxy's port. One that never reads again sees no close of the proxy's, so
   * only those the proxy still holds (`Sockets.upstreamPorts`) count as stuck.
   */
  busy(): { path: string; port: number }[];
  /** Request heads received, by first path segment after /API/ or /APIWS/. */
  readonly reached: Map<string, number>;
  close(): void;
}

function websocketAccept(head: string): string {
  const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1] ?? '';
  return createHash('sha1')
    .update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11')
    .digest('base64');
}

/** Writes `size` bytes, minding backpressure; calls `done` once all are flushed. */
function writeBig(socket: net.Socket, size: number, done: () => void): void {
  const chunk = Buffer.alloc(64 * KiB, 120);
  let left = size;
  const pump = (): void => {
    while (left > 0 && !socket.destroyed) {
      left -= chunk.length;
      const last = left <= 0;
      const more = socket.write(chunk, last ? done : undefined);
      if (!more && !last) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  pump();
}

async function startUpstream(): Promise<Upstream> {
  const busy = new Map<net.Socket, { path: string; port: number }>();
  const sockets = new Set<net.Socket>();
  const reached = new Map<string, number>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => (sockets.delete(socket), busy.delete(socket)));
    socket.on('error', () => socket.destroy());
    let buf = Buffer.alloc(0);
    // The request at the head of `buf` was counted (and sent its 100 Continue) already.
    let headSeen = false;
    const idle = (): void => void busy.delete(socket);
    const answer = (path: string, head: string): void => {
      const ok = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
      if (path.startsWith('/API/token')) {
        socket.write(
          'HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n' + randomBytes(6).toString('hex'),
          idle,
        );
      } else if (path.startsWith('/API/reset')) {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n' + 'x'.repeat(1000), () =>
          socket.resetAndDestroy(),
        );
      } else if (path.startsWith('/API/close')) socket.destroy();
      else if (path.startsWith('/API/refuse')) {
        socket.write('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n', idle);
      } else if (path.startsWith('/API/badframing')) {
        // Left busy: a connection whose framing is lost must be closed, never pooled.
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello');
      } else if (path.startsWith('/API/slow')) setTimeout(() => socket.write(ok, idle), 20);
      else if (path.startsWith('/API/big')) {
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${BIG_ANSWER}\r\n\r\n`);
        writeBig(socket, BIG_ANSWER, idle);
      } else if (path.startsWith('/APIWS/')) {
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
            `Sec-WebSocket-Accept: ${websocketAccept(head)}\r\n\r\n`,
        );
        socket.off('data', onData);
        socket.on('data', (d: Buffer) => socket.write(d));
      } else if (!path.startsWith('/API/never')) socket.write(ok, idle);
    };
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const path = head.split(' ')[1] ?? '';
        if (!headSeen) {
          headSeen = true;
          busy.set(socket, { path, port: socket.remotePort ?? 0 });
          const segment = /^\/API(?:WS)?\/([a-z]+)/.exec(path)?.[1] ?? path;
          reached.set(segment, (reached.get(segment) ?? 0) + 1);
          if (path.startsWith('/API/noread')) {
            socket.pause();
            return;
          }
          if (/expect: *100-continue/i.test(head)) socket.write('HTTP/1.1 100 Continue\r\n\r\n');
        }
        const length = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        buf = buf.subarray(end + 4 + length);
        headSeen = false;
        answer(path, head);
        if (socket.destroyed || path.startsWith('/APIWS/')) return;
      }
    };
    socket.on('data', onData);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    busy: () => [...busy.values()],
    reached,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** The child's TCP sockets (by fd), told apart by port: clients of a listener or Vidispine. */
interface Sockets {
  readonly fds: number;
  readonly clients: number;
  readonly opsClients: number;
  readonly upstream: number;
  /** The proxy's local ports of its connections to Vidispine. */
  readonly upstreamPorts: ReadonlySet<number>;
}

function tcpTable(pid: number): Map<string, { local: number; remote: number }> {
  const table = new Map<string, { local: number; remote: number }>();
  for (const file of ['tcp', 'tcp6']) {
    const text = readFileSync(`/proc/${pid}/net/${file}`, 'utf8');
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const port = (address: string): number => parseInt(address.split(':').pop() ?? '', 16);
      table.set(f[9], { local: port(f[1]), remote: port(f[2]) });
    }
  }
  return table;
}

function socketsOf(pid: number, ports: { data: number; ops: number; upstream: number }): Sockets {
  const table = tcpTable(pid);
  let fds = 0;
  let clients = 0;
  let opsClients = 0;
  const upstreamPorts = new Set<number>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed while listed
    }
    fds += 1;
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    const tcp = inode === undefined ? undefined : table.get(inode);
    if (tcp === undefined) continue;
    if (tcp.remote === 0) continue; // a listener
    if (tcp.local === ports.data) clients += 1;
    else if (tcp.local === ports.ops) opsClients += 1;
    else if (tcp.remote === ports.upstream) upstreamPorts.add(tcp.local);
  }
  return { fds, clients, opsClients, upstream: upstreamPorts.size, upstreamPorts };
}

/** Every client connection, to cut those still open when the events overrun. */
const clients = new Set<net.Socket>();

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    clients.add(s);
    s.on('error', () => undefined);
    s.once('connect', () => resolve(s));
    s.once('close', () => (clients.delete(s), reject(new Error('closed before connecting'))));
  });
}

const closed = (s: net.Socket): Promise<void> =>
  new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve())));

/** Resolves once `bytes` have arrived (or the connection closed), having read them. */
function received(s: net.Socket, bytes: number, text?: string): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const on = (d: Buffer): void => {
      got += d.toString('latin1');
      if (got.length >= bytes && (text === undefined || got.includes(text))) {
        s.off('data', on);
        resolve(got);
      }
    };
    s.on('data', on);
    s.once('close', () => resolve(got));
  });
}

/** Sends `bytes`, then destroys the connection once `when` resolves. */
async function abort(
  port: number,
  bytes: string | Buffer,
  when: (s: net.Socket) => Promise<unknown>,
): Promise<void> {
  const s = await connect(port);
  s.write(bytes);
  await when(s);
  s.destroy();
  await closed(s);
}

const written = (s: net.Socket): Promise<void> => new Promise((r) => s.write('', () => r()));
const upgrade = (): string =>
  `GET /APIWS/echo HTTP/1.1\r\n${H}Connection: Upgrade\r\nUpgrade: websocket\r\n` +
  `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n\r\n`;
const put = (path: string, length: number, sent: number, extra = ''): string =>
  `PUT ${path} HTTP/1.1\r\n${H}${extra}Content-Length: ${length}\r\n\r\n` + 'b'.repeat(sent);

type Scenario = (ports: { data: number; ops: number }) => Promise<void>;

/** Each with how many times it runs: about 300 events in all. */
const SCENARIOS: [string, number, Scenario][] = [
  // The client goes away.
  [
    'head incomplete',
    20,
    ({ data }) => abort(data, `GET /API/item HTTP/1.1\r\n${H}X-A: b\r\n`, written),
  ],
  ['body held for replay', 20, ({ data }) => abort(data, put('/API/item', 1000, 100), written)],
  ['mid-upload', 15, ({ data }) => abort(data, put('/API/import', 10_000_000, 300 * KiB), written)],
  [
    'waiting for 100-continue',
    20,
    ({ data }) =>
      abort(data, put('/API/import', 10_000_000, 0, 'Expect: 100-continue\r\n'), written),
  ],
  [
    'mid-answer',
    25,
    ({ data }) => abort(data, `GET /API/big HTTP/1.1\r\n${H}\r\n`, (s) => received(s, 64 * KiB)),
  ],
  [
    'pipelined requests waiting',
    15,
    ({ data }) =>
      abort(data, `GET /API/slow HTTP/1.1\r\n${H}\r\n`.repeat(12), (s) => received(s, 1)),
  ],
  ['WebSocket mid-handshake', 15, ({ data }) => abort(data, upgrade(), written)],
  [
    'WebSocket spliced',
    15,
    ({ data }) =>
      abort(data, upgrade(), async (s) => {
        await received(s, 1, '\r\n\r\n');
        s.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]));
        await received(s, 1);
      }),
  ],
  // Vidispine misbehaves; the client reads until the proxy's answer, then leaves.
  [
    'reset mid-answer',
    20,
    ({ data }) => abort(data, `GET /API/reset HTTP/1.1\r\n${H}\r\n`, (s) => received(s, 1000)),
  ],
  [
    'closed before answering',
    20,
    ({ data }) => abort(data, put('/API/close', 100, 100), (s) => received(s, 1)),
  ],
  [
    '401 to everything',
    20,
    ({ data }) => abort(data, put('/API/refuse', 100, 100), (s) => received(s, 1)),
  ],
  [
    'never answering (504)',
    15,
    ({ data }) => abort(data, `GET /API/never HTTP/1.1\r\n${H}\r\n`, (s) => received(s, 1)),
  ],
  [
    'bad framing (502)',
    20,
    ({ data }) => abort(data, `GET /API/badframing HTTP/1.1\r\n${H}\r\n`, (s) => received(s, 1)),
  ],
  [
    'upload never read',
    10,
    ({ data }) => abort(data, put('/API/noread', 2_000_000, 2_000_000), (s) => received(s, 1)),
  ],
  // Scrapes cut short.
  ['/metrics cut', 15, ({ ops }) => abort(ops, `GET /metrics HTTP/1.1\r\n${H}\r\n`, written)],
  [
    '/status cut mid-answer',
    15,
    ({ ops }) => abort(ops, `GET /status HTTP/1.1\r\n${H}\r\n`, (s) => received(s, 1)),
  ],
];

/**
 * Runs every event, the scenarios interleaved, `concurrency` at a time. Resolves to the
 * scenarios of the events unfinished after `withinMs`, their connections cut: a proxy that
 * leaks connections to Vidispine runs out of them and leaves later clients waiting.
 */
async function runAll(
  ports: { data: number; ops: number },
  concurrency: number,
  withinMs: number,
): Promise<string[]> {
  const jobs: [string, Scenario][] = [];
  const most = Math.max(...SCENARIOS.map(([, n]) => n));
  for (let i = 0; i < most; i++) {
    for (const [name, n, run] of SCENARIOS) if (i < n) jobs.push([name, run]);
  }
  const running = new Map<number, string>();
  let next = 0;
  let stopped = false;
  const worker = async (): Promise<void> => {
    while (!stopped && next < jobs.length) {
      const i = next++;
      running.set(i, jobs[i][0]);
      await jobs[i][1](ports).catch((err: unknown) => {
        if (!stopped) throw err;
      });
      running.delete(i);
    }
  };
  const all = Promise.all(Array.from({ length: concurrency }, worker));
  let timer: NodeJS.Timeout | undefined;
  const overran = new Promise<'overran'>((resolve) => {
    timer = setTimeout(() => resolve('overran'), withinMs);
  });
  const outcome = await Promise.race([all, overran]);
  clearTimeout(timer);
  if (outcome !== 'overran') return [];
  stopped = true;
  const unfinished = [...running.values()];
  for (const s of clients) s.destroy();
  await all;
  return unfinished;
}

async function inFlight(ops: number): Promise<number> {
  const answer = await rawExchange(ops, `GET /metrics HTTP/1.1\r\n${H}Connection: close\r\n\r\n`);
  const body = answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4);
  const found = samples(parseExposition(body), 'vidispine_auth_proxy_requests_in_flight');
  if (found.length === 0) throw new Error(`no requests_in_flight in /metrics:\n${answer.text}`);
  return found.reduce((sum, s) => sum + s.value, 0);
}

describeOnLinux('a few hundred aborted and failed exchanges', () => {
  it('leave the proxy no client socket, only idle bounded ones to Vidispine, and no warning', async () => {
    const upstream = await startUpstream();
    const proxy = ChildProxy.start(
      ['run'],
      aliceEnv(`http://127.0.0.1:${upstream.port}`, {
        SHUTDOWN_DELAY_SECONDS: '0',
        VIDISPINE_MAX_SOCKETS: String(MAX_SOCKETS),
        VIDISPINE_UPSTREAM_TIMEOUT_SECONDS: '1',
        PROXY_EXPECT_CONTINUE_TIMEOUT_MS: '200',
        PROXY_CLIENT_BODY_TIMEOUT_SECONDS: '1',
      }),
    );
    try {
      const listening = await proxy.waitForEvent('listening');
      const ports = {
        data: (listening.listeners as { port: number }[])[0].port,
        ops: (listening.ops as { port: number }).port,
        upstream: upstream.port,
      };
      await proxy.waitForEvent('token_minted');
      const pid = proxy.child.pid as number;
      const before = socketsOf(pid, ports);

      const unfinished = await runAll(ports, 24, 10_000);

      // Quiet: nothing in flight, no client socket left, no connection to Vidispine held
      // mid-exchange, and the fd count the same on two polls in a row. The proxy gives up on
      // Vidispine after 1 s here; a leak is for good, so the deadline ends the wait on one.
      const deadline = Date.now() + 8_000;
      let now = socketsOf(pid, ports);
      let stuck: string[] = [];
      let last = -1;
      for (;;) {
        const flying = await inFlight(ports.ops);
        now = socketsOf(pid, ports);
        stuck = upstream
          .busy()
          .filter((b) => now.upstreamPorts.has(b.port))
          .map((b) => b.path);
        const quiet =
          flying === 0 &&
          now.clients === before.clients &&
          now.opsClients === before.opsClients &&
          stuck.length === 0 &&
          now.fds === last;
        if (quiet || Date.now() > deadline) break;
        last = now.fds;
        await new Promise((resolve) => setImmediate(resolve));
      }

      const { upstreamPorts: _ports, ...after } = now;
      expect({ unfinished, after, stuck }).toMatchObject({
        unfinished: [],
        after: { clients: before.clients, opsClients: before.opsClients },
        stuck: [],
      });
      // Two pools of MAX_SOCKETS (requests with a body, and without) and the token client's.
      expect(now.upstream).toBeLessThanOrEqual(2 * MAX_SOCKETS + 2);
      // Whatever is not a connection to Vidispine (files, pipes, listeners) is as it was.
      expect(now.fds - now.upstream).toBe(before.fds - before.upstream);
      // Every misbehaving path was reached: the events exercised what they name.
      for (const segment of [
        'big',
        'import',
        'reset',
        'close',
        'refuse',
        'never',
        'badframing',
        'noread',
        'echo',
        'slow',
      ]) {
        expect(upstream.reached.get(segment)).toBeGreaterThan(0);
      }

      proxy.kill('SIGTERM');
      expect((await proxy.exited).code).toBe(0);
      expect(proxy.stderr).toBe('');
    } finally {
      proxy.kill();
      upstream.close();
    }
  }, 30_000);
});
