/**
 * Vidispine misbehaving on the data path: forgetting every token mid-traffic, resetting
 * connections, answering slowly, closing pooled keep-alive connections early.
 */
import { createHash } from 'node:crypto';
import * as http from 'node:http';
import type { Socket } from 'node:net';
import { createSimulator } from '../../src/simulator';
import { call } from '../support/http';
import { startHarness, startApp, type RunningApp } from '../support/app';
import { until } from '../support/wait';
import { onLoopback, startRelay, type Relay } from '../support/net';
import { ok, startRawUpstream, type RawUpstream } from '../support/raw-upstream';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('Vidispine restarts and forgets every token mid-traffic', () => {
  let r: RunningApp;
  beforeAll(async () => {
    r = await startApp();
  });
  afterAll(() => r.close());

  it('hides every 401 behind a replay: downloads and uploads all succeed, bytes intact', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const failures: string[] = [];
    const completed = Array.from({ length: 8 }, () => 0);
    let running = true;
    const worker = async (i: number): Promise<void> => {
      const body = Buffer.alloc(10_000 + i * 997, i);
      while (running) {
        const upload = i % 2 === 0;
        const reply = upload
          ? await call(r.port(), { method: 'POST', path: '/API/import/raw', body, agent })
          : await call(r.port(), { path: '/API/storage/file/VX-1/data?size=65536', agent });
        completed[i] += 1;
        if (reply.status !== 200) failures.push(`${reply.status} ${reply.text}`);
        else if (upload && (JSON.parse(reply.text) as { sha256: string }).sha256 !== sha256(body))
          failures.push('upload checksum');
        else if (!upload && reply.body.length !== 65536) failures.push('short download');
      }
    };
    const workers = Array.from({ length: 8 }, (_, i) => worker(i));
    for (let i = 0; i < 10; i++) {
      // A restart strikes while every client has a request in flight...
      const seen = [...completed];
      r.sim.revokeAllTokens();
      // ...and the next one only after each client finished that request (replayed once
      // with a fresh token) and one more: a replay that is itself refused is passed on.
      await until(() => completed.every((n, w) => n >= seen[w] + 2), 10_000, 'every client served');
    }
    running = false;
    await Promise.all(workers);
    agent.destroy();
    const done = completed.reduce((a, n) => a + n, 0);
    expect(failures).toEqual([]);
    expect(done).toBeGreaterThan(50);
    expect(
      await r.metric('vidispine_auth_proxy_upstream_unauthorized_total', {
        user: 'alice',
        retried: 'true',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect((await r.ops('/readyz')).status).toBe(200);
  });
});

describe('Vidispine resets connections', () => {
  const DATA = '/API/storage/file/VX-1/data?size=200000';

  it('answers 502 for a request cut before the answer began, counted as a reset, and serves again', async () => {
    const app = await startAppBehindRelay();
    try {
      app.relay.limitAnswers({ bytes: 0, then: 'reset' });
      for (let i = 0; i < 5; i++) {
        const reply = await call(app.r.port(), { path: DATA });
        expect([reply.status, reply.text]).toEqual([502, 'Vidispine closed the connection\n']);
      }
      expect(
        await app.r.metric('vidispine_auth_proxy_upstream_errors_total', { reason: 'reset' }),
      ).toBe(5);
      await servesAgain(app);
    } finally {
      await app.r.close();
      await app.relay.close();
    }
  });

  it('cuts the client of a download cut mid-body, so it can never pass for a whole one, and serves again', async () => {
    const app = await startAppBehindRelay();
    try {
      for (let i = 0; i < 5; i++) {
        app.relay.limitAnswers({ bytes: 100_000, then: 'hold' });
        const download = await startDownload(app.r.port(), DATA);
        expect(download.status).toBe(200);
        // The answer has begun (its status is out): now Vidispine's connection breaks.
        app.relay.resetAll();
        const end = await download.end;
        expect(end.complete).toBe(false);
        expect(end.bytes).toBeLessThan(200_000);
      }
      await servesAgain(app);
    } finally {
      await app.r.close();
      await app.relay.close();
    }
  });

  /** A GET whose answer has begun: its status, and how its body ended. */
  function startDownload(
    port: number,
    path: string,
  ): Promise<{ status: number; end: Promise<{ complete: boolean; bytes: number }> }> {
    return new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        const end = new Promise<{ complete: boolean; bytes: number }>((done) =>
          res.once('close', () => done({ complete: res.complete, bytes })),
        );
        resolve({ status: res.statusCode ?? 0, end });
      });
      req.on('error', reject);
    });
  }

  /** The app reaches the simulator only through a relay that can reset its connections. */
  /** The relay passes answers whole again: a whole answer, and nothing left upstream. */
  async function servesAgain(app: { r: RunningApp; relay: Relay }): Promise<void> {
    app.relay.limitAnswers(undefined);
    const reply = await call(app.r.port(), { path: DATA });
    expect([reply.status, reply.body.length]).toEqual([200, 200_000]);
    await until(() => app.r.sim.inFlightRequests() === 0, 3000, 'no request left upstream');
  }

  async function startAppBehindRelay(): Promise<{ r: RunningApp; relay: Relay }> {
    const sim = createSimulator();
    await sim.listen(0, '127.0.0.1');
    const relay = await startRelay(Number(new URL(sim.url).port));
    const r = await startApp({ sim, vidispine: { url: relay.url } });
    return { r, relay };
  }
});

