import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as diagnostics from 'node:diagnostics_channel';
import * as http from 'node:http';
import { once } from 'node:events';
import * as net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket from 'ws';
import { basic, call } from '../support/http';
import { startHarness, type Harness } from '../support/app';
import { H2C_OFFER, expectServedPlain, uploadOfferingH2c } from '../support/h2c-offer';
import { rawRequest } from '../support/raw-client';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream';
import { stopReading } from '../support/stalled-reader';
import { HANG_GUARD_MS, until } from '../support/wait';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

function open(url: string, headers: Record<string, string>): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      const challenge = res.headers['www-authenticate'] === undefined ? '' : ' with a challenge';
      reject(new Error(`upgrade refused: ${res.statusCode}${challenge}`));
    });
    ws.once('error', reject);
  });
}

function nextMessage(ws: WebSocket): Promise<{ data: Buffer; binary: boolean }> {
  return new Promise((resolve) =>
    ws.once('message', (data, binary) => resolve({ data: data as Buffer, binary })),
  );
}

it('upgrades /APIWS/ with our token instead of the client credentials and echoes both ways', async () => {
  const before = h.sim.calls({ endpoint: 'ws', user: 'alice' });
  const ws = await open(`ws://127.0.0.1:${h.port}/APIWS/echo?x=1`, {
    authorization: basic('alice', 'wrong-password'),
  });
  expect(h.sim.calls({ endpoint: 'ws', user: 'alice' })).toBe(before + 1);

  const text = nextMessage(ws);
  ws.send('hello through the proxy');
  expect((await text).data.toString()).toBe('hello through the proxy');

  const payload = Buffer.alloc(256 * 1024, 7);
  const binary = nextMessage(ws);
  ws.send(payload);
  const echoed = await binary;
  expect(echoed.binary).toBe(true);
  expect(echoed.data.equals(payload)).toBe(true);

  const closed = new Promise((resolve) => ws.once('close', resolve));
  ws.close();
  await closed;
});

async function echoes(ws: WebSocket): Promise<void> {
  const text = nextMessage(ws);
  ws.send('still there');
  expect((await text).data.toString()).toBe('still there');
  const closed = new Promise((resolve) => ws.once('close', resolve));
  ws.close();
  await closed;
}

it('replays an upgrade that meets a dead token once, with a fresh token', async () => {
  await echoes(await open(`ws://127.0.0.1:${h.port}/APIWS/echo`, {}));
  const mints = h.sim.calls({ endpoint: 'token' });
  const upgrades = h.sim.calls({ endpoint: 'ws' });
  const unauthorized = h.observer.unauthorized.length;
  h.sim.revokeAllTokens();
  await echoes(await open(`ws://127.0.0.1:${h.port}/APIWS/echo`, {}));
  expect(h.observer.unauthorized.slice(unauthorized)).toEqual([{ user: 'alice', retried: true }]);
  expect(h.sim.calls({ endpoint: 'token' })).toBe(mints + 1);
  expect(h.sim.calls({ endpoint: 'ws' })).toBe(upgrades + 2);
  expect(h.observer.upstreamErrors).toEqual([]);
});

it('refuses the upgrade with 503 when no token can be minted, counting no replay', async () => {
  const unauthorized = h.observer.unauthorized.length;
  h.sim.revokeAllTokens();
  h.sim.failTokenEndpoints({ kind: 'status', status: 500 });
  // The held token is dead: the first upgrade meets Vidispine's 401, which drops the token,
  // and finds no new one to replay with; neither does the next.
  await expect(open(`ws://127.0.0.1:${h.port}/APIWS/echo`, {})).rejects.toThrow(
    /^upgrade refused: 503$/,
  );
  await expect(open(`ws://127.0.0.1:${h.port}/APIWS/echo`, {})).rejects.toThrow(
    'upgrade refused: 503',
  );
  // The 401 is counted once, as not retried: no replay went out.
  expect(h.observer.unauthorized.slice(unauthorized)).toEqual([{ user: 'alice', retried: false }]);
  h.sim.healTokenEndpoints();
});

