import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { patternBytes, patternChunks } from '../../src/simulator/pattern';
import { call, openUpload, uploadPattern, type Reply } from '../support/http';
import { startApp, startHarness, type Harness } from '../support/app';
import { ManualClock } from '../support/clock';
import { HANG_GUARD_MS, until } from '../support/wait';

const MiB = 1024 * 1024;

function sha256(chunks: Iterable<Buffer>): string {
  const hash = createHash('sha256');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

describe('Vidispine forgets every token mid-traffic', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('shows clients no 401: GETs, small POSTs and a 64 MiB upload all succeed', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const small = patternBytes(3, 200_000);
    const smallSha = sha256([small]);
    const statuses = new Map<number, number>();
    const count = (reply: Reply): void => {
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
    };
    let running = true;
    const loop = async (kind: 'get' | 'post'): Promise<void> => {
      while (running) {
        const reply =
          kind === 'get'
            ? await call(h.port, { path: '/API/whoami', agent })
            : await call(h.port, { method: 'POST', path: '/API/import/raw', agent, body: small });
        count(reply);
        if (kind === 'post' && reply.status === 200) {
          expect(JSON.parse(reply.text)).toMatchObject({ sha256: smallSha });
        }
      }
    };
    const loops = [
      ...Array.from({ length: 6 }, () => loop('get')),
      ...Array.from({ length: 2 }, () => loop('post')),
    ];
    await call(h.port, { path: '/API/whoami', agent });
    const apiCallsBefore = h.sim.calls({ endpoint: 'api' });

    h.sim.revokeAllTokens();
    const big = await uploadPattern(h.port, 64 * MiB);
    h.sim.revokeAllTokens();
    const bigWithExpect = await uploadPattern(h.port, 64 * MiB, {
      headers: { expect: '100-continue' },
    });
    running = false;
    await Promise.all(loops);
    agent.destroy();

    expect(big.status).toBe(200);
    expect(JSON.parse(big.text)).toMatchObject({
      bytes: 64 * MiB,
      sha256: sha256(patternChunks(0, 64 * MiB)),
    });
    expect(bigWithExpect.status).toBe(200);
    expect(JSON.parse(bigWithExpect.text)).toMatchObject({ bytes: 64 * MiB });
    expect([...statuses.keys()]).toEqual([200]);
    expect(h.sim.calls({ endpoint: 'api' })).toBeGreaterThan(apiCallsBefore);
    expect(h.observer.unauthorized.length).toBeGreaterThan(0);
    expect(h.observer.unauthorized.every((u) => u.retried)).toBe(true);
  }, 60_000);

  it.each([
    ['a 64 MiB upload held back until 100 Continue', 64 * MiB, {}],
    ['a 64 MiB upload whose client waits for 100 Continue', 64 * MiB, { expect: '100-continue' }],
    ['a small buffered body', 100_000, {}],
  ])('replays %s once with a fresh token', async (_name, size, headers) => {
    await call(h.port, { path: '/API/whoami' });
    const mints = h.sim.calls({ endpoint: 'token' });
    const replays = h.observer.unauthorized.length;
    h.sim.revokeAllTokens();
    const reply = await uploadPattern(h.port, size, { headers });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.text)).toMatchObject({
      bytes: size,
      sha256: sha256(patternChunks(0, size)),
    });
    expect(h.observer.unauthorized.slice(replays)).toEqual([{ user: 'alice', retried: true }]);
    expect(h.sim.calls({ endpoint: 'token' })).toBeGreaterThan(mints);
  });
});

describe('a HEAD request meeting a 401', () => {
  it('gets the replayed answer, status and headers, when the token was dead', async () => {
    const h = await startHarness();
    try {
      const path = '/API/item/VX-999/metadata';
      const before = await call(h.port, { method: 'HEAD', path });
      expect(before.status).toBe(404);
      h.sim.revokeAllTokens();
      const reply = await call(h.port, { method: 'HEAD', path });
      expect(reply.status).toBe(404);
      expect(reply.headers['content-type']).toBe(before.headers['content-type']);
      expect(reply.headers['content-length']).toBe(before.headers['content-length']);
      expect(h.observer.unauthorized).toEqual([{ user: 'alice', retried: true }]);
      expect(h.observer.upstreamErrors).toEqual([]);
      await until(() => h.observer.finished.length === 2);
      expect(h.observer.finished.map((f) => f.status)).toEqual([404, 404]);
    } finally {
      await h.close();
    }
  });

  it('gets its own 401 when the token still works (a refused RunAs)', async () => {
    const h = await startHarness({
      simulator: { refusedRunAsStatus: 401 },
      users: [{ name: 'alice', allowRunAs: true }],
    });
    try {
      const headers = { runas: 'admin' };
      const get = await call(h.port, { path: '/API/whoami', headers });
      expect(get.status).toBe(401);
      const reply = await call(h.port, { method: 'HEAD', path: '/API/whoami', headers });
      expect(reply.status).toBe(401);
      expect(reply.headers['content-type']).toBe(get.headers['content-type']);
      expect(reply.headers['www-authenticate']).toBeUndefined();
      expect(h.observer.unauthorized).toEqual([
        { user: 'alice', retried: false },
        { user: 'alice', retried: false },
      ]);
      expect(h.observer.upstreamErrors).toEqual([]);
      await until(() => h.observer.finished.length === 2);
      expect(h.observer.finished.map((f) => f.status)).toEqual([401, 401]);
    } finally {
      await h.close();
    }
  });
});

