/**
 * The lingering close: an answer that closes its connection while the request's body is still
 * coming is followed by a half-close, and what the client still sends is read and dropped
 * until it closes or a bound is reached, so a client that writes before it reads finds the
 * answer instead of a reset.
 */
import * as diagnostics from 'node:diagnostics_channel';
import * as http from 'node:http';
import * as net from 'node:net';
import {
  LingeringClose,
  lingerEnd,
  lingerTickMs,
  LINGER,
  type LingerBounds,
} from '../../src/proxy/lingering';
import { startHarness } from '../support/app';
import { behindRawUpstream } from '../support/behind-raw-upstream';
import { endHandedOver } from '../../src/proxy/handed-over';
import { until } from '../support/wait';

/**
 * A client that writes `head` and reads nothing until `resume`; `halfOpen`: one that does not
 * close its side when the server closes its own.
 */
/** The head of a PUT of `length` bytes, refused (417) before its body is read. */
const refusedPut = (length: number): string =>
  `PUT /API/item HTTP/1.1\r\nHost: x\r\nExpect: nonsense\r\nContent-Length: ${length}\r\n\r\n`;

/** A WebSocket upgrade, whole. */
const UPGRADE =
  'GET /APIWS/updates HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n' +
  'Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

function pausedClient(port: number, head: string, halfOpen = false) {
  const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: halfOpen });
  client.pause();
  const received: Buffer[] = [];
  let failed: Error | undefined;
  client.on('error', (err) => (failed = err));
  client.on('data', (chunk: Buffer) => received.push(chunk));
  const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
  client.write(head);
  return {
    client,
    /** Writes `bytes`; resolves once they went out, or the write failed. */
    write: (bytes: Buffer | string): Promise<void> =>
      new Promise((resolve) => {
        if (!client.writable) resolve();
        else client.write(bytes, () => resolve());
      }),
    error: () => failed,
    text: () => Buffer.concat(received).toString('latin1'),
    /** Reads what came, and closes once the server has closed its side. */
    readAll: () => {
      client.resume();
      return closed;
    },
    closed,
  };
}

describe('a refusal that closes the connection while the body is still coming', () => {
  const b = behindRawUpstream();

  it('is read by a client that went on writing; what it sent after, a pipelined request too, never reaches Vidispine', async () => {
    const { h, upstream } = b;
    const c = pausedClient(h.port, refusedPut(20000) + 'a'.repeat(1000));
    await until(() => h.observer.finished.some((f) => f.status === 417));
    // Before: the connection was closed at once; these drew a reset, and the answer was lost.
    for (let i = 0; i < 19; i += 1) await c.write('b'.repeat(1000));
    await c.write('GET /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n');
    c.client.end();
    await c.readAll();
    expect(c.error()).toBeUndefined();
    expect(c.text()).toMatch(/^HTTP\/1\.1 417 Expectation Failed\r\n/);
    expect(c.text()).toMatch(/\r\nConnection: close\r\n/);
    expect(c.text().match(/HTTP\/1\.1 /g)).toHaveLength(1);
    expect(upstream.heads).toEqual([]);
    await until(b.settled);
  });
});