it("passes on an upgrade's own 401 (a refused RunAs) without a replay", async () => {
  const refusing = await startHarness({
    simulator: { refusedRunAsStatus: 401 },
    users: [{ name: 'alice', allowRunAs: true }],
  });
  try {
    await expect(
      open(`ws://127.0.0.1:${refusing.port}/APIWS/echo`, { runas: 'admin' }),
    ).rejects.toThrow(/^upgrade refused: 401$/);
    expect(refusing.observer.unauthorized).toEqual([{ user: 'alice', retried: false }]);
    expect(refusing.sim.calls({ endpoint: 'ws' })).toBe(1);
    expect(refusing.sim.calls({ endpoint: 'token' })).toBe(1);
  } finally {
    await refusing.close();
  }
});

it("closes the connection of an upgrade Vidispine refused once its client, keeping it open, sends nothing for the lingering close's wait", async () => {
  const refusing = await startHarness({
    simulator: { refusedRunAsStatus: 401 },
    users: [{ name: 'alice', allowRunAs: true }],
  });
  // The proxy's end of each connection it accepts: its close is the one to see, since the
  // client, keeping its own side open, is told nothing more.
  const accepted: Socket[] = [];
  const onSocket = (message: unknown): void => {
    accepted.push((message as { socket: Socket }).socket);
  };
  diagnostics.subscribe('net.server.socket', onSocket);
  const c = net.connect({ port: refusing.port, host: '127.0.0.1', allowHalfOpen: true });
  try {
    let text = '';
    c.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    const ended = new Promise<void>((resolve) => c.once('end', () => resolve()));
    c.write(
      'GET /APIWS/echo HTTP/1.1\r\nHost: x\r\nRunAs: admin\r\nConnection: Upgrade\r\n' +
        'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    await ended;
    expect(text).toMatch(/^HTTP\/1\.1 401 /);
    const ours = accepted.find((s) => s.remotePort === c.localPort);
    if (ours === undefined) throw new Error('the connection was not seen accepted');
    // Before: read and dropped without a bound, held for as long as the listener was open.
    if (!ours.destroyed) await new Promise((resolve) => ours.once('close', resolve));
  } finally {
    diagnostics.unsubscribe('net.server.socket', onSocket);
    c.destroy();
    await refusing.close();
  }
});

it("passes on the replay's 401 without the proxy's token in its Reason header", async () => {
  // Shiro's Reason header names the token it refused; this upstream refuses every one.
  const presented: string[] = [];
  const rejecting = http.createServer();
  rejecting.on('upgrade', (req: http.IncomingMessage, socket: Socket) => {
    const token = (req.headers.authorization ?? '').replace(/^token /, '');
    presented.push(token);
    socket.end(
      'HTTP/1.1 401 Unauthorized\r\n' +
        `Reason: Token was not found: ${token}\r\n` +
        'Content-Length: 0\r\nConnection: close\r\n\r\n',
    );
  });
  await new Promise<void>((resolve) => rejecting.listen(0, '127.0.0.1', resolve));
  const { port } = rejecting.address() as AddressInfo;
  const r = await startHarness({ forwardTo: `http://127.0.0.1:${port}` });
  try {
    await until(() => r.sim.tokenCount() === 1);
    r.sim.revokeAllTokens();
    const refusal = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${r.port}/APIWS/echo`);
      ws.once('unexpected-response', (_req, res) => resolve(res));
      ws.once('open', () => reject(new Error('upgraded')));
      ws.on('error', () => undefined);
    });
    expect(refusal.statusCode).toBe(401);
    expect(refusal.headers.reason).toBe('Token was not found: [REDACTED]');
    expect(presented).toHaveLength(2);
    expect(presented[1]).not.toBe(presented[0]);
    expect(r.observer.unauthorized).toEqual([
      { user: 'alice', retried: true },
      { user: 'alice', retried: false },
    ]);
  } finally {
    await r.close();
    rejecting.close();
  }
});

it("passes on a redirect or a 101 without the proxy's token in their headers", async () => {
  // A front end that builds a redirect, and a header of its switch, from the Authorization.
  const echoing = http.createServer();
  echoing.on('upgrade', (req: http.IncomingMessage, socket: Socket) => {
    const token = (req.headers.authorization ?? '').replace(/^token /, '');
    if (req.url === '/APIWS/moved') {
      socket.end(
        `HTTP/1.1 302 Found\r\nLocation: /APIWS/echo?token=${token}\r\n` +
          'Content-Length: 0\r\nConnection: close\r\n\r\n',
      );
      return;
    }
    const accept = createHash('sha1')
      .update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
      .digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\nX-Seen-Authorization: token ${token}\r\n\r\n`,
    );
  });
  await new Promise<void>((resolve) => echoing.listen(0, '127.0.0.1', resolve));
  const { port } = echoing.address() as AddressInfo;
  const r = await startHarness({ forwardTo: `http://127.0.0.1:${port}` });
  try {
    const moved = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${r.port}/APIWS/moved`, { followRedirects: false });
      ws.once('unexpected-response', (_req, res) => resolve(res));
      ws.once('open', () => reject(new Error('upgraded')));
      ws.on('error', () => undefined);
    });
    expect(moved.statusCode).toBe(302);
    expect(moved.headers.location).toBe('/APIWS/echo?token=[REDACTED]');
    const switched = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${r.port}/APIWS/echo`);
      ws.once('upgrade', (res) => {
        resolve(res);
        ws.terminate();
      });
      ws.once('error', reject);
    });
    expect(switched.headers['x-seen-authorization']).toBe('token [REDACTED]');
  } finally {
    await r.close();
    echoing.close();
  }
});

