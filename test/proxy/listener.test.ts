import * as http from 'node:http';
import * as net from 'node:net';
import pino from 'pino';
import { createDataListeners } from '../../src/proxy/listener';
import { call } from '../support/http';
import { until } from '../support/wait';
import { startHarness } from '../support/app';

it('opens one listener per configured user and reports its address', async () => {
  const h = await startHarness({
    users: [{ name: 'alice' }, { name: 'bob' }, { name: 'admin', listen: undefined }],
  });
  try {
    expect(h.listeners.map((l) => l.user)).toEqual(['alice', 'bob']);
    expect(h.listeners[0].address()).toMatchObject({ address: '127.0.0.1' });
    expect(h.portOf('alice')).not.toBe(h.portOf('bob'));
  } finally {
    await h.close();
  }
});

it('drains in-flight requests on close and then refuses new connections', async () => {
  const h = await startHarness();
  const listener = h.listeners[0];
  const slow = call(h.port, { path: '/API/slow?ms=300' });
  await until(() => listener.inFlight() === 1);
  await listener.close();
  expect((await slow).status).toBe(200);
  expect(listener.inFlight()).toBe(0);
  expect(listener.address()).toBeNull();
  await expect(call(h.port, { path: '/API/whoami' })).rejects.toThrow(/ECONNREFUSED/);
  await h.close();
});

it('close has no deadline of its own; destroy cuts what is in flight and ends the close', async () => {
  const h = await startHarness();
  const listener = h.listeners[0];
  const slow = new Promise<string>((resolve) => {
    http
      .get({ host: '127.0.0.1', port: h.port, path: '/API/slow?ms=20000', agent: false }, (res) =>
        resolve(String(res.statusCode)),
      )
      .on('error', (err) => resolve(err.message));
  });
  await until(() => h.sim.inFlightRequests() === 1);
  let closed = false;
  const closing = listener.close().then(() => (closed = true));
  await expect(call(h.port, { path: '/API/whoami' })).rejects.toThrow(/ECONNREFUSED/);
  expect(closed).toBe(false);
  expect(listener.inFlight()).toBe(1);
  await listener.destroy();
  await closing;
  expect(await slow).toMatch(/socket hang up|ECONNRESET/);
  await until(() => h.sim.inFlightRequests() === 0);
  await h.close();
});

it('close ends a refused CONNECT whose client keeps its side open', async () => {
  const h = await startHarness();
  const listener = h.listeners[0];
  const client = net.connect({ port: h.port, host: '127.0.0.1', allowHalfOpen: true });
  client.on('error', () => undefined);
  const refused = new Promise<string>((resolve) =>
    client.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1').split('\r\n')[0])),
  );
  client.write('CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n');
  expect(await refused).toBe('HTTP/1.1 405 Method Not Allowed');
  // The client neither closes nor sends: the listener's close must not wait for it.
  await listener.close();
  client.destroy();
  await h.close();
});

it('names the listener and the address when the port is taken, keeping the code', async () => {
  const h = await startHarness();
  const [twin] = createDataListeners({
    config: {
      ...h.config,
      users: [{ ...h.config.users[0], listen: { host: '127.0.0.1', port: h.port } }],
    },
    store: h.store,
    logger: pino({ level: 'silent' }),
  });
  try {
    await expect(twin.listen()).rejects.toMatchObject({
      code: 'EADDRINUSE',
      message: expect.stringContaining(
        `the data listener of alice: cannot listen on 127.0.0.1:${h.port}: the address is already in use (EADDRINUSE)`,
      ) as unknown,
    });
  } finally {
    await twin.destroy();
    await h.close();
  }
});

describe('idle keep-alive connections', () => {
  /** One GET on a socket of its own; resolves with the answer's head once it is read. */
  function getOn(socket: net.Socket): Promise<string> {
    return new Promise((resolve) => {
      let text = '';
      const onData = (c: Buffer): void => {
        text += c.toString('latin1');
        if (text.endsWith('alice')) {
          socket.off('data', onData);
          resolve(text);
        }
      };
      socket.on('data', onData);
      socket.write('GET /API/whoami HTTP/1.1\r\nHost: proxy\r\n\r\n');
    });
  }

  it('are kept 75 s by default, as announced, far past Node’s own 5 s', async () => {
    const h = await startHarness();
    const socket = net.connect(h.port, '127.0.0.1');
    try {
      expect(await getOn(socket)).toMatch(/\r\nKeep-Alive: timeout=75\r\n/i);
    } finally {
      socket.destroy();
      await h.close();
    }
  });

  it('are closed once idle for keepAliveTimeoutSeconds, and not before', async () => {
    const h = await startHarness({ proxy: { keepAliveTimeoutSeconds: 1 } });
    const socket = net.connect(h.port, '127.0.0.1');
    try {
      const closed = new Promise<number>((resolve) =>
        socket.on('close', () => resolve(Date.now())),
      );
      expect(await getOn(socket)).toMatch(/\r\nKeep-Alive: timeout=1\r\n/i);
      const idleFrom = Date.now();
      // Still open just inside the timeout: a second request on it is served.
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await getOn(socket)).toMatch(/^HTTP\/1\.1 200/);
      const secondAnswered = Date.now();
      expect(secondAnswered - idleFrom).toBeGreaterThanOrEqual(500);
      expect((await closed) - secondAnswered).toBeGreaterThanOrEqual(900);
    } finally {
      socket.destroy();
      await h.close();
    }
  });
});
