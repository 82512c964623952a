/**
 * Clients that go away, read slowly or come in thousands, against the whole app and the
 * real simulator.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { call } from '../support/proxy-harness';
import { samples } from '../support/prom-parse';
import { abortedDownload, abortedUpload, MiB, settledMemory } from '../support/reliability-clients';
import { startApp, until, type RunningApp } from '../support/reliability-app';

describe('clients that go away', () => {
  let r: RunningApp;
  beforeAll(async () => {
    r = await startApp({ vidispine: { maxSockets: 32 } });
  });
  afterAll(() => r.close());

  it('1,000 aborted uploads and downloads leave no upstream request, no extra socket, no memory', async () => {
    // Warm up every code path once so the baseline holds what a serving proxy holds.
    await Promise.all([abortedUpload(r.port(), true), abortedDownload(r.port())]);
    await until(() => r.sim.inFlightRequests() === 0, 5000, 'warm-up settled');
    const baseline = settledMemory();
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          i % 2 === 0 ? abortedDownload(r.port()) : abortedUpload(r.port(), i % 4 === 1),
        ),
      );
    }
    await until(
      () => r.sim.inFlightRequests() === 0 && r.app.listeners[0].inFlight() === 0,
      10_000,
      'no request in flight',
    );
    expect(r.sim.openConnections()).toBeLessThanOrEqual(32);
    expect(await r.metric('vidispine_auth_proxy_requests_in_flight')).toBe(0);
    const counted = samples(await r.metrics(), 'vidispine_auth_proxy_requests_total', {
      user: 'alice',
    }).reduce((sum, s) => sum + s.value, 0);
    expect(counted).toBeGreaterThanOrEqual(1002);
    expect(settledMemory() - baseline).toBeLessThan(16 * MiB);
    expect((await call(r.port(), { path: '/API/whoami' })).text).toBe('alice');
  }, 30_000);
});

describe('a client that reads slowly', () => {
  it('holds the download back (backpressure) instead of buffering it', async () => {
    const r = await startApp();
    try {
      const baseline = settledMemory();
      let received = 0;
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = http.get(
          {
            host: '127.0.0.1',
            port: r.port(),
            path: `/API/storage/file/VX-1/data?size=${1024 * MiB}`,
            agent: false,
          },
          resolve,
        );
        req.on('error', reject);
      });
      res.on('data', (c: Buffer) => (received += c.length));
      // Read a little, then nothing for a while: a proxy without backpressure would now
      // hold hundreds of MiB.
      await until(() => received > 4 * MiB, 5000, 'first bytes');
      res.pause();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const held = settledMemory() - baseline;
      expect(held).toBeLessThan(48 * MiB);
      // Trickle on, then give up: nothing stays open upstream.
      res.resume();
      await until(() => received > 64 * MiB, 10_000, 'more bytes');
      res.destroy();
      await until(() => r.sim.inFlightRequests() === 0, 5000, 'upstream closed');
      expect(received).toBeLessThan(1024 * MiB);
    } finally {
      await r.close();
    }
  });
});

describe('5,000 concurrent connections', () => {
  it('are all open at once and all served', async () => {
    const r = await startApp();
    const sockets: net.Socket[] = [];
    try {
      // One after another: thousands of SYNs at once overflow the accept queue while this
      // same process is busy, and the kernel retries them only after a second.
      for (let i = 0; i < 5000; i++) {
        await new Promise<void>((resolve, reject) => {
          const s = net.connect(r.port(), '127.0.0.1', resolve);
          s.once('error', reject);
          sockets.push(s);
        });
      }
      const answers = await Promise.all(
        sockets.map(
          (s) =>
            new Promise<string>((resolve) => {
              let text = '';
              s.on('data', (c: Buffer) => {
                text += c.toString('latin1');
                if (text.endsWith('\r\n\r\nalice')) resolve(text.slice(0, 12));
              });
              s.once('close', () => resolve(text.slice(0, 12) || 'closed'));
              s.write('GET /API/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
            }),
        ),
      );
      const counts: Record<string, number> = {};
      for (const a of answers) counts[a] = (counts[a] ?? 0) + 1;
      expect(counts).toEqual({ 'HTTP/1.1 200': 5000 });
      // Vidispine sees the keep-alive pool (256) and the minter's connection, not the clients.
      expect(r.sim.openConnections()).toBeLessThanOrEqual(256 + 1);
    } finally {
      for (const s of sockets) s.destroy();
      await r.close();
    }
  }, 30_000);
});

describe('slowloris: a client that never finishes its headers', () => {
  it('still gets a timely answer on other connections, and a data listener has a header timeout', async () => {
    const r = await startApp();
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < 200; i++) {
        const s = net.connect(r.port(), '127.0.0.1');
        s.on('error', () => undefined);
        s.write('GET /API/whoami HTTP/1.1\r\nHost: x\r\nX-Slow: ');
        sockets.push(s);
      }
      const started = Date.now();
      expect((await call(r.port(), { path: '/API/whoami' })).status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(r.sim.calls({ endpoint: 'api' })).toBe(1);
    } finally {
      for (const s of sockets) s.destroy();
      await r.close();
    }
  });
});