describe('a request offering another protocol (Upgrade: h2c, as curl --http2 sends)', () => {
  // A proxy of its own: the shared one may still be backing off from the mint failures above.
  let p: Harness;
  beforeAll(async () => {
    p = await startHarness();
  });
  afterAll(() => p.close());

  it('is forwarded as a plain request, body and all, and its answer closes the connection', async () => {
    expectServedPlain(await uploadOfferingH2c(p.port));

    const whoami = await rawRequest(
      p.port,
      `GET /API/whoami HTTP/1.1\r\nHost: x\r\n${H2C_OFFER}\r\n`,
    );
    expect(whoami.responses.map((r) => [r.status, r.body.toString()])).toEqual([[200, 'alice']]);
  });

  it('an HTTP/1.0 request asking for websocket is served plain too: Upgrade means nothing in HTTP/1.0', async () => {
    // RFC 9110 §7.8: a server ignores Upgrade in an HTTP/1.0 request (and may send it no 1xx).
    const r = await rawRequest(
      p.port,
      'GET /API/whoami HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      { untilClosed: true },
    );
    expect(r.responses.map((x) => [x.status, x.body.toString()])).toEqual([[200, 'alice']]);
    expect(r.informational).toEqual([]);
  });

  it('leaves a request pipelined behind it unanswered on a closed connection, never hanging', async () => {
    const r = await rawRequest(
      p.port,
      `GET /API/whoami HTTP/1.1\r\nHost: x\r\n${H2C_OFFER}\r\nGET /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n`,
      { untilClosed: true, timeoutMs: 5000 },
    );
    expect(r.responses.map((x) => x.status)).toEqual([200]);
    expect(r.closed).toBe(true);
  });
});

describe('a connection refused without switching protocols', () => {
  let p: Harness;
  beforeAll(async () => {
    p = await startHarness();
  });
  afterAll(() => p.close());

  /** TCP handles open in this process: the clients' sockets and the proxy's. */
  const tcpHandles = (): number =>
    process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap').length;

  /**
   * Sends `head`, reads the answer, then sends more bytes and closes: the proxy must see
   * that close and let its side of the connection go.
   */
  function sendOnAfterAnswer(head: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(p.port, '127.0.0.1', () => socket.write(head));
      let answer = '';
      socket.on('data', (chunk: Buffer) => {
        if (answer === '') socket.end('more bytes the proxy will not use');
        answer += chunk.toString('latin1');
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(answer.split('\r\n')[0]));
    });
  }

  it.each([
    [
      'a WebSocket upgrade admission refuses',
      'POST /APIWS/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n',
      'HTTP/1.1 400 Bad Request',
    ],
    [
      'a WebSocket upgrade Vidispine refuses',
      'GET /API/not-a-socket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      'HTTP/1.1 404 Not Found',
    ],
    [
      'CONNECT',
      'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n',
      'HTTP/1.1 405 Method Not Allowed',
    ],
  ])(
    '%s, whose client sends on after the answer, is closed once the client closes',
    async (_name, head, status) => {
      // Settled: nothing of an earlier exchange still closing.
      await call(p.port, { path: '/API/whoami' });
      const before = tcpHandles();
      for (let i = 0; i < 3; i++) expect(await sendOnAfterAnswer(head)).toBe(status);
      await until(() => tcpHandles() <= before, 5000);
    },
  );
});