describe('a held body that arrives slowly', () => {
  it('goes upstream with the token held once it is complete, not the one it began under', async () => {
    const h = await startHarness();
    try {
      await call(h.port, { path: '/API/whoami' });
      const body = patternBytes(0, 64);
      const upload = openUpload(h.port, body.length);
      upload.req.write(body.subarray(0, 10));
      // The head has been read (the exchange began, with the token of that moment) before
      // that token dies and is replaced, then the body ends.
      await until(() => h.observer.started === 2);
      h.sim.revokeAllTokens();
      expect((await call(h.port, { path: '/API/whoami' })).text).toBe('alice');
      upload.req.end(body.subarray(10));
      expect((await upload.reply).status).toBe(200);
      // Only the GET met the dead token; the upload went out once, with the new one.
      expect(h.observer.unauthorized).toEqual([{ user: 'alice', retried: true }]);
    } finally {
      await h.close();
    }
  });
});

describe('a large upload waiting for a connection to Vidispine', () => {
  it('asks for 100 Continue once its head goes out, so a 401 meets it before its body', async () => {
    // One connection for bodies: the second upload waits for the first, longer than
    // expectContinueTimeoutMs, before its head can go out.
    const h = await startHarness({
      vidispine: { maxSockets: 1 },
      proxy: { expectContinueTimeoutMs: 50 },
    });
    try {
      await call(h.port, { path: '/API/whoami' });
      const apiCalls = h.sim.calls({ endpoint: 'api' });
      const size = 2 * MiB;
      const first = openUpload(h.port, size);
      first.req.write(Buffer.alloc(size / 2, 1));
      // The first upload holds the connection; then its token dies.
      await until(() => h.sim.calls({ endpoint: 'api' }) > apiCalls);
      h.sim.revokeAllTokens();
      const second = uploadPattern(h.port, size);
      await until(() => h.observer.started === 3);
      // The wait under test: longer than expectContinueTimeoutMs.
      await new Promise((resolve) => setTimeout(resolve, 300));
      first.req.end(Buffer.alloc(size / 2, 1));
      expect((await first.reply).status).toBe(200);
      expect((await second).status).toBe(200);
      expect(h.observer.unauthorized).toEqual([{ user: 'alice', retried: true }]);
    } finally {
      await h.close();
    }
  });
});

describe('a GET waiting for a pooled connection while its tokens lapse', () => {
  /** A slow GET from its own client, holding a pooled connection until released. */
  function holdConnection(port: number): () => void {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.write('GET /API/slow?ms=600000 HTTP/1.1\r\nHost: x\r\n\r\n');
    return () => socket.destroy();
  }

  it('is never answered 401: a token that lapsed while it queued is replaced, however often', async () => {
    // One clock for Vidispine's token lifetimes and the proxy's renewals.
    const clock = new ManualClock();
    const r = await startApp({
      simulator: { now: clock.now },
      clock,
      vidispine: { maxSockets: 2 },
    });
    const tokenOtherThan = async (previous: string | undefined): Promise<string> => {
      await until(() => {
        const value = r.app.store.current('alice')?.value;
        return value !== undefined && value !== previous;
      });
      return r.app.store.current('alice')?.value ?? '';
    };
    /** Every token lapses at Vidispine; the proxy has renewed by then. */
    const lapse = async (previous: string): Promise<void> => {
      await clock.advance(61_000);
      await tokenOtherThan(previous);
    };
    const release: (() => void)[] = [];
    try {
      expect((await call(r.port(), { path: '/API/whoami' })).status).toBe(200);
      const first = await tokenOtherThan(undefined);
      release.push(holdConnection(r.port()), holdConnection(r.port()));
      await until(() => r.sim.inFlightRequests() === 2, HANG_GUARD_MS, 'the pool held');
      const started = r.observer.started;
      const get = call(r.port(), { path: '/API/whoami' });
      await until(() => r.observer.started === started + 1);

      await lapse(first);
      // Queued behind the GET, with the new token: it takes the connection after the GET's.
      release.push(holdConnection(r.port()));
      await until(() => r.observer.started === started + 2);
      release[0]();
      // The GET went with the lapsed token and was replayed, to wait in the queue again.
      await until(() => r.observer.unauthorized.length === 1, HANG_GUARD_MS, 'a replay');
      const second = r.app.store.current('alice')?.value ?? '';
      await lapse(second);
      release[1]();

      const reply = await get;
      expect(reply.status).toBe(200);
      expect(reply.text).toBe('alice');
      expect(r.observer.unauthorized).toEqual([
        { user: 'alice', retried: true },
        { user: 'alice', retried: true },
      ]);
    } finally {
      release.forEach((end) => end());
      await r.close();
    }
  });
});
