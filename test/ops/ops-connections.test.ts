/**
 * The ops listener's hold on its connections (`boundConnections`): which connection a
 * newcomer past the cap replaces, and that what it keeps of a connection goes with it,
 * however the connection ends.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { once } from 'node:events';
import {
  boundConnections,
  CLOSE_GRACE_MS,
  createProbeServer,
  OPS_MAX_CONNECTIONS,
  type OpsServer,
} from '../../src/ops/server';
import { captureLogs } from '../support/ops';
import { rawExchange } from '../support/net';
import { collectGarbage } from '../support/reliability-clients';
import { until } from '../support/wait';

let server: OpsServer | undefined;
let restore: (() => void) | undefined;

afterEach(async () => {
  restore?.();
  restore = undefined;
  await server?.close();
  server = undefined;
});

const REQUEST = 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n';

/** Starts the ops listener, as `server`, its `/metrics` rendered by `render`. */
async function startOps(
  render: () => Promise<string>,
  logger = captureLogs().logger,
): Promise<{ ops: OpsServer; port: number }> {
  const ops = createProbeServer({
    probes: { ready: () => ({ ok: true }) },
    metrics: { contentType: 'text/plain', render },
    logger,
  });
  server = ops;
  await ops.listen({ host: '127.0.0.1', port: 0 });
  return { ops, port: ops.address()?.port ?? 0 };
}

/**
 * Calls `accepted` with the server side of every connection the ops listener takes. Patched
 * by hand: a jest spy would keep every socket in its record of calls.
 */
function watchConnections(
  accepted: (socket: net.Socket) => void,
  requested: () => void = () => undefined,
): void {
  const emit = http.Server.prototype.emit;
  restore = () => {
    http.Server.prototype.emit = emit;
  };
  http.Server.prototype.emit = function (
    this: http.Server,
    event: string | symbol,
    ...args: unknown[]
  ) {
    if (event === 'connection') accepted(args[0] as net.Socket);
    if (event === 'request') requested();
    return Reflect.apply(emit, this, [event, ...args]) as boolean;
  };
}

it('keeps nothing of a connection gone with pipelined requests still queued', async () => {
  // The server side of each connection, held weakly: it must be collectable once closed.
  const accepted: WeakRef<net.Socket>[] = [];
  const closed: Promise<unknown>[] = [];
  watchConnections((socket) => {
    accepted.push(new WeakRef(socket));
    closed.push(once(socket, 'close'));
  });
  const renders: (() => void)[] = [];
  const { port } = await startOps(
    () => new Promise<string>((resolve) => renders.push(() => resolve('up 1\n'))),
  );

  const CONNECTIONS = 20;
  for (let i = 0; i < CONNECTIONS; i++) {
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    await once(client, 'connect');
    // Three requests at once: the first is being answered, two wait behind it.
    client.write(REQUEST.repeat(3));
    while (renders.length <= i) await new Promise((resolve) => setImmediate(resolve));
    client.destroy();
    // Renders run one at a time (scrapes share them): the next connection's starts only
    // once this one's has ended, after its connection went.
    await closed[i];
    renders[i]();
  }
  await Promise.all(closed);

  expect(accepted).toHaveLength(CONNECTIONS);
  // Collected once what is still under way lets go of it (under load, a turn of the loop
  // after the renders has not always been enough for the last one); one kept for good fails.
  const kept = (): number => accepted.filter((ref) => ref.deref() !== undefined).length;
  await until(
    () => {
      collectGarbage();
      return kept() === 0;
    },
    5_000,
    'every closed connection collected',
  );
  expect(kept()).toBe(0);
});