describe('a 101 no WebSocket client could take is a 502, never passed on', () => {
  it.each([
    // RFC 9110 §7.8: a server may switch only to a protocol the client offered; the proxy
    // never relabels it websocket.
    ['to another protocol than the WebSocket asked for', 'Upgrade: h2c\r\nConnection: Upgrade\r\n'],
    // Node reads it as an answer, not a switch (§7.8 wants the two together): passed on, the
    // client got a 101 stripped of its Upgrade, on a connection never spliced.
    [
      'without Connection: Upgrade',
      'Upgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n',
    ],
  ])('%s', async (_, fields) => {
    const accepted: Socket[] = [];
    const switching = net.createServer((socket) => {
      accepted.push(socket);
      socket.once('data', () => socket.write(`HTTP/1.1 101 Switching Protocols\r\n${fields}\r\n`));
    });
    await new Promise<void>((resolve) => switching.listen(0, '127.0.0.1', resolve));
    const { port } = switching.address() as AddressInfo;
    const r = await startHarness({ forwardTo: `http://127.0.0.1:${port}` });
    try {
      const result = await rawRequest(
        r.port,
        'GET /APIWS/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        { untilClosed: true },
      );
      expect(result.responses.map((x) => x.status)).toEqual([502]);
      expect(r.observer.upstreamErrors).toEqual(['protocol']);
    } finally {
      await r.close();
      for (const socket of accepted) socket.destroy();
      switching.close();
    }
  });
});