describe('Vidispine answers slowly', () => {
  it('answers 504 after upstreamTimeoutSeconds and leaves nothing open upstream', async () => {
    const r = await startApp({ vidispine: { upstreamTimeoutSeconds: 0.5 } });
    try {
      // Vidispine would answer after a minute: a 504 at all shows the timeout ended the wait.
      const reply = await call(r.port(), { path: '/API/slow?ms=60000' });
      expect(reply.status).toBe(504);
      expect(reply.text).toBe('Vidispine did not answer in time\n');
      await until(() => r.sim.inFlightRequests() === 0, 3000, 'upstream request closed');
      expect(
        await r.metric('vidispine_auth_proxy_upstream_errors_total', { reason: 'timeout' }),
      ).toBe(1);
      expect((await call(r.port(), { path: '/API/whoami' })).text).toBe('alice');
    } finally {
      await r.close();
    }
  });
});

/**
 * An upstream that drops a keep-alive connection when a second request arrives on it, as a
 * server does that closed an idle connection just as the proxy reused it.
 */
async function earlyClosingUpstream() {
  const seen: string[] = [];
  const perSocket = new WeakMap<object, number>();
  const server = http.createServer((req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    seen.push(`${req.method ?? ''} ${n}`);
    if (n > 1) {
      req.socket.destroy();
      return;
    }
    req.resume();
    req.on('end', () => res.end(`${req.method ?? ''} ok`));
  });
  return { ...(await onLoopback(server)), seen };
}

/**
 * A first request that leaves a kept-alive connection in the pool the next one will use:
 * requests without a body go through undici's pool, those with one through `node:http`'s.
 */
async function warmPool(port: number, withBody: boolean): Promise<void> {
  const warm = withBody ? { method: 'PUT', body: 'x' } : { method: 'GET' };
  expect((await call(port, { ...warm, path: '/API/whoami' })).status).toBe(200);
}

