/**
 * A WebSocket session's own access-log line, written when it ends: how long it lasted, the
 * bytes it carried each way, and which side ended it. The `request` line of its upgrade is
 * written at the `101`, before any of that is known.
 */
import * as diagnostics from 'node:diagnostics_channel';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { startApp, type RunningApp } from '../support/app';
import { MiB } from '../support/reliability-clients';
import { pumpUntilClosed, stopReading } from '../support/stalled-reader';
import { HANG_GUARD_MS, until } from '../support/wait';

type Line = Record<string, unknown>;

const upgradeTo = (target: string): string =>
  `GET ${target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

const SWITCHED =
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n';

/**
 * A client frame of `payload` (under 126 bytes): masked, as a client's must be (RFC 6455
 * §5.3), with a zero key, so its payload goes as it is.
 */
function clientFrame(opcode: number, payload: string): Buffer {
  const bytes = Buffer.from(payload);
  return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | bytes.length, 0, 0, 0, 0]), bytes]);
}
const TEXT = 0x1;
const CLOSE = 0x8;

/** A WebSocket client on a raw socket, counting the session's bytes as it sees them. */
interface RawSession {
  readonly socket: net.Socket;
  send(frame: Buffer): void;
  /** Bytes it sent after its upgrade's head. */
  sent(): number;
  /** Bytes it read after the `101`'s head. */
  received(): number;
  readonly closed: Promise<void>;
}

async function openSession(port: number, target = '/APIWS/echo'): Promise<RawSession> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  let head = '';
  let received = 0;
  let sent = 0;
  const switched = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      if (!head.startsWith('HTTP/1.1 101 ')) reject(new Error(`not switched: ${head}`));
      received = Buffer.byteLength(head, 'latin1') - (end + 4);
      socket.on('data', (more: Buffer) => (received += more.length));
      resolve();
    };
    socket.on('data', onData);
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(upgradeTo(target));
  await switched;
  return {
    socket,
    send(frame) {
      sent += frame.length;
      socket.write(frame);
    },
    sent: () => sent,
    received: () => received,
    closed,
  };
}

/** The session echoed "hello": 11 bytes from the client, 7 back. */
async function echoHello(session: RawSession): Promise<void> {
  session.send(clientFrame(TEXT, 'hello'));
  await until(() => session.received() === 7, 5000, 'the echo');
}

function lines(r: RunningApp, event: string): Line[] {
  return r.logs.map((text) => JSON.parse(text) as Line).filter((l) => l.event === event);
}

async function sessionLine(r: RunningApp): Promise<Line> {
  await until(() => lines(r, 'websocket_session_ended').length > 0, 5000, 'the session line');
  const ended = lines(r, 'websocket_session_ended');
  expect(ended).toHaveLength(1);
  return ended[0];
}

describe('the line of a WebSocket session through the simulator', () => {
  let r: RunningApp;
  afterEach(() => r.close());

  it('says the client closed it, with its duration and bytes each way, the 101 line unchanged', async () => {
    r = await startApp({ raw: { proxy: { accessLog: true } } });
    const token = r.app.store.current('alice')?.value ?? '';
    const session = await openSession(r.port(), '/APIWS/echo?token=VSID-0123456789&x=1');
    await until(() => lines(r, 'request').length === 1, 5000, 'the 101 line');
    await echoHello(session);
    // Before: no line at all once the 101 was logged.
    session.socket.end();
    const line = await sessionLine(r);
    await session.closed;
    const [switched] = lines(r, 'request');
    expect(Object.keys(switched).sort()).toEqual(
      [
        'level',
        'time',
        'service',
        'msg',
        'event',
        'requestId',
        'user',
        'method',
        'path',
        'status',
        'durationMs',
        'remoteAddress',
        'replayed',
      ].sort(),
    );
    expect(switched).toMatchObject({ status: 101, path: '/APIWS/echo?token=[REDACTED]&x=1' });
    expect(line).toEqual({
      level: 'info',
      time: expect.any(String),
      service: 'vidispine-auth-proxy',
      event: 'websocket_session_ended',
      requestId: switched.requestId,
      user: 'alice',
      method: 'GET',
      path: '/APIWS/echo?token=[REDACTED]&x=1',
      remoteAddress: '127.0.0.1',
      durationMs: expect.any(Number),
      bytesReceived: 11,
      bytesSent: 7,
      end: 'client_closed',
      msg: 'websocket session ended: GET /APIWS/echo?token=[REDACTED]&x=1 (client_closed)',
    });
    // From the upgrade's arrival, as the request line's: the handshake's time is in it.
    expect(line.durationMs).toBeGreaterThanOrEqual(switched.durationMs as number);
    // Never a frame's content, the client's token or the proxy's.
    const text = r.logs.join('\n');
    expect(text).not.toContain('hello');
    expect(text).not.toContain('VSID-0123456789');
    expect(token).not.toBe('');
    expect(text).not.toContain(token);
  });

  it("says Vidispine closed it at the end of a close handshake (the server's TCP close comes first)", async () => {
    r = await startApp({ raw: { proxy: { accessLog: true } } });
    const session = await openSession(r.port());
    await echoHello(session);
    session.send(clientFrame(CLOSE, ''));
    await session.closed;
    const line = await sessionLine(r);
    // 11 + 6 from the client; 7 + the server's own close frame, 2, back.
    expect(line).toMatchObject({
      end: 'upstream_closed',
      bytesReceived: 17,
      bytesSent: 9,
    });
    expect([line.bytesReceived, line.bytesSent]).toEqual([session.sent(), session.received()]);
  });

  it('says a reset by the client is an error, and which connection had it', async () => {
    r = await startApp({ raw: { proxy: { accessLog: true } } });
    const session = await openSession(r.port());
    await echoHello(session);
    session.socket.resetAndDestroy();
    const line = await sessionLine(r);
    expect(line).toMatchObject({
      end: 'error',
      detail: 'client connection: read ECONNRESET',
      bytesReceived: 11,
      bytesSent: 7,
    });
  });

  it("counts only the session's bytes: not a request before it on the connection, but a frame sent behind the upgrade's head", async () => {
    r = await startApp({ raw: { proxy: { accessLog: true } } });
    const socket = net.connect(r.port(), '127.0.0.1');
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    // One write: a request, the upgrade pipelined behind it, and a frame before the 101.
    socket.write(
      Buffer.concat([
        Buffer.from('GET /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n' + upgradeTo('/APIWS/echo')),
        clientFrame(TEXT, 'hello'),
      ]),
    );
    const switchedAt = (): number => received.indexOf('HTTP/1.1 101 ');
    const echoed = (): boolean => switchedAt() > 0 && received.endsWith('\r\n\r\n\x81\x05hello');
    await until(echoed, 5000, 'the answer, the 101 and the echo');
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    socket.end();
    const line = await sessionLine(r);
    expect(line).toMatchObject({ end: 'client_closed', bytesReceived: 11, bytesSent: 7 });
  });

  it('writes no line with the access log off', async () => {
    r = await startApp();
    // The proxy's end of the client's connection: once it closed, the session is over.
    const accepted: net.Socket[] = [];
    const onSocket = (message: unknown): void => {
      accepted.push((message as { socket: net.Socket }).socket);
    };
    diagnostics.subscribe('net.server.socket', onSocket);
    try {
      const session = await openSession(r.port());
      await echoHello(session);
      const proxied = accepted.find((socket) => socket.remotePort === session.socket.localPort);
      const over = new Promise((resolve) => proxied?.once('close', resolve));
      session.socket.end();
      await over;
      expect(r.logs.filter((l) => l.includes('websocket_session'))).toEqual([]);
    } finally {
      diagnostics.unsubscribe('net.server.socket', onSocket);
    }
  });
});

describe('the line of a WebSocket session through a raw upstream', () => {
  let r: RunningApp | undefined;
  let upstream: net.Server;
  /** What the upstream does once it switched, on its end of the session. */
  let onSwitched: (socket: net.Socket) => void = () => undefined;
  beforeAll(async () => {
    upstream = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => {
        socket.write(SWITCHED);
        onSwitched(socket);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  });
  afterEach(() => r?.close());
  afterAll(() => new Promise((resolve) => upstream.close(resolve)));

  const url = (): string => `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;

  it("says a reset by Vidispine is an error on Vidispine's connection", async () => {
    const app = await startApp({ forwardTo: url(), raw: { proxy: { accessLog: true } } });
    r = app;
    // Answers the client's first frame with 5 bytes.
    let switched: net.Socket | undefined;
    onSwitched = (socket) => {
      switched = socket;
      socket.once('data', () => socket.write('abcde'));
    };
    const session = await openSession(app.port());
    session.send(clientFrame(TEXT, 'hello'));
    // A reset right behind data is read as the connection's end (libuv takes the hang-up
    // that comes with the data for EOF): the reset comes once they are through.
    await until(() => session.received() === 5, 5000, "Vidispine's bytes");
    switched?.resetAndDestroy();
    await session.closed;
    const line = await sessionLine(app);
    expect(line).toMatchObject({
      end: 'error',
      detail: 'Vidispine connection: read ECONNRESET',
      bytesReceived: 11,
      bytesSent: 5,
    });
  });

  it(
    "counts for a session the shutdown cuts only the bytes its client's connection took, not those still held for it",
    async () => {
      const app = await startApp({ forwardTo: url(), raw: { proxy: { accessLog: true } } });
      r = app;
      onSwitched = pumpUntilClosed;
      // The proxy's end of the client's connection, to see when it holds bytes back.
      const accepted: net.Socket[] = [];
      const onSocket = (message: unknown): void => {
        accepted.push((message as { socket: net.Socket }).socket);
      };
      diagnostics.subscribe('net.server.socket', onSocket);
      try {
        const client = stopReading(app.port(), upgradeTo('/APIWS/events'));
        await until(() => client.received() > MiB, 5000, 'the first MiB');
        const proxied = accepted[accepted.length - 1];
        // Stalled: bytes held, and none taken since the last look, the kernel's buffers full.
        const taken = (): number => proxied.bytesWritten - proxied.writableLength;
        let seen = -1;
        const stalled = (): boolean => {
          const now = taken();
          const still = now === seen && proxied.writableLength > 0;
          seen = now;
          return still;
        };
        await until(stalled, 5000, 'bytes held for the client');
        const held = proxied.writableLength;
        void app.app.shutdownSteps.abortInFlight();
        const line = await sessionLine(app);
        // The bytes read to the end of the connection: what the kernel took before the cut.
        const read = (await client.end()) - Buffer.byteLength(SWITCHED);
        expect(line).toMatchObject({ end: 'shutdown', bytesReceived: 0 });
        // Before: the bytes the proxy still held for the client, dropped by the cut, counted
        // too (5,569,871 where the client read 5,556,594). Of the bytes held, a write the
        // kernel had taken part of when the cut came is left out whole.
        expect(line.bytesSent).toBeLessThanOrEqual(read);
        expect(read - (line.bytesSent as number)).toBeLessThanOrEqual(held);
      } finally {
        diagnostics.unsubscribe('net.server.socket', onSocket);
      }
    },
    HANG_GUARD_MS,
  );

  it(
    'says a client that took nothing for sendTimeoutSeconds was cut for it',
    async () => {
      const app = await startApp({
        forwardTo: url(),
        raw: { proxy: { accessLog: true, sendTimeoutSeconds: 0.5 } },
      });
      r = app;
      onSwitched = pumpUntilClosed;
      const client = stopReading(app.port(), upgradeTo('/APIWS/events'));
      const line = await sessionLine(app);
      expect(line).toMatchObject({ end: 'timeout', bytesReceived: 0 });
      expect(line.bytesSent).toBeGreaterThan(MiB);
      expect(await client.end()).toBeGreaterThan(MiB);
    },
    HANG_GUARD_MS,
  );
});