describe('a WebSocket client that stops reading', () => {
  // Vidispine sends and the client takes 1 MiB, then nothing while its connection stays open,
  // as a hung process or a peer gone behind a NAT that still acknowledges for it. Held for
  // ever, each such session kept a connection to Vidispine for good.
  const MiB = 1024 * 1024;
  const UPGRADE =
    'GET /APIWS/events HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  let sending: http.Server;
  let size = Infinity;
  const sessions = new Set<Socket>();
  let opened = 0;
  let r: Harness;

  beforeAll(async () => {
    // Switches, then sends `size` bytes as fast as the proxy takes them.
    sending = http.createServer();
    sending.on('upgrade', (_req: http.IncomingMessage, socket: Socket) => {
      sessions.add(socket);
      opened++;
      socket.on('close', () => sessions.delete(socket));
      socket.on('error', () => undefined);
      // The client's close ends the session (an http.Server's sockets stay half open).
      socket.on('end', () => socket.end());
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
      );
      const chunk = Buffer.alloc(64 * 1024, 'w');
      let sent = 0;
      const pump = (): void => {
        while (sent < size && !socket.destroyed) {
          sent += chunk.length;
          if (!socket.write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    await new Promise<void>((resolve) => sending.listen(0, '127.0.0.1', resolve));
    const { port } = sending.address() as AddressInfo;
    r = await startHarness({
      forwardTo: `http://127.0.0.1:${port}`,
      proxy: { sendTimeoutSeconds: 0.5 },
    });
  });
  afterAll(async () => {
    await r.close();
    sending.closeAllConnections();
    sending.close();
  });

  it(
    'is cut after sendTimeoutSeconds, and so is its connection to Vidispine',
    async () => {
      size = Infinity;
      const before = opened;
      const client = stopReading(r.port, UPGRADE);
      await until(() => opened === before + 1, HANG_GUARD_MS, 'the session upstream');
      await until(() => sessions.size === 0, HANG_GUARD_MS, 'the session upstream closed');
      expect(await client.end()).toBeGreaterThan(MiB);
    },
    HANG_GUARD_MS,
  );

  it(
    'a slow reader keeps its session and gets every byte',
    async () => {
      size = 64 * MiB;
      const client = net.connect(r.port, '127.0.0.1');
      let received = 0;
      client.on('data', (chunk: Buffer) => (received += chunk.length));
      client.on('error', () => undefined);
      // Reading half the time: the whole takes longer than sendTimeoutSeconds.
      const pace = setInterval(() => {
        client.pause();
        setTimeout(() => client.resume(), 50);
      }, 100);
      try {
        client.write(UPGRADE);
        await until(() => received >= size, HANG_GUARD_MS, 'every byte');
      } finally {
        clearInterval(pace);
      }
      expect(sessions.size).toBe(1);
      const closed = new Promise((resolve) => client.on('close', resolve));
      client.end();
      await closed;
      await until(() => sessions.size === 0, HANG_GUARD_MS, 'the session upstream closed');
    },
    HANG_GUARD_MS,
  );
});

/**
 * The kernel's record of the IPv4 TCP socket from `local` to `remote` port: whether its timer
 * is TCP keepalive's (`/proc/net/tcp`'s `tr` field is 2 for it, 0 with no timer at all).
 */
function keepaliveTimer(local: number, remote: number): boolean | undefined {
  const hex = (port: number): string => port.toString(16).toUpperCase().padStart(4, '0');
  const row = readFileSync('/proc/net/tcp', 'latin1')
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .find(([, from, to]) => from?.endsWith(`:${hex(local)}`) && to?.endsWith(`:${hex(remote)}`));
  return row === undefined ? undefined : row[5].startsWith('02:');
}

const procNetTcp = existsSync('/proc/net/tcp');
(procNetTcp ? describe : describe.skip)('a quiet WebSocket session', () => {
  // A session may rightly stay quiet for hours, so nothing cuts it; when Vidispine or the
  // client vanishes without a word (a host gone, a NAT that forgot it), only TCP keepalive's
  // probes tell, and without them both connections stayed open for good.
  const UPGRADE =
    'GET /APIWS/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
  let switching: net.Server;
  let upstream: Socket | undefined;
  let r: Harness;
  beforeAll(async () => {
    switching = net.createServer((socket) => {
      upstream = socket;
      socket.on('error', () => undefined);
      socket.once('data', () =>
        socket.write(
          'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
        ),
      );
    });
    await new Promise<void>((resolve) => switching.listen(0, '127.0.0.1', resolve));
    const { port } = switching.address() as AddressInfo;
    r = await startHarness({ forwardTo: `http://127.0.0.1:${port}` });
  });
  afterAll(async () => {
    await r.close();
    upstream?.destroy();
    switching.close();
  });

  it('has TCP keepalive on both of its connections', async () => {
    const client = net.connect(r.port, '127.0.0.1');
    client.on('error', () => undefined);
    try {
      const head = new Promise<void>((resolve) => client.once('data', () => resolve()));
      client.write(UPGRADE);
      await head;
      const session = upstream;
      if (session?.remotePort === undefined) throw new Error('no session upstream');
      const { port: vidispine } = switching.address() as AddressInfo;
      const timers = (): (boolean | undefined)[] => [
        keepaliveTimer(r.port, client.localPort ?? 0),
        keepaliveTimer(session.remotePort ?? 0, vidispine),
      ];
      // Until the acknowledgements of the handshake are in, the timer may be retransmission's.
      await until(() => timers().every((t) => t !== undefined), 5000, 'both sockets listed');
      await until(() => timers().every((t) => t === true), 5000, `keepalive (${timers()})`);
    } finally {
      client.destroy();
    }
  });
});

describe('a client that closes its side before its upgrade is answered', () => {
  // A WebSocket client has nothing to half-close before its 101: a FIN then means it went
  // away (a handshake timeout, `terminate()` while connecting), as for a plain request.
  const upstreamSockets = new Set<Socket>();
  let upstream: RawUpstream;
  let r: Harness;
  beforeAll(async () => {
    upstream = await startRawUpstream((_request, socket) => {
      upstreamSockets.add(socket);
      socket.on('close', () => upstreamSockets.delete(socket));
      return 'hang';
    });
    r = await startHarness({ forwardTo: upstream.url });
  });
  afterAll(async () => {
    await r.close();
    await upstream.close();
  });

  it(
    'is counted as gone (499) and its request to Vidispine is aborted',
    async () => {
      const client = net.connect(r.port, '127.0.0.1');
      const received: Buffer[] = [];
      client.on('data', (chunk: Buffer) => received.push(chunk));
      client.on('error', () => undefined);
      const closed = new Promise<string>((resolve) =>
        client.on('close', () => resolve(Buffer.concat(received).toString('latin1'))),
      );
      client.write(
        'GET /APIWS/echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      await upstream.received(1);
      client.end();
      // Before: both connections stayed open until Vidispine answered: a 101 was passed on
      // and counted as such, and silence ended in a 504 after upstreamTimeoutSeconds.
      await until(() => r.observer.finished.length === 1, 5000, 'the upgrade accounted for');
      expect(r.observer.finished.map((f) => f.status)).toEqual([499]);
      expect(await closed).toBe('');
      await until(() => upstreamSockets.size === 0, HANG_GUARD_MS, 'the upstream request aborted');
      expect(r.listeners[0].inFlight()).toBe(0);
      // The abort is the proxy's own, for a client that left: no failure of Vidispine's.
      expect(r.observer.upstreamErrors).toEqual([]);
    },
    HANG_GUARD_MS,
  );

  it(
    'is not taken for a failure of Vidispine when it resets its connection instead',
    async () => {
      const before = new Set(upstreamSockets);
      const count = r.observer.finished.length;
      const errors = r.observer.upstreamErrors.length;
      const client = net.connect(r.port, '127.0.0.1');
      client.on('error', () => undefined);
      client.write(
        'GET /APIWS/echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      await until(() => upstreamSockets.size > before.size, 5000, 'the upgrade sent upstream');
      client.resetAndDestroy();
      await until(
        () => r.observer.finished.length === count + 1,
        5000,
        'the upgrade accounted for',
      );
      expect(r.observer.finished.slice(count).map((f) => f.status)).toEqual([499]);
      await until(() => upstreamSockets.size === before.size, HANG_GUARD_MS, 'the request aborted');
      // Before: a `reset` ("socket hang up"), logged and counted as Vidispine failing.
      expect(r.observer.upstreamErrors.slice(errors)).toEqual([]);
    },
    HANG_GUARD_MS,
  );

  it.each([
    [
      '101',
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
    ],
    ['403', 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'],
  ])(
    'is counted as gone (499), not %s, when its FIN and that answer come in the same turn of the event loop',
    async (_status, answer) => {
      const before = new Set(upstreamSockets);
      const client = net.connect(r.port, '127.0.0.1');
      client.on('error', () => undefined);
      const closed = new Promise((resolve) => client.on('close', resolve));
      client.write(
        'GET /APIWS/echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      const count = r.observer.finished.length;
      await until(() => upstreamSockets.size > before.size, 5000, 'the upgrade sent upstream');
      const server = [...upstreamSockets].find((socket) => !before.has(socket)) as Socket;
      // The FIN reaches the proxy first, the answer right behind it: the proxy, in this process,
      // reads both only once this turn ends, so it sees them in one turn of its loop.
      client.end(() => {
        server.write(answer);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
      });
      await closed;
      await until(
        () => r.observer.finished.length === count + 1,
        5000,
        'the upgrade accounted for',
      );
      // Before: counted as the answer passed on to a connection already closed.
      expect(r.observer.finished.slice(count).map((f) => f.status)).toEqual([499]);
    },
    HANG_GUARD_MS,
  );
});

describe('a request pipelined behind a large answer its client is not reading yet', () => {
  // Node stops passing its connection's drains on to the answer under way once it hands the
  // connection over for an upgrade or a CONNECT behind it.
  const MiB = 1024 * 1024;
  const SIZE = 32 * MiB;
  let p: Harness;
  beforeAll(async () => {
    p = await startHarness();
  });
  afterAll(() => p.close());

  it.each([
    {
      what: 'a WebSocket upgrade',
      request:
        'GET /APIWS/echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      counted: 2,
      answer: /^HTTP\/1\.1 101 Switching Protocols\r\n[^]*\r\n\r\n$/,
      statuses: [200, 101],
      upgraded: 1,
    },
    {
      what: 'a CONNECT',
      request: 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n',
      counted: 1,
      answer: /^HTTP\/1\.1 405 Method Not Allowed\r\n[^]*\r\n\r\n$/,
      statuses: [200],
      upgraded: 0,
    },
    {
      what: 'a plain GET',
      request: 'GET /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n',
      counted: 2,
      answer: /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nalice$/,
      statuses: [200, 200],
      upgraded: 0,
    },
  ])(
    'the answer goes out whole and is accounted for, then $what is answered, leaving nothing in flight',
    async ({ request, counted, answer, statuses, upgraded }) => {
      // The proxy's end of each connection it accepts, and its first drain: a write of the
      // answer held back, then taken.
      const accepted: { socket: Socket; drained: Promise<unknown> }[] = [];
      const onSocket = (message: unknown): void => {
        const { socket } = message as { socket: Socket };
        accepted.push({ socket, drained: once(socket, 'drain') });
      };
      diagnostics.subscribe('net.server.socket', onSocket);
      const upgrades = p.sim.calls({ endpoint: 'ws' });
      const started = p.observer.started;
      const finished = p.observer.finished.length;
      const client = net.connect(p.port, '127.0.0.1');
      const chunks: Buffer[] = [];
      let received = 0;
      client.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
      });
      // What came before the proxy closed the connection, if it did.
      const closed = new Promise<string>((resolve) =>
        client.once('close', () => resolve(`closed after ${received} bytes`)),
      );
      client.pause();
      client.on('error', () => undefined);
      try {
        await new Promise((resolve) => client.once('connect', resolve));
        // One write: read and parsed at once, the second handed over (or queued) before any
        // of the answer goes out.
        client.write(
          `GET /API/storage/file/VX-1/data?size=${SIZE} HTTP/1.1\r\nHost: x\r\n\r\n${request}`,
        );
        await until(() => p.observer.started === started + counted, 5000, 'the requests read');
        const ours = accepted.find((a) => a.socket.remotePort === client.localPort);
        if (ours === undefined) throw new Error('the connection was not seen accepted');
        await ours.drained;
        const second = new Promise<string>((resolve) => {
          client.on('data', () => {
            if (received <= SIZE) return;
            const all = Buffer.concat(chunks).toString('latin1');
            if (answer.test(all.slice(all.indexOf('\r\n\r\n') + 4 + SIZE))) resolve('answered');
          });
        });
        client.resume();
        // Before, behind an upgrade or a CONNECT: the client got 64 KiB of the 32 MiB answer,
        // which stayed in flight without an access line, the upgrade never reached
        // Vidispine, and a minute later the send timeout cut the connection.
        expect(await Promise.race([second, closed])).toBe('answered');
        const all = Buffer.concat(chunks).toString('latin1');
        expect(all.slice(0, all.indexOf('\r\n\r\n') + 4)).toMatch(
          new RegExp(`^HTTP/1\\.1 200 [^]*content-length: ${SIZE}\r\n`, 'i'),
        );
        expect(p.sim.calls({ endpoint: 'ws' })).toBe(upgrades + upgraded);
        client.end();
        await closed;
        await until(() => p.listeners[0].inFlight() === 0, 5000, 'nothing in flight');
        if (!ours.socket.destroyed) await once(ours.socket, 'close');
        expect(p.observer.finished.slice(finished).map((f) => f.status)).toEqual(statuses);
      } finally {
        diagnostics.unsubscribe('net.server.socket', onSocket);
        client.destroy();
      }
    },
    HANG_GUARD_MS,
  );
});