describe('a drain beside a lingering close', () => {
  const b = behindRawUpstream();

  it('ends once nothing is in flight, not when a client that keeps sending lets go', async () => {
    const { h } = b;
    const c = pausedClient(h.port, refusedPut(9000000));
    await until(() => h.observer.finished.some((f) => f.status === 417));
    let closed = false;
    const drained = h.listeners[0].close().then(() => (closed = true));
    // Before: the drain waited for this client's lingering close, which its steady bytes
    // kept alive to the 30 s bound (so every shutdown beside it ran out its window).
    for (let i = 0; i < 100 && !closed; i += 1) {
      await c.write('b'.repeat(100));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(closed).toBe(true);
    await drained;
    await c.readAll();
    expect(c.text()).toMatch(/^HTTP\/1\.1 417 Expectation Failed\r\n/);
  });
});

describe('requests pipelined during a lingering close', () => {
  const b = behindRawUpstream();

  it('are dropped as bytes, never parsed into requests Node keeps until the connection closes', async () => {
    const { h } = b;
    // Each request Node parses on the connection, served or not.
    const parsed: number[] = [];
    const onStart = (message: unknown): void => {
      parsed.push((message as { socket: net.Socket }).socket.remotePort ?? 0);
    };
    diagnostics.subscribe('http.server.request.start', onStart);
    try {
      const c = pausedClient(h.port, refusedPut(10), true);
      await until(() => h.observer.finished.some((f) => f.status === 417));
      const port = c.client.localPort;
      await c.write('0123456789');
      // Before: each became a request and its answer, held unanswered until the connection
      // closed: 500,000 of them (18 MB sent) took 660 MB of heap.
      await c.write('GET /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(2000));
      c.client.end();
      await c.readAll();
      expect(c.error()).toBeUndefined();
      expect(c.text().match(/HTTP\/1\.1 /g)).toHaveLength(1);
      expect(parsed.filter((p) => p === port)).toHaveLength(1);
    } finally {
      diagnostics.unsubscribe('http.server.request.start', onStart);
    }
  });
});

describe('a refusal given once Node had paused the connection for the body nobody read', () => {
  const b = behindRawUpstream();

  it('goes on reading it, so the client that sent it all reads the answer and closes', async () => {
    const { h } = b;
    const c = net.connect(h.port, '127.0.0.1');
    let failed: Error | undefined;
    let text = '';
    c.on('error', (err) => (failed = err));
    c.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    const closed = new Promise<void>((resolve) => c.on('close', () => resolve()));
    const size = 16 * 1024 * 1024;
    // More than the socket buffers hold, sent with the head: Node stops reading the
    // connection before the refusal goes. Before, it never read again: the client's write
    // stalled until the idle bound reset the connection (EPIPE), though it read the answer.
    c.write(refusedPut(size));
    c.end(Buffer.alloc(size, 0x78));
    await closed;
    expect(failed).toBeUndefined();
    expect(text).toMatch(/^HTTP\/1\.1 417 Expectation Failed\r\n/);
    await until(b.settled);
  });
});

describe('a WebSocket upgrade sent after a refused body', () => {
  const b = behindRawUpstream();

  it('is never forwarded, and its connection still closes', async () => {
    const { h, upstream } = b;
    const c = pausedClient(h.port, refusedPut(10));
    await until(() => h.observer.finished.some((f) => f.status === 417));
    await c.write(`0123456789${UPGRADE}`);
    // Dropped as bytes, as everything read in the lingering close: not even parsed.
    c.client.end();
    await c.readAll();
    expect(c.error()).toBeUndefined();
    expect(c.text().match(/HTTP\/1\.1 /g)).toHaveLength(1);
    await until(b.settled);
    expect(h.observer.started).toBe(1);
    expect(h.observer.finished.map((f) => f.method)).toEqual(['PUT']);
    expect(upstream.heads).toEqual([]);
  });
});

describe('a WebSocket upgrade pipelined in the same write as a refused body', () => {
  const b = behindRawUpstream();

  it('is never forwarded either, nor counted, as a plain request there is not', async () => {
    const { h, upstream } = b;
    const c = pausedClient(h.port, refusedPut(10) + `0123456789${UPGRADE}`);
    await c.readAll();
    await until(b.settled);
    expect(c.error()).toBeUndefined();
    expect(c.text().match(/HTTP\/1\.1 /g)).toHaveLength(1);
    // Before: it reached Vidispine, though the answer before it closed the connection.
    expect(upstream.heads).toEqual([]);
    // Read behind that answer: never processed, so not counted (it was, as a 499).
    expect(h.observer.started).toBe(1);
    expect(h.observer.finished.map((f) => f.method)).toEqual(['PUT']);
  });
});

describe("Node's parser refusing a request the client is still sending", () => {
  const b = behindRawUpstream();

  it('431 for a head over 16 KiB: read by a client that went on writing it', async () => {
    const { h, upstream } = b;
    const c = pausedClient(
      h.port,
      `PUT /API/item HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}`,
    );
    await until(() => h.observer.finished.some((f) => f.status === 431));
    // Before: these drew a reset, and the answer was lost.
    for (let i = 0; i < 5; i += 1) await c.write('a'.repeat(1000));
    await c.write('\r\nContent-Length: 5\r\n\r\nhello');
    c.client.end();
    await c.readAll();
    expect(c.error()).toBeUndefined();
    expect(c.text()).toBe(
      'HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\n',
    );
    // Node calls again for each chunk read after the refusal: counted once all the same.
    expect(h.observer.finished.map((f) => f.status)).toEqual([431]);
    expect(upstream.heads).toEqual([]);
  });
});

describe('an upstream failure answered while the body is still coming', () => {
  it('is read by a client that went on writing, and a request it pipelined after is not served', async () => {
    // Nothing listens on port 1: the attempt fails before the body goes, 502 and `close`.
    const h = await startHarness({ forwardTo: 'http://127.0.0.1:1' });
    try {
      const size = 4 * 1024 * 1024;
      const c = pausedClient(
        h.port,
        `PUT /API/item HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`,
      );
      await until(() => h.observer.finished.some((f) => f.status === 502));
      await c.write(Buffer.alloc(size, 0xa5));
      await c.write('GET /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n');
      c.client.end();
      await c.readAll();
      expect(c.error()).toBeUndefined();
      expect(c.text()).toMatch(/^HTTP\/1\.1 502 Bad Gateway\r\n/);
      expect(c.text().match(/HTTP\/1\.1 /g)).toHaveLength(1);
      await until(() => h.listeners[0].inFlight() === 0);
      expect(h.observer.finished.map((f) => f.method)).toEqual(['PUT']);
    } finally {
      await h.close();
    }
  });
});

describe('a handed-over connection refused (CONNECT, WebSocket upgrade)', () => {
  it('is closed once its client, keeping it open, sent nothing for the wait for a read', async () => {
    const bounds = { totalMs: 3_600_000, idleMs: 50, bytes: 1e9 };
    let closed: Promise<void> | undefined;
    const server = net.createServer((socket) => {
      closed = new Promise((resolve) => socket.once('close', () => resolve()));
      endHandedOver(socket, 'HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\n\r\n', bounds);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const c = pausedClient(
      (server.address() as net.AddressInfo).port,
      'CONNECT x:443 HTTP/1.1\r\n\r\n',
      true,
    );
    try {
      await until(() => closed !== undefined);
      // Before: read and dropped without a bound, held until the listener closed.
      await closed;
      c.client.resume();
      expect(c.error()).toBeUndefined();
    } finally {
      c.client.destroy();
      server.close();
    }
  });
});

describe('LingeringClose', () => {
  const HOUR = 3_600_000;
  let server: http.Server | undefined;
  let lingering: LingeringClose;
  const closing: net.Socket[] = [];

  /** A server that answers 413 and `close` at once, its body unread. */
  async function refusing(bounds: LingerBounds): Promise<number> {
    lingering = new LingeringClose((socket) => closing.push(socket), bounds);
    server = http.createServer((req, res) => {
      lingering.received(req);
      res.writeHead(413, { Connection: 'close', 'Content-Length': '0' });
      res.end();
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return (server.address() as net.AddressInfo).port;
  }
  const upload = 'PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nabc';
  /** The server has answered, and lingers. */
  const lingers = (): Promise<void> => until(() => lingering.count() === 1);

  afterEach(async () => {
    lingering.cutAll();
    closing.length = 0;
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('half-closes after the answer and closes once the client does, which then saw no reset', async () => {
    const c = pausedClient(await refusing({ totalMs: HOUR, idleMs: HOUR, bytes: 1e9 }), upload);
    await lingers();
    expect(closing).toHaveLength(1);
    await c.write('more');
    await c.readAll();
    await until(() => lingering.count() === 0);
    expect(c.error()).toBeUndefined();
    expect(c.text()).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
  });

  it('closes when the client sends nothing for the idle bound', async () => {
    const c = pausedClient(await refusing({ totalMs: HOUR, idleMs: 50, bytes: 1e9 }), upload);
    await lingers();
    await until(() => lingering.count() === 0);
    c.client.destroy();
  });

  it('closes at the total bound, however steadily the client sends', async () => {
    const c = pausedClient(await refusing({ totalMs: 200, idleMs: HOUR, bytes: 1e9 }), upload);
    await lingers();
    const writer = setInterval(() => void c.write('x'.repeat(100)), 5);
    await until(() => lingering.count() === 0);
    clearInterval(writer);
    c.client.destroy();
  });

  it('closes once more than its bytes were dropped', async () => {
    const c = pausedClient(await refusing({ totalMs: HOUR, idleMs: HOUR, bytes: 10_000 }), upload);
    await lingers();
    await c.write('x'.repeat(5000));
    expect(lingering.count()).toBe(1);
    await c.write('x'.repeat(6000));
    await until(() => lingering.count() === 0);
    c.client.destroy();
  });

  it('closes at once the connection of a request without a body', async () => {
    const port = await refusing({ totalMs: HOUR, idleMs: HOUR, bytes: 1e9 });
    const c = pausedClient(port, 'GET /x HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.readAll();
    expect(c.text()).toMatch(/^HTTP\/1\.1 413 /);
    expect(closing).toEqual([]);
  });

  it('ends at the first bound reached: bytes dropped, the whole time, the wait for a read', () => {
    const at = { startedAt: 0, lastReadAt: 0, read: 0 };
    expect(lingerEnd(at, 4999, LINGER)).toBeUndefined();
    expect(lingerEnd(at, 5000, LINGER)).toBe('idle');
    expect(lingerEnd({ ...at, lastReadAt: 25_000 }, 29_999, LINGER)).toBeUndefined();
    expect(lingerEnd({ ...at, lastReadAt: 25_000 }, 30_000, LINGER)).toBe('total');
    expect(lingerEnd({ ...at, read: LINGER.bytes }, 1, LINGER)).toBeUndefined();
    expect(lingerEnd({ ...at, read: LINGER.bytes + 1 }, 1, LINGER)).toBe('bytes');
    expect(lingerTickMs(LINGER)).toBe(1000);
    expect(lingerTickMs({ ...LINGER, idleMs: 50 })).toBe(10);
  });
});