describe('Vidispine closes keep-alive connections early', () => {
  it.each(['GET', 'HEAD', 'PUT', 'DELETE'])(
    'retries an idempotent %s once on a fresh connection',
    async (method) => {
      const upstream = await earlyClosingUpstream();
      const h = await startHarness({ forwardTo: upstream.url });
      try {
        const body = method === 'PUT' ? 'x' : undefined;
        await warmPool(h.port, body !== undefined);
        const reply = await call(h.port, { method, path: '/API/item/VX-1', body });
        expect(reply.status).toBe(200);
        expect(upstream.seen).toEqual([
          `${body === undefined ? 'GET' : 'PUT'} 1`,
          `${method} 2`,
          `${method} 1`,
        ]);
        expect(h.observer.upstreamErrors).toEqual([]);
      } finally {
        await h.close();
        await upstream.close();
      }
    },
  );

  it.each([
    ['POST', 'payload'],
    ['PATCH', 'payload'],
    ['POST', undefined],
  ])('never sends a non-idempotent %s (body %p) twice: 502 instead', async (method, body) => {
    const upstream = await earlyClosingUpstream();
    const h = await startHarness({ forwardTo: upstream.url });
    try {
      await warmPool(h.port, body !== undefined);
      const reply = await call(h.port, { method, path: '/API/import/raw', body });
      expect(reply.status).toBe(502);
      expect(reply.text).toBe('Vidispine closed the connection\n');
      expect(upstream.seen).toEqual([`${body === undefined ? 'GET' : 'PUT'} 1`, `${method} 2`]);
      expect(h.observer.upstreamErrors).toEqual(['reset']);
    } finally {
      await h.close();
      await upstream.close();
    }
  });

  const POOLED = 6;

  it.each([
    ['GET', 'GET'],
    ['HEAD', 'GET'],
    ['OPTIONS', 'GET'],
    ['DELETE', 'GET'],
    ['PUT', 'PUT'],
  ])(
    'several pooled connections died together: each idempotent %s is retried on a new connection, never on another pooled one',
    async (method, warmedBy) => {
      const upstream = await forgetfulUpstream(POOLED);
      const h = await startHarness({ forwardTo: upstream.url });
      try {
        const body = warmedBy === 'PUT' ? 'x' : undefined;
        const warm = Array.from({ length: POOLED }, () =>
          call(h.port, { method: warmedBy, path: '/API/warm', body }),
        );
        expect((await Promise.all(warm)).map((r) => r.status)).toEqual(Array(POOLED).fill(200));
        const replies = [];
        for (let i = 0; i < 3; i++) {
          replies.push(await call(h.port, { method, path: `/API/item/VX-${i}`, body }));
        }
        expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
        for (let i = 0; i < 3; i++) {
          const attempts = upstream.requests.filter((r) => r.target === `/API/item/VX-${i}`);
          // At most one attempt on a pooled connection, and the last on a connection of its own.
          expect(attempts.length).toBeLessThanOrEqual(2);
          expect(attempts.at(-1)?.position).toBe(0);
        }
        expect(h.observer.upstreamErrors).toEqual([]);
      } finally {
        await h.close();
        await upstream.close();
      }
    },
  );

  it('a retry that fails on its new connection is not retried again: 502', async () => {
    const upstream = await startRawUpstream((request) =>
      request.target === '/API/warm' ? ok('warm') : 'close',
    );
    const h = await startHarness({ forwardTo: upstream.url });
    try {
      for (let i = 0; i < 2; i++) {
        expect((await call(h.port, { path: '/API/warm' })).status).toBe(200);
      }
      const reply = await call(h.port, { path: '/API/item/VX-1' });
      expect([reply.status, reply.text]).toEqual([502, 'Vidispine closed the connection\n']);
      const attempts = upstream.requests.filter((r) => r.target === '/API/item/VX-1');
      expect(attempts.map((r) => r.position)).toEqual([2, 0]);
      expect(h.observer.upstreamErrors).toEqual(['reset']);
    } finally {
      await h.close();
      await upstream.close();
    }
  });
});

/**
 * An upstream whose connections each serve one request, as if Vidispine had restarted (or a
 * NAT had forgotten them) while they sat idle in the proxy's pool. The first `warm` requests
 * are held until all of them arrived, so they open that many connections for the pool; any
 * later request on one of those is met by a closed connection.
 */
async function forgetfulUpstream(warm: number): Promise<RawUpstream> {
  const held: Socket[] = [];
  return startRawUpstream((request, socket) => {
    if (request.position > 0) return 'close';
    if (request.sequence >= warm) {
      return request.method === 'HEAD'
        ? 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'
        : ok('fresh');
    }
    held.push(socket);
    if (held.length < warm) return 'hang';
    for (const other of held.slice(0, -1)) other.write(ok('warm'));
    return ok('warm');
  });
}
