import * as http from 'node:http';
import * as net from 'node:net';
import { call, openUpload, type OpenUpload } from '../support/http';
import { rawRequest, type RawResponse } from '../support/raw-client';
import { closedPort } from '../support/net';
import { MiB } from '../support/reliability-clients';
import { stopReading, type StalledReader } from '../support/stalled-reader';
import { HANG_GUARD_MS, until } from '../support/wait';
import { startHarness, type Harness } from '../support/app';

describe('no token', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('answers 503 with Retry-After and a one-line reason, and forwards nothing', async () => {
    h.sim.failTokenEndpoints({ kind: 'status', status: 500 });
    const apiCalls = h.sim.calls({ endpoint: 'api' });
    const reply = await call(h.port, { path: '/API/whoami' });
    expect(reply.status).toBe(503);
    expect(Number(reply.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(reply.text).toMatch(/^no Vidispine token for user alice: [^\n]+\n$/);
    expect(h.sim.calls({ endpoint: 'api' })).toBe(apiCalls);
    h.sim.healTokenEndpoints();
  });
});

describe('Vidispine unreachable or failing', () => {
  it('answers 502 when Vidispine refuses the connection', async () => {
    const h = await startHarness({ forwardTo: `http://127.0.0.1:${await closedPort()}` });
    try {
      const reply = await call(h.port, { path: '/API/whoami' });
      expect(reply.status).toBe(502);
      expect(reply.text).toBe('Vidispine refused the connection\n');
      expect(h.observer.upstreamErrors).toEqual(['refused']);
    } finally {
      await h.close();
    }
  });

  it('answers 502 when Vidispine resets the connection', async () => {
    const resetter = net.createServer((socket) =>
      socket.once('data', () => socket.resetAndDestroy()),
    );
    await new Promise<void>((resolve) => resetter.listen(0, '127.0.0.1', resolve));
    const { port } = resetter.address() as net.AddressInfo;
    const h = await startHarness({ forwardTo: `http://127.0.0.1:${port}` });
    try {
      const reply = await call(h.port, { path: '/API/whoami' });
      expect(reply.status).toBe(502);
      expect(h.observer.upstreamErrors).toEqual(['reset']);
    } finally {
      await h.close();
      resetter.close();
    }
  });

  it('answers 504 when Vidispine does not answer in time', async () => {
    const h = await startHarness({ vidispine: { upstreamTimeoutSeconds: 0.3 } });
    try {
      const reply = await call(h.port, { path: '/API/slow?ms=5000' });
      expect(reply.status).toBe(504);
      expect(reply.text).toBe('Vidispine did not answer in time\n');
      expect(h.observer.upstreamErrors).toEqual(['timeout']);
      await until(() => h.sim.inFlightRequests() === 0);
      // The listener still serves.
      expect((await call(h.port, { path: '/API/whoami' })).status).toBe(200);
    } finally {
      await h.close();
    }
  });
});

describe('a request waiting for one of maxSockets connections', () => {
  /** A client that reads nothing of a large download: it holds the one connection. */
  async function holdTheConnection(h: Harness): Promise<StalledReader> {
    const download = stopReading(
      h.port,
      `GET /API/storage/file/VX-1/data?size=${1024 * MiB} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    await until(() => h.sim.inFlightRequests() === 1);
    return download;
  }

  it('gets 504 once it waited the upstream timeout, and never goes upstream later', async () => {
    const h = await startHarness({
      vidispine: { maxSockets: 1, upstreamTimeoutSeconds: 0.5 },
      proxy: { sendTimeoutSeconds: 2 },
    });
    let download: StalledReader | undefined;
    try {
      await call(h.port, { path: '/API/whoami' });
      const apiCalls = h.sim.calls({ endpoint: 'api' });
      download = await holdTheConnection(h);
      const reply = await call(h.port, { path: '/API/whoami' });
      expect(reply.status).toBe(504);
      expect(reply.text).toBe(
        'no connection to Vidispine came free in time: all vidispine.maxSockets were busy\n',
      );
      expect(h.observer.upstreamErrors).toEqual(['timeout']);
      expect(h.sim.inFlightRequests()).toBe(1);
      // The download is cut by sendTimeoutSeconds, which frees the connection.
      await until(() => h.sim.inFlightRequests() === 0, HANG_GUARD_MS);
      await until(() => h.listeners[0].inFlight() === 0);
      expect((await call(h.port, { path: '/API/whoami' })).status).toBe(200);
      // The download and the last GET: the GET that gave up was never sent.
      expect(h.sim.calls({ endpoint: 'api' })).toBe(apiCalls + 2);
    } finally {
      await h.close();
      await download?.end();
    }
  });

  it('counts the wait towards the upstream timeout once it is sent', async () => {
    const h = await startHarness({
      vidispine: { maxSockets: 1, upstreamTimeoutSeconds: 2 },
      proxy: { sendTimeoutSeconds: 1.2 },
    });
    let download: StalledReader | undefined;
    try {
      await call(h.port, { path: '/API/whoami' });
      download = await holdTheConnection(h);
      // Sent once sendTimeoutSeconds cut the download, its 1.5 s answer comes too late.
      const reply = await call(h.port, { path: '/API/slow?ms=1500' });
      expect(reply.status).toBe(504);
      expect(reply.text).toBe('Vidispine did not answer in time\n');
      expect(h.observer.upstreamErrors).toEqual(['timeout']);
    } finally {
      await h.close();
      await download?.end();
    }
  });
});

describe('a client that leaves while its request waits for one of maxSockets connections', () => {
  // What Vidispine would be asked by a client already gone, on a connection others wait for.
  it.each([
    ['without a body (undici)', 'DELETE /API/item/VX-1 HTTP/1.1\r\nHost: x\r\n\r\n'],
    [
      'with a body held for replay',
      'PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nsmall',
    ],
    [
      'with a body it waits for 100 to send',
      'PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n',
    ],
  ])('%s: never sent once a connection frees, logged 499', async (_, request) => {
    const h = await startHarness({ vidispine: { maxSockets: 1 } });
    try {
      await call(h.port, { path: '/API/whoami' });
      await call(h.port, { method: 'PUT', path: '/API/import/raw', body: 'x' });
      const apiCalls = h.sim.calls({ endpoint: 'api' });
      // Each engine's one connection held: a slow answer, an upload half sent.
      const slow = call(h.port, { path: '/API/slow?ms=300' });
      const upload = openUpload(h.port, 2 * MiB);
      upload.req.write(Buffer.alloc(MiB, 1));
      await until(() => h.sim.inFlightRequests() === 2);
      const logged = h.observer.finished.length;
      const client = net.connect(h.port, '127.0.0.1');
      client.on('error', () => undefined);
      client.write(request);
      await until(() => h.listeners[0].inFlight() === 3);
      client.destroy();
      await until(() => h.observer.finished.length > logged);
      expect(h.observer.finished[logged].status).toBe(499);
      upload.req.end(Buffer.alloc(MiB, 1));
      expect((await slow).status).toBe(200);
      expect((await upload.reply).status).toBe(200);
      // Behind whatever else each engine's queue held, once it was sent.
      await call(h.port, { path: '/API/whoami' });
      await call(h.port, { method: 'PUT', path: '/API/import/raw', body: 'x' });
      // The two that held the connections and the two after: nothing for the client that left.
      expect(h.sim.calls({ endpoint: 'api' })).toBe(apiCalls + 4);
      expect(h.observer.upstreamErrors).toEqual([]);
    } finally {
      await h.close();
    }
  });
});

describe('a request with a body waiting for one of maxSockets connections', () => {
  const held = 2 * MiB;
  /** An upload the client keeps open halfway: it holds the one connection for bodies. */
  async function holdTheConnection(h: Harness): Promise<OpenUpload> {
    const upload = openUpload(h.port, held);
    upload.reply.catch(() => undefined);
    upload.req.write(Buffer.alloc(held / 2, 1));
    await until(() => h.sim.inFlightRequests() === 1);
    return upload;
  }

  async function harness(): Promise<Harness> {
    const h = await startHarness({
      vidispine: { maxSockets: 1, upstreamTimeoutSeconds: 0.5 },
      // Before, the waiting request went once this cut the held upload.
      proxy: { clientBodyTimeoutSeconds: 2 },
    });
    await call(h.port, { path: '/API/whoami' });
    return h;
  }

  it('gets 504 once it waited the upstream timeout, and is never sent', async () => {
    const h = await harness();
    let upload: OpenUpload | undefined;
    try {
      const apiCalls = h.sim.calls({ endpoint: 'api' });
      upload = await holdTheConnection(h);
      const reply = await call(h.port, { method: 'POST', path: '/API/import/raw', body: 'small' });
      expect(reply.status).toBe(504);
      expect(reply.text).toBe(
        'no connection to Vidispine came free in time: all vidispine.maxSockets were busy\n',
      );
      expect(h.observer.upstreamErrors).toEqual(['timeout']);
      // Answered while the upload still holds the connection, not once it frees.
      expect(h.sim.inFlightRequests()).toBe(1);
      // The held upload's connection, cut, is let go; the next request gets a new one.
      upload.req.destroy();
      await until(() => h.sim.inFlightRequests() === 0);
      const next = await call(h.port, { method: 'POST', path: '/API/import/raw', body: 'small' });
      expect(next.status).toBe(200);
      expect(JSON.parse(next.text)).toMatchObject({ bytes: 5 });
      // The held upload and the last POST: the POST that gave up was never sent.
      expect(h.sim.calls({ endpoint: 'api' })).toBe(apiCalls + 2);
    } finally {
      upload?.req.destroy();
      await h.close();
    }
  });

  /** Every request the agent for bodies (its one socket held by the upload) is handed. */
  function watchQueue(): { queued: http.ClientRequest[]; restore(): void } {
    // Node's agent keeps a request destroyed in its queue, with what was written into it,
    // until a socket comes free. Every request reaches its agent through `addRequest`.
    const queued: http.ClientRequest[] = [];
    const agents = http.Agent.prototype as http.Agent & {
      addRequest(req: http.ClientRequest, options: unknown): void;
    };
    const addRequest = agents.addRequest;
    const spy = jest.spyOn(agents, 'addRequest').mockImplementation(function (
      this: http.Agent,
      req,
      options,
    ) {
      if (this.maxSockets === 1) queued.push(req);
      addRequest.call(this, req, options);
    });
    return { queued, restore: () => spy.mockRestore() };
  }

  /** What each request left in the agent's queue still holds. */
  function leftInQueue(queued: readonly http.ClientRequest[]) {
    return queued.map((r) => [r.destroyed, r.socket ?? null, r.writableLength]);
  }

  it('gets 504, and a body kept for replay is not left behind in the queue', async () => {
    const watch = watchQueue();
    const h = await harness();
    let upload: OpenUpload | undefined;
    try {
      upload = await holdTheConnection(h);
      watch.queued.length = 0;
      const body = Buffer.alloc(256 * 1024, 1).toString();
      const replies = await Promise.all(
        [1, 2, 3].map(() => call(h.port, { method: 'POST', path: '/API/import/raw', body })),
      );
      expect(replies.map((r) => r.status)).toEqual([504, 504, 504]);
      expect(h.sim.inFlightRequests()).toBe(1);
      // Still queued, none of them holds a copy of its body (256 KiB each, outside the
      // replay budget given back with each 504): written only once a socket is theirs.
      expect(leftInQueue(watch.queued)).toEqual([
        [true, null, 0],
        [true, null, 0],
        [true, null, 0],
      ]);
    } finally {
      watch.restore();
      upload?.req.destroy();
      await h.close();
    }
  });

  it('gets 504 and a closed connection while it still sends a large body', async () => {
    const h = await harness();
    let upload: OpenUpload | undefined;
    let behind: OpenUpload | undefined;
    try {
      const apiCalls = h.sim.calls({ endpoint: 'api' });
      upload = await holdTheConnection(h);
      behind = openUpload(h.port, held);
      behind.req.write(Buffer.alloc(held / 2, 1));
      const reply = await behind.reply;
      expect(reply.status).toBe(504);
      expect(reply.headers.connection).toBe('close');
      expect(reply.text).toBe(
        'no connection to Vidispine came free in time: all vidispine.maxSockets were busy\n',
      );
      expect(h.observer.upstreamErrors).toEqual(['timeout']);
      upload.req.end(Buffer.alloc(held / 2, 1));
      expect((await upload.reply).status).toBe(200);
      expect(h.sim.calls({ endpoint: 'api' })).toBe(apiCalls + 1);
    } finally {
      upload?.req.destroy();
      behind?.req.destroy();
      await h.close();
    }
  });

  it('gets 504 and a closed connection while it sends a body unasked, none of it left queued', async () => {
    const watch = watchQueue();
    const h = await harness();
    let upload: OpenUpload | undefined;
    try {
      upload = await holdTheConnection(h);
      watch.queued.length = 0;
      // An obs-text byte in a header: the proxy sends the body without asking for 100.
      const head = (n: number): Buffer =>
        Buffer.from(
          `POST /API/import/raw?n=${n} HTTP/1.1\r\nHost: x\r\nX-Note: caf\xe9\r\nContent-Length: ${held}\r\n\r\n`,
          'latin1',
        );
      const next = 'GET /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n';
      const results = await Promise.all(
        [1, 2, 3].map((n) =>
          rawRequest(h.port, Buffer.concat([head(n), Buffer.alloc(held, 1), Buffer.from(next)]), {
            untilClosed: true,
          }),
        ),
      );
      for (const result of results) {
        expect(result.responses.map((r) => [r.status, r.header('connection')])).toEqual([
          [504, 'close'],
        ]);
        expect(result.responses[0].body.toString()).toBe(
          'no connection to Vidispine came free in time: all vidispine.maxSockets were busy\n',
        );
        // Closed, as when the proxy asked for 100: not read on to the end, to waste.
        expect(result.closed).toBe(true);
      }
      expect(h.observer.upstreamErrors).toEqual(['timeout', 'timeout', 'timeout']);
      expect(h.sim.inFlightRequests()).toBe(1);
      // Still queued, none of them holds body bytes read from its client (before: 64 KiB
      // each, until a connection to Vidispine comes free).
      expect(leftInQueue(watch.queued)).toEqual([
        [true, null, 0],
        [true, null, 0],
        [true, null, 0],
      ]);
    } finally {
      watch.restore();
      upload?.req.destroy();
      await h.close();
    }
  });
});

/** An upstream with a behaviour Vidispine may show but the simulator does not. */
async function upstream(handler: http.RequestListener, onExpect?: http.RequestListener) {
  const server = http.createServer(handler);
  if (onExpect) server.on('checkContinue', onExpect);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** A harness whose requests go to an upstream that answers every one 401 (and records it). */
async function alwaysRejecting() {
  const seen: (string | undefined)[] = [];
  const rejecting = await upstream((req, res) => {
    seen.push(req.headers.authorization);
    res.writeHead(401, { 'www-authenticate': 'Basic realm="Vidispine"', 'content-length': 2 });
    res.end('no');
  });
  const h = await startHarness({ forwardTo: rejecting.url });
  return { seen, rejecting, h };
}

describe('upstream behaviours', () => {
  it('passes a 401 on, without WWW-Authenticate or a new token, when the token still works', async () => {
    const { seen, rejecting, h } = await alwaysRejecting();
    try {
      const reply = await call(h.port, { path: '/API/whoami' });
      expect(reply.status).toBe(401);
      expect(reply.headers['www-authenticate']).toBeUndefined();
      expect(reply.text).toBe('no');
      // GET /API/whoami on the simulator says the token works: no replay, no mint.
      expect(seen).toHaveLength(1);
      expect(h.sim.calls({ endpoint: 'token' })).toBe(1);
      expect(h.observer.unauthorized).toEqual([{ user: 'alice', retried: false }]);
    } finally {
      await h.close();
      await rejecting.close();
    }
  });

  it('replays once with a new token when the token is dead, and passes on a second 401', async () => {
    const { seen, rejecting, h } = await alwaysRejecting();
    try {
      await until(() => h.sim.tokenCount() === 1);
      h.sim.revokeAllTokens();
      const reply = await call(h.port, { path: '/API/whoami' });
      expect(reply.status).toBe(401);
      expect(reply.headers['www-authenticate']).toBeUndefined();
      expect(reply.text).toBe('no');
      expect(seen).toHaveLength(2);
      expect(seen[0]).toMatch(/^token \S+$/);
      expect(seen[1]).toMatch(/^token \S+$/);
      expect(seen[1]).not.toBe(seen[0]);
      expect(h.observer.unauthorized).toEqual([
        { user: 'alice', retried: true },
        { user: 'alice', retried: false },
      ]);
      // The second 401 is checked too: the new token works, so nothing more is minted.
      await until(() => h.sim.calls({ endpoint: 'api' }) === 2);
      expect(h.sim.calls({ endpoint: 'token' })).toBe(2);
    } finally {
      await h.close();
      await rejecting.close();
    }
  });

  it('sends a large body anyway when Vidispine never answers 100 Continue', async () => {
    const silent = await upstream(
      () => undefined,
      (req, res) => {
        let bytes = 0;
        req.on('data', (chunk: Buffer) => (bytes += chunk.length));
        req.on('end', () => res.end(String(bytes)));
      },
    );
    const h = await startHarness({
      forwardTo: silent.url,
      proxy: { replayBufferBytes: 1024, expectContinueTimeoutMs: 100 },
    });
    try {
      const body = Buffer.alloc(3 * 1024 * 1024, 1);
      const reply = await call(h.port, { method: 'PUT', path: '/API/import/raw', body });
      expect(reply.status).toBe(200);
      expect(reply.text).toBe(String(body.length));
    } finally {
      await h.close();
      await silent.close();
    }
  });
});

describe('an expectation a hop on the way refuses', () => {
  /**
   * A proxy behind an upstream that answers 417 to every request expecting 100 and `handler`
   * to the rest; `expectations` lists each request's `Expect`.
   */
  async function refusingExpectations(handler: http.RequestListener) {
    const expectations: (string | undefined)[] = [];
    const refusing = await upstream(
      (req, res) => {
        expectations.push(req.headers.expect);
        handler(req, res);
      },
      (req, res) => {
        expectations.push(req.headers.expect);
        res.writeHead(417, { 'content-length': 0 });
        res.end();
      },
    );
    const h = await startHarness({ forwardTo: refusing.url, proxy: { replayBufferBytes: 1024 } });
    return {
      h,
      expectations,
      close: async () => {
        await h.close();
        await refusing.close();
      },
    };
  }

  it('sends a large body again without Expect after a 417 to the one the proxy added', async () => {
    // RFC 9110 §10.1.1: a 417 to a 100-continue expectation says only that something on the
    // way does not take expectations. The client asked for none; it got that 417 for every
    // upload beyond the replay buffer.
    const { h, expectations, close } = await refusingExpectations((req, res) => {
      let bytes = 0;
      req.on('data', (chunk: Buffer) => (bytes += chunk.length));
      req.on('end', () => res.end(String(bytes)));
    });
    try {
      const body = Buffer.alloc(3 * 1024 * 1024, 1);
      const reply = await call(h.port, { method: 'PUT', path: '/API/import/raw', body });
      expect([reply.status, reply.text]).toEqual([200, String(body.length)]);
      expect(expectations).toEqual(['100-continue', undefined]);
    } finally {
      await close();
    }
  });

  it('passes the 417 on to a client that sent Expect itself, so it repeats the request without', async () => {
    const { h, expectations, close } = await refusingExpectations((_req, res) => res.end());
    try {
      const size = 3 * 1024 * 1024;
      const result = await rawRequest(
        h.port,
        `PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\nExpect: 100-continue\r\n\r\n`,
      );
      expect(result.responses.map((r) => r.status)).toEqual([417]);
      expect(expectations).toEqual(['100-continue']);
    } finally {
      await close();
    }
  });
});

describe('final answers before the body', () => {
  it('passes an early refusal on and closes instead of reading the upload', async () => {
    let upstreamBodies = 0;
    const refusing = await upstream(
      () => undefined,
      (req, res) => {
        req.on('data', () => (upstreamBodies += 1));
        res.writeHead(413, { 'content-length': 8 });
        res.end('too big\n');
      },
    );
    const h = await startHarness({ forwardTo: refusing.url });
    try {
      const answer = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = http.request({
          host: '127.0.0.1',
          port: h.port,
          method: 'PUT',
          path: '/API/import/raw',
          agent: false,
          headers: { 'content-length': String(256 * 1024 * 1024) },
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res);
        });
        req.on('error', reject);
        req.write(Buffer.alloc(64 * 1024));
      });
      expect([answer.statusCode, answer.headers.connection]).toEqual([413, 'close']);
      expect(upstreamBodies).toBe(0);
    } finally {
      await h.close();
      await refusing.close();
    }
  });

  /** What a keep-alive upload of 256 MiB that sent its head and 64 KiB gets. */
  async function uploadAnswer(port: number): Promise<RawResponse | undefined> {
    const head = `PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: ${256 * 1024 * 1024}\r\n\r\n`;
    const result = await rawRequest(port, head + 'x'.repeat(64 * 1024), { timeoutMs: 5000 });
    return result.responses[0];
  }

  it.each([
    ['a 502 when Vidispine refuses the connection', 502, () => closedPort()],
    ['a 503 when no token can be had', 503, undefined],
  ])(
    "closes after the proxy's own answer too (%s) instead of reading the upload",
    async (_name, status, refusingPort) => {
      const port = refusingPort && (await refusingPort());
      const h = await startHarness(port ? { forwardTo: `http://127.0.0.1:${port}` } : {});
      try {
        if (port === undefined) h.sim.failTokenEndpoints({ kind: 'status', status: 500 });
        const answer = await uploadAnswer(h.port);
        expect([answer?.status, answer?.header('connection')]).toEqual([status, 'close']);
      } finally {
        await h.close();
      }
    },
  );

  it.each([
    ['DELETE', 'DELETE /API/item/VX-1 HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['POST without a body', 'POST /API/item HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'],
    ['GET', 'GET /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n'],
  ])(
    'a %s pipelined behind such a refusal never reaches Vidispine: its answer could not be given',
    async (_name, behind) => {
      const seen: string[] = [];
      let releaseFirst: (() => void) | undefined;
      const refusing = await upstream(
        (req, res) => {
          seen.push(`${req.method} ${req.url}`);
          if (req.url === '/API/first') releaseFirst = () => res.end('first');
          else res.end('later');
        },
        (req, res) => {
          seen.push(`${req.method} ${req.url}`);
          res.writeHead(403, { 'content-length': 4, connection: 'close' });
          res.end('no!\n');
        },
      );
      const h = await startHarness({ forwardTo: refusing.url });
      try {
        // The upload waits its turn behind a GET, so all three are read before any answer.
        const pipelined = rawRequest(
          h.port,
          'GET /API/first HTTP/1.1\r\nHost: x\r\n\r\n' +
            'PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' +
            `3\r\nabc\r\n0\r\n\r\n${behind}`,
          { untilClosed: true },
        );
        await until(() => releaseFirst !== undefined, 5000);
        releaseFirst?.();
        const result = await pipelined;
        expect(result.responses.map((r) => [r.status, r.header('connection')])).toEqual([
          [200, 'keep-alive'],
          [403, 'close'],
        ]);
        expect(result.trailing).toBe('');
        // A request on another connection, sent after the close: it comes after anything
        // the pipelined one would have sent.
        expect((await call(h.port, { path: '/API/later' })).text).toBe('later');
        await until(() => h.listeners[0].inFlight() === 0, 5000);
        expect(seen).toEqual(['GET /API/first', 'PUT /API/import/raw', 'GET /API/later']);
      } finally {
        await h.close();
        await refusing.close();
      }
    },
  );
});

describe('final answers while the body streams', () => {
  /**
   * Like Jetty: takes part of the body, answers 413 and closes its side; a GET gets 200.
   * `keepsOpen`: answers without closing and reads on, as a server that drains the rest.
   */
  async function refusingMidBody(keepsOpen = false) {
    const sockets = new Set<net.Socket>();
    /** How much of its body each upload's connection had received when it closed. */
    const bodies: number[] = [];
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      let received = '';
      socket.on('error', () => socket.destroy());
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString('latin1');
        const end = received.indexOf('\r\n\r\n');
        if (end < 0) return;
        if (received.startsWith('GET ')) {
          socket.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nalice');
        } else if (received.length === end + 4) {
          socket.write('HTTP/1.1 100 Continue\r\n\r\n');
        } else {
          socket.removeAllListeners('data');
          const close = keepsOpen ? '' : 'Connection: close\r\n';
          const answer = `HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\n${close}\r\ntoo big\n`;
          if (!keepsOpen) {
            socket.end(answer);
            return;
          }
          socket.write(answer);
          let body = received.length - end - 4;
          socket.on('data', (more: Buffer) => (body += more.length));
          socket.on('close', () => bodies.push(body));
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      bodies,
      close: () =>
        new Promise((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(resolve);
        }),
    };
  }

  /** An upload of `size` bytes, a GET pipelined behind it: the 413, then the GET's own answer. */
  async function refusedThenServed(port: number, size: number): Promise<void> {
    const upload = `PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`;
    const next = 'GET /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n';
    const result = await rawRequest(
      port,
      Buffer.concat([Buffer.from(upload), Buffer.alloc(size, 1), Buffer.from(next)]),
      { responses: 2 },
    );
    expect(result.responses.map((r) => [r.status, r.body.toString()])).toEqual([
      [413, 'too big\n'],
      [200, 'alice'],
    ]);
    expect(result.closed).toBe(false);
  }

  it('passes the answer on, drops the rest of the body, and serves the next request', async () => {
    const refusing = await refusingMidBody();
    const h = await startHarness({ forwardTo: refusing.url });
    try {
      await refusedThenServed(h.port, 8 * 1024 * 1024);
      await until(() => h.listeners[0].inFlight() === 0);
    } finally {
      await h.close();
      await refusing.close();
    }
  });

  it('drops the rest of the body when Vidispine answers early and keeps its connection open', async () => {
    // Node's client no longer tells a request that writes on after its answer when the
    // connection drains, so a body piped into it stalled for good, and its client and both
    // connections with it.
    const refusing = await refusingMidBody(true);
    const h = await startHarness({ forwardTo: refusing.url });
    try {
      const size = 32 * 1024 * 1024;
      await refusedThenServed(h.port, size);
      // Vidispine never takes the upload as whole.
      await until(() => refusing.bodies.length === 1);
      expect(refusing.bodies[0]).toBeLessThan(size);
      expect(h.observer.upstreamErrors).toEqual([]);
      await until(() => h.listeners[0].inFlight() === 0);
    } finally {
      await h.close();
      await refusing.close();
    }
  });

  it.each([
    ['closes its connection', false],
    ['keeps its connection open', true],
  ])(
    "lets go of the body's idle timer once the client of an upload Vidispine answered early (and %s) leaves",
    async (_, keepsOpen) => {
      const refusing = await refusingMidBody(keepsOpen);
      const h = await startHarness({ forwardTo: refusing.url });
      const timers = (): number =>
        process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
      try {
        const before = timers();
        const upload = 'PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: 8388608\r\n\r\n';
        // The answer read, the client leaves with most of its body unsent.
        const result = await rawRequest(
          h.port,
          Buffer.concat([Buffer.from(upload), Buffer.alloc(2 * 1024 * 1024, 1)]),
        );
        expect(result.responses.map((r) => r.status)).toEqual([413]);
        await until(() => h.listeners[0].inFlight() === 0);
        // Before, where Vidispine kept its connection open (and the proxy its client's): the
        // body's idle timer (clientBodyTimeoutSeconds, 60 s) stayed, and the request and its
        // exchange with it, until it fired.
        await until(() => timers() <= before, 2000, "the body's idle timer to go");
        // Nor is the connection to a Vidispine still reading the body kept.
        if (keepsOpen) await until(() => refusing.bodies.length === 1);
      } finally {
        await h.close();
        await refusing.close();
      }
    },
  );

  it('closes the connection once the client stops sending the rest', async () => {
    const refusing = await refusingMidBody();
    const h = await startHarness({
      forwardTo: refusing.url,
      proxy: { clientBodyTimeoutSeconds: 0.3 },
    });
    try {
      const upload = 'PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: 8388608\r\n\r\n';
      const result = await rawRequest(
        h.port,
        Buffer.concat([Buffer.from(upload), Buffer.alloc(2 * 1024 * 1024, 1)]),
        { untilClosed: true },
      );
      expect(result.responses.map((r) => r.status)).toEqual([413]);
      expect(result.closed).toBe(true);
    } finally {
      await h.close();
      await refusing.close();
    }
  });
});

describe('slow clients', () => {
  it('does not cut a download whose client pauses longer than the upstream timeout', async () => {
    const h = await startHarness({ vidispine: { upstreamTimeoutSeconds: 0.2 } });
    try {
      const size = 32 * 1024 * 1024;
      const bytes = await new Promise<number>((resolve, reject) => {
        http
          .get(
            { host: '127.0.0.1', port: h.port, path: `/API/storage/file/VX-2/data?size=${size}` },
            (res) => {
              let received = 0;
              res.once('data', (first: Buffer) => {
                received += first.length;
                res.pause();
                // The pause is the behaviour under test: longer than the upstream timeout.
                setTimeout(() => {
                  res.on('data', (chunk: Buffer) => (received += chunk.length));
                  res.resume();
                }, 600);
              });
              res.on('end', () => resolve(received));
              res.on('error', reject);
            },
          )
          .on('error', reject);
      });
      expect(bytes).toBe(size);
      expect(h.observer.upstreamErrors).toEqual([]);
    } finally {
      await h.close();
    }
  });
});

describe('slow uploaders', () => {
  // Silence in a body still on its way is the client's: clientBodyTimeoutSeconds judges it,
  // not the wait for Vidispine's answer, which begins once the body has gone.
  it.each([
    ['streamed (beyond the replay buffer)', 2 * 1024 * 1024],
    ['held for replay', 1000],
  ])(
    'an upload %s whose client pauses longer than the upstream timeout goes through',
    async (_, size) => {
      const h = await startHarness({
        vidispine: { upstreamTimeoutSeconds: 0.2 },
        proxy: { clientBodyTimeoutSeconds: 10 },
      });
      try {
        const upload = openUpload(h.port, size, '/API/import/raw?transferId=slow');
        upload.req.write(Buffer.alloc(size / 2, 1));
        // The pause is the behaviour under test: longer than the upstream timeout.
        setTimeout(() => upload.req.end(Buffer.alloc(size / 2, 1)), 600);
        const answer = await upload.reply;
        expect(answer.status).toBe(200);
        expect(JSON.parse(answer.text)).toMatchObject({ bytes: size });
        expect(h.observer.upstreamErrors).toEqual([]);
      } finally {
        await h.close();
      }
    },
  );
});

describe('slow uploaders to a Vidispine that never answers', () => {
  it('get 504 once the whole body has gone and the upstream timeout passed', async () => {
    // Takes every byte, answers nothing, not even 100 Continue.
    const held = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      held.add(socket);
      socket.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const h = await startHarness({
      forwardTo: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`,
      vidispine: { upstreamTimeoutSeconds: 0.2 },
      proxy: { clientBodyTimeoutSeconds: 10, expectContinueTimeoutMs: 1 },
    });
    try {
      const size = 2 * 1024 * 1024;
      let ended = 0;
      const answered = await new Promise<{ status: number; afterEnd: boolean }>(
        (resolve, reject) => {
          const req = http.request(
            { host: '127.0.0.1', port: h.port, method: 'POST', path: '/API/import/raw' },
            (res) => {
              res.resume();
              resolve({ status: res.statusCode ?? 0, afterEnd: ended > 0 });
            },
          );
          req.setHeader('content-length', size);
          req.on('error', reject);
          req.write(Buffer.alloc(size / 2, 1));
          setTimeout(() => {
            ended = Date.now();
            req.end(Buffer.alloc(size / 2, 1));
          }, 600);
        },
      );
      expect(answered).toEqual({ status: 504, afterEnd: true });
      expect(h.observer.upstreamErrors).toEqual(['timeout']);
    } finally {
      await h.close();
      for (const socket of held) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});

describe('clients that go away', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ vidispine: { maxSockets: 16 } });
  });
  afterAll(() => h.close());

  /** Starts an upload that reaches Vidispine, then vanishes mid-body. */
  function abortedUpload(expectContinue: boolean): Promise<void> {
    return new Promise((resolve) => {
      const req = http.request({
        host: '127.0.0.1',
        port: h.port,
        method: 'POST',
        path: '/API/import/raw',
        agent: false,
        headers: {
          'content-length': String(64 * 1024 * 1024),
          ...(expectContinue ? { expect: '100-continue' } : {}),
        },
      });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      const chunk = Buffer.alloc(64 * 1024, 1);
      const vanish = (): void => {
        req.write(chunk, () => req.destroy());
      };
      if (expectContinue) req.on('continue', vanish);
      else req.flushHeaders();
      if (!expectContinue) req.write(chunk, () => setImmediate(() => req.destroy()));
    });
  }

  it('leaves no upstream request or extra socket open after 1,000 aborted uploads', async () => {
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(Array.from({ length: 50 }, (_, i) => abortedUpload(i % 2 === 0)));
    }
    await until(() => h.sim.inFlightRequests() === 0 && h.listeners[0].inFlight() === 0);
    expect(h.sim.openConnections()).toBeLessThanOrEqual(16);
    expect(h.observer.started).toBe(1000);
    expect((await call(h.port, { path: '/API/whoami' })).text).toBe('alice');
  }, 60_000);
});
