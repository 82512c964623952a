/**
 * An autoRefresh token's expiry as the proxy models it, with requests that overtake one
 * another: a slow request Vidispine took first may have pushed the expiry, so that a later
 * request that comes back first pushed nothing. Real sockets and the simulator; the simulator
 * and the token store share one manual clock.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { startApp, type RunningApp } from '../support/app';
import { ManualClock } from '../support/clock';
import { call, openUpload } from '../support/http';
import { ok, startRawUpstream } from '../support/raw-upstream';
import { until } from '../support/wait';

let r: RunningApp | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

it("never models an expiry later than Vidispine's when a request still in flight pushed it", async () => {
  const clock = new ManualClock(Date.now());
  // Vidispine's defaults: 60 s, pushed at most every 10 s.
  const app = await startApp({
    simulator: { now: clock.now },
    clock,
    raw: {
      users: [
        {
          name: 'alice',
          password: 'alice-password',
          listen: '127.0.0.1:0',
          token: { seconds: 60, autoRefresh: true },
        },
      ],
    },
  });
  r = app;
  const lease = app.app.store.current('alice');
  if (lease === undefined) throw new Error('no token for alice');
  const minted = app.sim.tokenInfo(lease.value)?.expiresAt ?? NaN;

  // 12 s on, a slow request: Vidispine takes the token at once and pushes (72 s) …
  await clock.advance(12_000);
  const agent = new http.Agent();
  const slow = http.get({ port: app.port(), path: '/API/slow?ms=600000', agent });
  slow.on('error', () => undefined);
  await until(() => app.sim.tokenInfo(lease.value)?.expiresAt !== minted, 10_000, 'the push');

  // … so a request 8 s later, answered while the slow one still runs, pushes nothing.
  await clock.advance(8_000);
  const quick = await call(app.port(), { path: '/API/whoami' });
  expect(quick.status).toBe(200);

  const server = app.sim.tokenInfo(lease.value)?.expiresAt ?? NaN;
  expect(server).toBe(minted + 12_000);
  const modelled = app.app.store.status()[0].expiresAt ?? NaN;
  // Before: 80 s after the mint (counted from the quick request), 8 s after the token died.
  expect(modelled).toBeLessThanOrEqual(server);
  slow.destroy();
  agent.destroy();
});

const AUTO_REFRESH = {
  name: 'alice',
  password: 'alice-password',
  listen: '127.0.0.1:0',
  token: { seconds: 60, autoRefresh: true },
};

const UPGRADE =
  'GET /APIWS/echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

it('counts a WebSocket upgrade Vidispine has not answered yet as in flight', async () => {
  // Tokens from the simulator; the upgrade waits at an upstream that never answers it.
  const upstream = await startRawUpstream((request) =>
    request.target.startsWith('/APIWS/') ? 'hang' : ok('alice'),
  );
  const client = new net.Socket();
  try {
    const clock = new ManualClock(Date.now());
    const app = await startApp({ clock, forwardTo: upstream.url, raw: { users: [AUTO_REFRESH] } });
    r = app;
    const mintedAt = (app.app.store.status()[0].expiresAt ?? NaN) - 60_000;
    await clock.advance(12_000);
    client.on('error', () => undefined);
    client.connect(app.port(), '127.0.0.1');
    client.write(UPGRADE);
    await upstream.received(1);
    await clock.advance(8_000);
    expect((await call(app.port(), { path: '/API/whoami' })).status).toBe(200);
    // Vidispine may have taken the upgrade at 12 s and pushed: 72 s. Before: 80 s.
    expect((app.app.store.status()[0].expiresAt ?? NaN) - mintedAt).toBe(72_000);
  } finally {
    client.destroy();
    await r?.close();
    r = undefined;
    await upstream.close();
  }
});

describe('an attempt that ends without its answer passed on', () => {
  /**
   * The modelled expiry, in seconds after the mint, when `attempt` ended 5 s after the mint
   * and a GET went 25 s later: that GET's push is certain and, with nothing else in flight,
   * counts from its own send (90 s).
   */
  async function expiryAfter(
    app: RunningApp,
    clock: ManualClock,
    attempt: () => Promise<void>,
  ): Promise<number> {
    const lease = app.app.store.current('alice');
    if (lease === undefined) throw new Error('no token for alice');
    const mintedAt = (app.app.store.status()[0].expiresAt ?? NaN) - 60_000;
    await clock.advance(5_000);
    await attempt();
    await clock.advance(25_000);
    expect((await call(app.port(), { path: '/API/whoami' })).status).toBe(200);
    expect(app.app.store.current('alice')?.value).toBe(lease.value);
    return ((app.app.store.status()[0].expiresAt ?? NaN) - mintedAt) / 1000;
  }

  it('an upload cut for a stalled body (408) is no longer in flight', async () => {
    const clock = new ManualClock(Date.now());
    const app = await startApp({
      clock,
      raw: { users: [AUTO_REFRESH], proxy: { clientBodyTimeoutSeconds: 1 } },
    });
    r = app;
    const seconds = await expiryAfter(app, clock, async () => {
      // Beyond the replay buffer: the head goes to Vidispine at once, the body as it comes.
      const upload = openUpload(app.port(), 4 * 1024 * 1024);
      upload.req.write(Buffer.alloc(64 * 1024));
      expect((await upload.reply).status).toBe(408);
      upload.req.destroy();
    });
    // Before: 80 s, counted from 10 s before the GET, as if the upload were still in flight.
    expect(seconds).toBe(90);
  });

  it('a WebSocket upgrade switched to another protocol is no longer in flight', async () => {
    const upstream = await startRawUpstream((request) =>
      request.target.startsWith('/APIWS/')
        ? 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n'
        : ok('alice'),
    );
    try {
      const clock = new ManualClock(Date.now());
      const app = await startApp({
        clock,
        forwardTo: upstream.url,
        raw: { users: [AUTO_REFRESH] },
      });
      r = app;
      const seconds = await expiryAfter(app, clock, async () => {
        const refused = await new Promise<string>((resolve) => {
          const client = net.connect(app.port(), '127.0.0.1');
          client.on('error', () => resolve(''));
          let text = '';
          client.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
          client.on('close', () => resolve(text));
          client.write(UPGRADE);
        });
        expect(refused).toMatch(/^HTTP\/1\.1 502 /);
      });
      // Before: 80 s, the refused switch still counted in flight.
      expect(seconds).toBe(90);
    } finally {
      await r?.close();
      r = undefined;
      await upstream.close();
    }
  });

  it('an upload sent again after a hop refused its Expect (417) is no longer in flight', async () => {
    const refusing = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    refusing.on('checkContinue', (_req, res) => {
      res.writeHead(417, { 'content-length': 0 });
      res.end();
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    const { port } = refusing.address() as { port: number };
    try {
      const clock = new ManualClock(Date.now());
      const app = await startApp({
        clock,
        forwardTo: `http://127.0.0.1:${port}`,
        raw: { users: [AUTO_REFRESH] },
      });
      r = app;
      const seconds = await expiryAfter(app, clock, async () => {
        const body = Buffer.alloc(2 * 1024 * 1024, 1);
        const reply = await call(app.port(), { method: 'PUT', path: '/API/import/raw', body });
        expect(reply.status).toBe(200);
      });
      // Before: 80 s, the first attempt, answered 417, still counted in flight.
      expect(seconds).toBe(90);
    } finally {
      await r?.close();
      r = undefined;
      await new Promise((resolve) => refusing.close(resolve));
    }
  });
});