describe('past the cap', () => {
  const CAP = 3;
  /** More than the kernel's buffers on both sides take from a client that reads nothing. */
  const LARGE = Buffer.alloc(16 * 1024 * 1024, 'x');
  let held: net.Socket[] = [];
  let plain: http.Server | undefined;

  afterEach(async () => {
    for (const socket of held) socket.destroy();
    held = [];
    plain?.closeAllConnections();
    plain?.close();
    plain = undefined;
  });

  /** A server held to `CAP` connections: /large is a big answer, /pending never ends. */
  async function capped(): Promise<{
    port: number;
    accepted: net.Socket[];
    requests: () => number;
  }> {
    const accepted: net.Socket[] = [];
    let requests = 0;
    plain = http.createServer((req, res) => {
      requests++;
      if (req.url === '/large') res.end(LARGE);
      else if (req.url !== '/pending') res.end('ok\n');
    });
    plain.on('connection', (socket: net.Socket) => accepted.push(socket));
    boundConnections(plain, CAP, () => undefined);
    plain.listen(0, '127.0.0.1');
    await once(plain, 'listening');
    return { port: (plain.address() as net.AddressInfo).port, accepted, requests: () => requests };
  }

  function hold(port: number, path: string): Promise<void> {
    const socket = net.connect(port, '127.0.0.1');
    held.push(socket);
    socket.on('error', () => undefined);
    socket.pause();
    socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
    return once(socket, 'connect').then(() => undefined);
  }

  it('lets a probe in over clients that do not read their answers', async () => {
    const { port, accepted } = await capped();
    for (let i = 0; i < CAP; i++) await hold(port, '/large');
    // Each answer is under way, its rest waiting on a client that takes none of it.
    await until(
      () => accepted.length === CAP && accepted.every((socket) => socket.writableLength > 0),
      10_000,
      'answers backed up',
    );

    const probe = await rawExchange(
      port,
      'GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(probe.status).toBe(200);
    // The one replaced is the oldest of them.
    expect(accepted.map((socket) => socket.destroyed)).toEqual([true, false, false, true]);
  });

  it('drops the newcomer while every answer is still being made', async () => {
    const { port, accepted, requests } = await capped();
    for (let i = 0; i < CAP; i++) await hold(port, '/pending');
    await until(() => requests() === CAP, 10_000, 'requests received');

    const probe = await rawExchange(
      port,
      'GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(probe.status).toBe(0);
    expect(accepted.slice(0, CAP).map((socket) => socket.destroyed)).toEqual([false, false, false]);
  });
});

it('lets a probe in over clients waiting for a shared render of /metrics', async () => {
  let requests = 0;
  watchConnections(
    () => undefined,
    () => {
      requests += 1;
    },
  );
  const renders: (() => void)[] = [];
  const { port } = await startOps(
    () => new Promise<string>((resolve) => renders.push(() => resolve('up 1\n'))),
  );
  const scrapers = Array.from({ length: OPS_MAX_CONNECTIONS }, () => {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write(REQUEST);
    return socket;
  });
  try {
    // The first scrape's render is under way; every other waits for the next one. None is
    // idle, none backed up: a flood of scrapes that read their answers, caught mid-wait.
    await until(() => requests === OPS_MAX_CONNECTIONS, 10_000, 'every scrape received');
    expect(renders).toHaveLength(1);

    const probe = await rawExchange(
      port,
      'GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(probe.status).toBe(200);
  } finally {
    for (const socket of scrapers) socket.destroy();
    for (const render of renders) render();
  }
});

it('closes promptly when a scrape waiting for a shared render is answered after close', async () => {
  let requests = 0;
  watchConnections(
    () => undefined,
    () => {
      requests += 1;
    },
  );
  const { ops, port } = await startOps(() => Promise.resolve('up 1\n'));
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => undefined);
  let received = '';
  client.on('data', (chunk: Buffer) => {
    received += chunk.toString('latin1');
  });
  try {
    client.write(REQUEST);
    await until(() => received.includes('up 1'), 10_000, 'the first scrape answered');
    // On the same keep-alive connection, just after: it waits for the next render.
    client.write(REQUEST);
    await until(() => requests === 2, 10_000, 'the second scrape received');

    const ended = once(client, 'end');
    const started = Date.now();
    await ops.close();
    server = undefined;
    await ended;
    // Answered, then its connection ended with the listener, not cut at the grace.
    expect(Date.now() - started).toBeLessThan(CLOSE_GRACE_MS);
    expect(received.match(/^HTTP\/1\.1 200 /gm)).toHaveLength(2);
  } finally {
    client.destroy();
  }
});

it('says once that the ops listener is full, and again once it has had room', async () => {
  const { logger, lines } = captureLogs();
  let closed: Promise<unknown>[] = [];
  watchConnections((socket) => closed.push(once(socket, 'close')));
  const { port } = await startOps(() => Promise.resolve('up 1\n'), logger);
  const full = (): unknown[] => lines.filter((line) => line.event === 'ops_connections_full');
  const fill = async (): Promise<void> => {
    const sockets = Array.from({ length: OPS_MAX_CONNECTIONS }, () => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      return socket;
    });
    await Promise.all(sockets.map((socket) => once(socket, 'connect')));
    // Two probes past the cap, each taking the place of an idle client.
    for (let i = 0; i < 2; i++) {
      const probe = await rawExchange(
        port,
        'GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      expect(probe.status).toBe(200);
    }
    for (const socket of sockets) socket.destroy();
    await Promise.all(closed);
    closed = [];
  };

  await fill();
  expect(full()).toEqual([
    expect.objectContaining({ level: 'warn', max: OPS_MAX_CONNECTIONS }) as unknown,
  ]);
  // Down to half as many, then full again: told again.
  await fill();
  expect(full()).toHaveLength(2);
});

describe('a /metrics answer still going out to a slow reader when the listener closes', () => {
  /**
   * An exposition of many series, larger than the kernel's buffers on both sides take from
   * a client that reads nothing: its answer ends with its tail still in the process.
   */
  const EXPOSITION = Array.from(
    { length: 60_000 },
    (_, i) =>
      `vidispine_auth_proxy_requests_total{user="user-${i}",method="GET",code="200"} ${i}\n`,
  ).join('');

  /** A client that sends a scrape and reads nothing until `read`; what it got once closed. */
  async function scraper(port: number): Promise<{
    client: net.Socket;
    read: () => void;
    closed: Promise<Buffer>;
  }> {
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    client.pause();
    await once(client, 'connect');
    const received: Buffer[] = [];
    const closed = new Promise<Buffer>((resolve) =>
      client.on('close', () => resolve(Buffer.concat(received))),
    );
    client.write(REQUEST);
    const read = (): void => {
      client.on('data', (chunk: Buffer) => received.push(chunk));
      client.resume();
    };
    return { client, read, closed };
  }

  /** The body of the one answer in `bytes`, and what follows it. */
  function bodyOf(bytes: Buffer): { status: string; body: number; declared: number } {
    const end = bytes.indexOf('\r\n\r\n');
    const head = bytes.subarray(0, end).toString('latin1');
    return {
      status: head.split(' ', 2)[1] ?? '',
      body: bytes.length - end - 4,
      declared: Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]),
    };
  }

  it('sends it whole, its answer ended before the close', async () => {
    const accepted: net.Socket[] = [];
    watchConnections((socket) => accepted.push(socket));
    const { ops, port } = await startOps(() => Promise.resolve(EXPOSITION));
    const scrape = await scraper(port);
    try {
      // Its whole answer is handed to Node in one write: bytes waiting in the process mean
      // the answer has ended.
      await until(() => (accepted[0]?.writableLength ?? 0) > 0, 10_000, 'the answer ended');
      const closing = ops.close();
      server = undefined;
      scrape.read();
      const answer = bodyOf(await scrape.closed);
      await closing;
      expect(answer.status).toBe('200');
      expect(answer.declared).toBe(Buffer.byteLength(EXPOSITION));
      // Before: the connection closed with what the kernel held, 4,157,740 of 5,077,780 bytes.
      expect(answer.body).toBe(answer.declared);
    } finally {
      scrape.client.destroy();
    }
  });

  it("sends it whole when another connection's answer ends after the close", async () => {
    const accepted: net.Socket[] = [];
    let requests = 0;
    watchConnections(
      (socket) => accepted.push(socket),
      () => {
        requests += 1;
      },
    );
    const renders: (() => void)[] = [];
    const { ops, port } = await startOps(
      () => new Promise<string>((resolve) => renders.push(() => resolve(EXPOSITION))),
    );
    const slow = await scraper(port);
    await until(() => renders.length === 1, 10_000, "the slow scrape's render");
    // It waits for the next render, after the slow scrape's.
    const quick = await scraper(port);
    quick.read();
    try {
      await until(() => requests === 2, 10_000, 'the quick scrape');
      // Both wait for a render when the listener closes: neither is idle.
      const closing = ops.close();
      server = undefined;
      renders[0]();
      await until(() => (accepted[0]?.writableLength ?? 0) > 0, 10_000, 'the slow answer ended');
      await until(() => renders.length === 2, 10_000, "the quick scrape's render");
      renders[1]();
      const quickAnswer = bodyOf(await quick.closed);
      expect(quickAnswer.body).toBe(Buffer.byteLength(EXPOSITION));
      slow.read();
      const slowAnswer = bodyOf(await slow.closed);
      await closing;
      // Before: cut once the quick answer was out, with what the kernel held (4,157,740 bytes).
      expect(slowAnswer.body).toBe(Buffer.byteLength(EXPOSITION));
    } finally {
      slow.client.destroy();
      quick.client.destroy();
    }
  });
});
