/**
 * The shutdown sequence over the real app: the coordinator owns the drain deadline, the
 * listeners only close (no deadline) or are destroyed (at once).
 */
import * as diagnostics from 'node:diagnostics_channel';
import * as http from 'node:http';
import * as net from 'node:net';
import { createSimulator } from '../../src/simulator';
import { call } from '../support/http';
import { parseExposition, value } from '../support/prom-parse';
import type { ShutdownCoordinator } from '../../src/ops/shutdown';
import { shutdownCoordinator, startApp, type RunningApp } from '../support/app';
import { startRawUpstream } from '../support/raw-upstream';
import { until } from '../support/wait';
import { onLoopback } from '../support/net';

function slowRequest(port: number, ms: number): Promise<string> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: `/API/slow?ms=${ms}`, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(String(res.statusCode)));
        res.on('error', (err) => resolve(err.message));
      })
      .on('error', (err) => resolve(err.message));
  });
}

const UPGRADE =
  'GET /APIWS/echo HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

function steps(r: RunningApp): unknown[] {
  return r.logs
    .map((line) => JSON.parse(line) as { event?: string; step?: string })
    .filter((l) => l.event === 'shutdown')
    .map((l) => l.step);
}

/**
 * A connection whose client reads nothing and never closes, sent `send` and answered 503 at
 * the end of a 0.2 s drain window once `sent` holds: it is left open for its grace, and a
 * second signal cuts it at once; the shutdown still ends 0.
 */
async function expectGraceThenCut(
  r: RunningApp,
  send: (client: net.Socket) => void,
  sent: () => boolean,
): Promise<void> {
  // The proxy's end of the connection: the client, reading nothing, is told nothing.
  const accepted: net.Socket[] = [];
  const onSocket = (message: unknown): void => {
    accepted.push((message as { socket: net.Socket }).socket);
  };
  diagnostics.subscribe('net.server.socket', onSocket);
  const client = net.connect({ port: r.port(), host: '127.0.0.1', allowHalfOpen: true });
  try {
    client.pause();
    client.on('error', () => undefined);
    send(client);
    await until(sent);
    const shutdown = shutdownCoordinator(r, 0.2);
    void shutdown.begin('SIGTERM');
    await until(() => r.logs.some((line) => line.includes('"status":503')));
    const ours = accepted.find((socket) => socket.remotePort === client.localPort);
    expect(ours?.destroyed).toBe(false);
    void shutdown.begin('SIGTERM');
    expect(ours?.destroyed).toBe(true);
    expect(await shutdown.done).toBe(0);
  } finally {
    diagnostics.unsubscribe('net.server.socket', onSocket);
    client.destroy();
  }
}

const MiB = 1024 * 1024;

/**
 * The counts of alice's requests in `requests_total`, by code and method (GET unless said;
 * undefined where none was counted), once a test's requests are done: nothing in flight.
 */
async function countsAtRest(app: {
  readonly metrics: { render(): Promise<string> };
}): Promise<(code: string, method?: string) => number | undefined> {
  const metrics = parseExposition(await app.metrics.render());
  expect(value(metrics, 'vidispine_auth_proxy_requests_in_flight', {})).toBe(0);
  return (code, method = 'GET') =>
    value(metrics, 'vidispine_auth_proxy_requests_total', { user: 'alice', method, code });
}

/** An upgrade refused at the shutdown opened no session, ended none, and failed nothing. */
async function expectNoSession(r: RunningApp): Promise<void> {
  const metrics = parseExposition(await r.app.metrics.render());
  expect(value(metrics, 'vidispine_auth_proxy_websocket_sessions_open', { user: 'alice' })).toBe(0);
  expect(
    value(metrics, 'vidispine_auth_proxy_websocket_sessions_ended_total', { end: 'shutdown' }),
  ).toBe(0);
  expect(r.observer.upstreamErrors).toEqual([]);
}

/** The answers in `bytes`, in order: status, head and body. */
function answersIn(bytes: Buffer): { status: number; head: string; body: Buffer }[] {
  const out: { status: number; head: string; body: Buffer }[] = [];
  let at = 0;
  for (let end = bytes.indexOf('\r\n\r\n', at); end >= 0; end = bytes.indexOf('\r\n\r\n', at)) {
    const head = bytes.subarray(at, end).toString('latin1');
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
    const length = status === 101 ? 0 : Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]);
    out.push({ status, head, body: bytes.subarray(end + 4, end + 4 + length) });
    at = end + 4 + length;
  }
  return out;
}

/**
 * A client that pipelines `text` on one connection and reads nothing, until `read` starts
 * reading it a chunk per turn of the event loop; with the proxy's end of its connection.
 */
async function pipelining(
  port: number,
  text: string,
): Promise<{
  client: net.Socket;
  proxySide: net.Socket;
  read: () => void;
  received: () => Buffer;
  closed: Promise<Buffer>;
}> {
  const accepted: net.Socket[] = [];
  const onSocket = (message: unknown): void => {
    accepted.push((message as { socket: net.Socket }).socket);
  };
  diagnostics.subscribe('net.server.socket', onSocket);
  try {
    const client = await pausedClient(port);
    const received: Buffer[] = [];
    const closed = new Promise<Buffer>((resolve) =>
      client.on('close', () => resolve(Buffer.concat(received))),
    );
    client.write(text);
    await until(() => accepted.some((s) => s.remotePort === client.localPort));
    const proxySide = accepted.find((s) => s.remotePort === client.localPort) as net.Socket;
    const read = (): void => {
      client.on('data', (chunk: Buffer) => {
        received.push(chunk);
        client.pause();
        setImmediate(() => client.resume());
      });
      client.resume();
    };
    return { client, proxySide, read, received: () => Buffer.concat(received), closed };
  } finally {
    diagnostics.unsubscribe('net.server.socket', onSocket);
  }
}

/** A new connection to `port`, open, that reads nothing until resumed. */
async function pausedClient(port: number): Promise<net.Socket> {
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => undefined);
  client.pause();
  await new Promise((resolve) => client.once('connect', resolve));
  return client;
}

/**
 * A download on a new connection of `port` whose client reads nothing, with the answer
 * Node writes it.
 */
async function unreadDownload(
  port: number,
  size: number,
): Promise<{ client: net.Socket; res: http.ServerResponse; proxySide: net.Socket }> {
  const responses: http.ServerResponse[] = [];
  const onRequest = (message: unknown): void => {
    responses.push((message as { response: http.ServerResponse }).response);
  };
  diagnostics.subscribe('http.server.request.start', onRequest);
  try {
    const client = await pausedClient(port);
    client.write(`GET /API/storage/file/VX-1/data?size=${size} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const ours = (): http.ServerResponse | undefined =>
      responses.find((res) => res.socket?.remotePort === client.localPort);
    await until(() => ours() !== undefined);
    const res = ours() as http.ServerResponse;
    return { client, res, proxySide: res.socket as net.Socket };
  } finally {
    diagnostics.unsubscribe('http.server.request.start', onRequest);
  }
}

/**
 * The bytes the kernel holds for a connection to `port` whose client reads nothing, once
 * they no longer grow.
 */
async function heldByKernel(port: number): Promise<number> {
  const probe = await unreadDownload(port, 64 * MiB);
  let held = -1;
  let still = 0;
  await until(() => {
    const now = probe.proxySide.bytesWritten - probe.proxySide.writableLength;
    still = probe.proxySide.writableNeedDrain && now === held ? still + 1 : 0;
    held = now;
    return still === 5;
  });
  probe.client.destroy();
  return held;
}

/**
 * A WebSocket frame "hi" sent on `c`'s switched connection comes back: masked with a zero
 * key (6 + 2 bytes), echoed unmasked (2 + 2).
 */
async function expectEcho(c: Awaited<ReturnType<typeof pipelining>>): Promise<void> {
  const before = c.received().length;
  c.client.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]));
  await until(() => c.received().length === before + 4, 5000, 'the echo');
  expect(c.received().subarray(before)).toEqual(Buffer.from([0x81, 0x02, 0x68, 0x69]));
}

/**
 * A shutdown of `r`'s app whose `shutdown.delaySeconds` lasts until `endDelay` is called (the
 * drain window on real timers); `delaying` settles once the signal's steps have run and the
 * delay has begun.
 */
function withHeldDelay(
  r: RunningApp,
  drainSeconds: number,
): { shutdown: ShutdownCoordinator; delaying: Promise<void>; endDelay: () => void } {
  const delayMs = 60_000;
  let endDelay = (): void => undefined;
  let begun = (): void => undefined;
  const delaying = new Promise<void>((resolve) => (begun = resolve));
  const shutdown = shutdownCoordinator(r, drainSeconds, {
    delaySeconds: delayMs / 1000,
    timers: {
      setTimeout: (callback, ms) => {
        if (ms !== delayMs) return setTimeout(callback, ms);
        endDelay = callback;
        begun();
        return undefined;
      },
      clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
    },
  });
  return { shutdown, delaying, endDelay: () => endDelay() };
}

/**
 * An HTTP gate in front of the simulator: a mint (`/API/token`) waits there, unanswered,
 * while the gate holds (from the start, or from `hold`) until `release`; everything else,
 * a token's check included, goes through at once. `held` is how many mints wait.
 */
async function mintGate(
  sim: { url: string },
  holding = true,
): Promise<{
  url: string;
  held: () => number;
  hold: () => void;
  release: () => void;
  close: () => Promise<void>;
}> {
  const waiting: (() => void)[] = [];
  let holds = holding;
  const port = Number(new URL(sim.url).port);
  const server = http.createServer((req, res) => {
    const pass = (): void => {
      const { method, url: path, headers } = req;
      const out = http.request({ host: '127.0.0.1', port, method, path, headers, agent: false });
      out.on('response', (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
        answer.pipe(res);
      });
      out.on('error', () => res.destroy());
      req.pipe(out);
    };
    if (holds && req.url?.split('?')[0] === '/API/token') waiting.push(pass);
    else pass();
  });
  return {
    ...(await onLoopback(server)),
    held: () => waiting.length,
    hold: () => {
      holds = true;
    },
    release: () => {
      holds = false;
      waiting.splice(0).forEach((pass) => pass());
    },
  };
}

describe('shutdown of the whole app', () => {
  let r: RunningApp;
  afterEach(() => r.close());

  it('lets a request that ends within the drain window finish, then exits 0', async () => {
    r = await startApp();
    const slow = slowRequest(r.port(), 300);
    await until(() => r.app.listeners[0].inFlight() === 1);
    const shutdown = shutdownCoordinator(r, 30);
    void shutdown.begin('SIGTERM');
    expect(await shutdown.done).toBe(0);
    expect(await slow).toBe('200');
    expect(steps(r)).toEqual(['begin', 'close_listeners', 'drained', 'exit']);
  });

  it('cuts what is still in flight when the drain window ends, and closes the listener', async () => {
    r = await startApp();
    const port = r.port();
    const slow = slowRequest(port, 60_000);
    await until(() => r.sim.inFlightRequests() === 1);
    const shutdown = shutdownCoordinator(r, 0.2);
    void shutdown.begin('SIGTERM');
    expect(await shutdown.done).toBe(0);
    expect(await slow).toMatch(/socket hang up|ECONNRESET|aborted/);
    expect(steps(r)).toEqual(['begin', 'close_listeners', 'drain_timeout', 'exit']);
    expect(r.app.listeners[0].inFlight()).toBe(0);
    await expect(call(port, { path: '/API/whoami' })).rejects.toThrow(/ECONNREFUSED/);
    await until(() => r.sim.inFlightRequests() === 0, 5000, 'the upstream request to end');
  });

  it('answers 503 to a request still waiting for its token when the drain window ends', async () => {
    const sim = createSimulator();
    await sim.listen(0, '127.0.0.1');
    sim.failTokenEndpoints({ kind: 'delay', ms: 60_000 });
    r = await startApp({ sim, noWait: true });
    const reply = call(r.port(), { path: '/API/whoami' });
    await until(() => r.app.listeners[0].inFlight() === 1);
    const shutdown = shutdownCoordinator(r, 0.2);
    void shutdown.begin('SIGTERM');
    expect(await shutdown.done).toBe(0);
    const answer = await reply;
    expect(answer.status).toBe(503);
    expect(answer.headers.connection).toBe('close');
    expect(answer.text).toBe('no Vidispine token for user alice: the proxy is shutting down\n');
    expect(r.sim.calls({ endpoint: 'api' })).toBe(0);
  });

  it('answers a WebSocket upgrade still waiting for its token when the drain window ends as a plain request: 503, Retry-After: 1', async () => {
    const sim = createSimulator();
    await sim.listen(0, '127.0.0.1');
    sim.failTokenEndpoints({ kind: 'delay', ms: 60_000 });
    r = await startApp({ sim, noWait: true, raw: { proxy: { accessLog: true } } });
    const client = net.connect(r.port(), '127.0.0.1');
    const received: Buffer[] = [];
    client.on('data', (chunk: Buffer) => received.push(chunk));
    const errors: string[] = [];
    client.on('error', (err) => errors.push(err.message));
    const closed = new Promise<string>((resolve) =>
      client.on('close', () => resolve(Buffer.concat(received).toString('latin1'))),
    );
    client.write(UPGRADE);
    await until(() => r.app.listeners[0].inFlight() === 1);
    // Bytes sent ahead of the 101, many still unread when the drain window ends.
    client.write(Buffer.alloc(1024 * 1024, 0x81));
    const shutdown = shutdownCoordinator(r, 0.2);
    void shutdown.begin('SIGTERM');
    expect(await shutdown.done).toBe(0);
    // Before: a bare close, counted and logged 444, as if Vidispine might have had it.
    const answer = await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(answer).toMatch(
      /\r\n\r\nno Vidispine token for user alice: the proxy is shutting down\n$/,
    );
    // Its connection closed in order after the answer, not reset.
    expect(errors).toEqual([]);
    expect(r.sim.calls({ endpoint: 'api' })).toBe(0);
    // Counted once, and logged once, with the status the client got.
    expect(r.observer.finished.map((f) => f.status)).toEqual([503]);
    const logged = r.logs
      .map((line) => JSON.parse(line) as { event?: string; status?: number; method?: string })
      .filter((l) => l.event === 'request');
    expect(logged.map((l) => [l.method, l.status])).toEqual([['GET', 503]]);
    expect(r.observer.upstreamErrors).toEqual([]);
    expect(r.app.listeners[0].inFlight()).toBe(0);
  });

  it('answers 503 to a WebSocket upgrade met by a 401 and still waiting for the new token when the drain window ends', async () => {
    r = await startApp({ raw: { proxy: { accessLog: true } } });
    r.sim.revokeAllTokens();
    r.sim.failTokenEndpoints({ kind: 'delay', ms: 60_000 });
    const mints = (): number =>
      r.sim.calls({ endpoint: 'token' }) + r.sim.calls({ endpoint: 'user_token' });
    const before = mints();
    const client = net.connect(r.port(), '127.0.0.1');
    const received: Buffer[] = [];
    client.on('data', (chunk: Buffer) => received.push(chunk));
    client.on('error', () => undefined);
    const closed = new Promise<string>((resolve) =>
      client.on('close', () => resolve(Buffer.concat(received).toString('latin1'))),
    );
    client.write(UPGRADE);
    await until(() => mints() > before);
    const shutdown = shutdownCoordinator(r, 0.2);
    void shutdown.begin('SIGTERM');
    expect(await shutdown.done).toBe(0);
    // Before: a bare close, counted 444. Vidispine refused the one it had: it did nothing.
    const answer = await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(answer).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(r.sim.calls({ endpoint: 'ws' })).toBe(1);
    expect(r.observer.finished.map((f) => f.status)).toEqual([503]);
    expect(r.observer.unauthorized).toEqual([{ user: 'alice', retried: false }]);
    const logged = r.logs.filter((line) => line.includes('"event":"request"'));
    expect(logged).toHaveLength(1);
  });

  it("leaves the 503 to a WebSocket upgrade at the window's end its grace to be read, as a plain request's", async () => {
    const sim = createSimulator();
    await sim.listen(0, '127.0.0.1');
    sim.failTokenEndpoints({ kind: 'delay', ms: 60_000 });
    r = await startApp({ sim, noWait: true, raw: { proxy: { accessLog: true } } });
    // Before: destroyed with the handed-over connections the moment the 503 was written. A
    // second signal cuts it at once, as it does a plain request's.
    await expectGraceThenCut(
      r,
      (client) => client.write(UPGRADE),
      () => r.app.listeners[0].inFlight() === 1,
    );
  });

  it('answers 503 to an upload still being sent when the drain window ends, and aborts it upstream', async () => {
    r = await startApp({ raw: { proxy: { accessLog: true } } });
    const size = 2 * 1024 * 1024;
    const client = net.connect(r.port(), '127.0.0.1');
    const received: Buffer[] = [];
    client.on('data', (chunk: Buffer) => received.push(chunk));
    client.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
    client.write(`PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
    client.write(Buffer.alloc(size / 2, 1));
    await until(() => r.sim.inFlightRequests() === 1);
    const shutdown = shutdownCoordinator(r, 0.2);
    void shutdown.begin('SIGTERM');
    expect(await shutdown.done).toBe(0);
    await closed;
    // Before: the connection closed with no answer, the client left to guess.
    const answer = Buffer.concat(received).toString('latin1');
    expect(answer).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(answer).toMatch(
      /\r\n\r\nthe proxy is shutting down: the request was not sent whole to Vidispine\n$/,
    );
    // Answered at the window's end, as before: the drain window is the upload's to use.
    expect(steps(r)).toEqual(['begin', 'close_listeners', 'drain_timeout', 'exit']);
    // Logged with the status the client got.
    const finished = r.logs
      .map((line) => JSON.parse(line) as { event?: string; status?: number; method?: string })
      .filter((l) => l.event === 'request');
    expect(finished.map((l) => [l.method, l.status])).toEqual([['PUT', 503]]);
    await until(() => r.sim.inFlightRequests() === 0, 5000, 'the upstream request to end');
  });

  it("cuts at once, on a second signal, the connection of an upload answered at the window's end", async () => {
    r = await startApp({ raw: { proxy: { accessLog: true } } });
    // Its client neither reads nor closes: the grace would hold it for up to 0.5 s.
    await expectGraceThenCut(
      r,
      (client) => {
        client.write('PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\n\r\n');
        client.write(Buffer.alloc(1024 * 1024, 1));
      },
      () => r.sim.inFlightRequests() === 1,
    );
  });

  it("leaves no timer of an upload still waiting for Vidispine's 100 Continue when the drain window ends", async () => {
    const upstream = await startRawUpstream(() => 'hang');
    upstream.sendContinue = false;
    try {
      r = await startApp({
        forwardTo: upstream.url,
        raw: { proxy: { expectContinueTimeoutMs: 60_000 } },
      });
      const timers = (): number =>
        process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
      const client = net.connect(r.port(), '127.0.0.1');
      const received: Buffer[] = [];
      client.on('data', (chunk: Buffer) => received.push(chunk));
      const closed = new Promise<void>((resolve) => client.on('close', () => resolve()));
      const before = timers();
      // Larger than the replay buffer: the proxy asks Vidispine for 100 before the body flows.
      client.write(
        'PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n' +
          `Content-Length: ${2 * 1024 * 1024}\r\n\r\n`,
      );
      await until(() => upstream.heads.length === 1 && timers() > before);
      const shutdown = shutdownCoordinator(r, 0.2);
      void shutdown.begin('SIGTERM');
      expect(await shutdown.done).toBe(0);
      await closed;
      expect(Buffer.concat(received).toString('latin1')).toMatch(/^HTTP\/1\.1 503 /);
      // Before: the wait for Vidispine's 100 (60 s here) outlived the request it was for.
      await until(() => timers() <= before, 2000, 'the timers of the request to end');
    } finally {
      await upstream.close();
    }
  });

  it('sends a download whole whose last bytes still wait to go out, its answer ended, when the listeners close', async () => {
    r = await startApp({ raw: { proxy: { accessLog: true } } });
    // A download a little larger than the kernel holds for a client reading nothing: its
    // answer ends with its tail still in the proxy. The kernel's share varies a little from
    // one connection to the next: a size it took whole tells the next to try more; one
    // whose answer stalled before its end tells the share it got, to try just past it.
    let size = (await heldByKernel(r.port())) + 4096;
    let download: Awaited<ReturnType<typeof unreadDownload>> | undefined;
    for (let attempt = 0; attempt < 40; attempt++) {
      download?.client.destroy();
      download = await unreadDownload(r.port(), size);
      const { res, proxySide } = download;
      // A stall is the client's window full (the proxy's buffer over its mark and nothing
      // going out for a while), never a pause in what Vidispine sends, which a loaded
      // machine makes.
      let sent = -1;
      let still = 0;
      await until(() => {
        const held = proxySide.writableNeedDrain && proxySide.bytesWritten === sent;
        still = held ? still + 1 : 0;
        sent = proxySide.bytesWritten;
        return res.writableEnded || still === 10;
      });
      if (res.writableEnded && proxySide.writableLength > 0) break;
      size = res.writableEnded
        ? size + 4096
        : proxySide.bytesWritten - proxySide.writableLength + 4096;
    }
    if (download === undefined) throw new Error('no download');
    const { client, res, proxySide } = download;
    expect([res.writableEnded, res.writableFinished]).toEqual([true, false]);
    expect(proxySide.writableLength).toBeGreaterThan(0);
    const received: Buffer[] = [];
    const closed = new Promise<Buffer>((resolve) =>
      client.on('close', () => resolve(Buffer.concat(received))),
    );
    const shutdown = shutdownCoordinator(r, 30);
    void shutdown.begin('SIGTERM');
    await until(() => steps(r).includes('close_listeners'));
    client.on('data', (chunk: Buffer) => received.push(chunk));
    client.resume();
    const [answer, ...more] = answersIn(await closed);
    expect(await shutdown.done).toBe(0);
    expect(answer.status).toBe(200);
    // Before: 4,193,536 of 4,197,824 bytes, then the connection closed.
    expect(answer.body.length).toBe(size);
    expect(more).toEqual([]);
  });

  it('answers 503 to a WebSocket upgrade whose turn comes once the listeners have closed, behind an answer still going out, and never sends it to Vidispine', async () => {
    r = await startApp({ raw: { proxy: { accessLog: true } } });
    const size = 16 * MiB;
    const client = await pipelining(
      r.port(),
      `GET /API/storage/file/VX-1/data?size=${size} HTTP/1.1\r\nHost: x\r\n\r\n${UPGRADE}`,
    );
    // The download's answer is held: its client has not read it yet.
    await until(() => client.proxySide.writableNeedDrain, 10_000, 'the answer held back');
    const shutdown = shutdownCoordinator(r, 30);
    void shutdown.begin('SIGTERM');
    // The delay is over: the upgrade's turn comes during the drain.
    await until(() => steps(r).includes('close_listeners'));
    client.read();
    const [download, upgrade, ...more] = answersIn(await client.closed);
    expect(await shutdown.done).toBe(0);
    // The first answer whole.
    expect(download.status).toBe(200);
    expect(download.body.length).toBe(size);
    // Before: a 101 from Vidispine, then the connection cut as the listener closed.
    expect(upgrade.status).toBe(503);
    expect(upgrade.head).toMatch(/\r\nconnection: close(\r\n|$)/i);
    expect(upgrade.head).toMatch(/\r\nretry-after: 1(\r\n|$)/i);
    expect(upgrade.body.toString()).toBe('the proxy is shutting down\n');
    expect(more).toEqual([]);
    expect(r.sim.calls({ endpoint: 'ws' })).toBe(0);
    // Accounted once: one line, one count each, nothing left in flight.
    const logged = r.logs
      .map((line) => JSON.parse(line) as { event?: string; status?: number; path?: string })
      .filter((l) => l.event === 'request');
    // The upgrade's line may come first: it is refused as the answer ahead of it finishes.
    expect(logged.map((l) => `${l.path ?? ''} ${l.status ?? 0}`).sort()).toEqual([
      '/API/storage/file/VX-1/data?size=16777216 200',
      '/APIWS/echo 503',
    ]);
    expect(r.observer.finished.map((f) => f.status).sort()).toEqual([200, 503]);
    const total = await countsAtRest(r.app);
    expect([total('200'), total('503'), total('101')]).toEqual([1, 1, undefined]);
    expect(r.logs.filter((line) => line.includes('websocket_session_ended'))).toEqual([]);
  });

  it('serves a WebSocket upgrade whose turn comes during the shutdown delay as before the signal (101), and cuts its session with the others once the listeners close', async () => {
    r = await startApp({ raw: { proxy: { accessLog: true } } });
    const { shutdown, delaying, endDelay } = withHeldDelay(r, 30);
    void shutdown.begin('SIGTERM');
    await delaying;
    // One on a new connection, one pipelined behind a request sent after the signal.
    const fresh = await pipelining(r.port(), UPGRADE);
    const behind = await pipelining(
      r.port(),
      `GET /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n${UPGRADE}`,
    );
    fresh.read();
    behind.read();
    await until(() => answersIn(fresh.received()).length === 1, 5000, 'an answer');
    await until(() => answersIn(behind.received()).length === 2, 5000, 'two answers');
    // Before: 503 to both, as if the delay were part of the drain.
    expect(answersIn(fresh.received()).map((a) => a.status)).toEqual([101]);
    const [whoami, upgrade] = answersIn(behind.received());
    expect([whoami.status, upgrade.status]).toEqual([200, 101]);
    // The answer before the upgrade keeps the connection for it.
    expect(whoami.head).toMatch(/\r\nconnection: keep-alive(\r\n|$)/i);
    await expectEcho(fresh);
    await expectEcho(behind);
    expect(r.sim.calls({ endpoint: 'ws' })).toBe(2);
    endDelay();
    expect(await shutdown.done).toBe(0);
    await Promise.all([fresh.closed, behind.closed]);
    // Cut as any open session is, once the listeners have closed and nothing is in flight.
    const logged = r.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    const ended = logged.filter((l) => l.event === 'websocket_session_ended');
    expect(ended).toEqual([
      expect.objectContaining({ end: 'shutdown', bytesReceived: 8, bytesSent: 4 }),
      expect.objectContaining({ end: 'shutdown', bytesReceived: 8, bytesSent: 4 }),
    ]);
    expect(steps(r)).toEqual(['begin', 'close_listeners', 'drained', 'exit']);
    // Accounted once each.
    expect(r.observer.finished.map((f) => f.status).sort()).toEqual([101, 101, 200]);
    const total = await countsAtRest(r.app);
    expect([total('101'), total('200'), total('503')]).toEqual([2, 1, undefined]);
  });

  it('answers 503 to a WebSocket upgrade admitted during the delay whose token comes once the listeners have closed, and never sends it to Vidispine', async () => {
    const sim = createSimulator();
    await sim.listen(0, '127.0.0.1');
    const gate = await mintGate(sim);
    try {
      // Mints go through the gate, held; requests go to the simulator itself.
      r = await startApp({
        sim,
        noWait: true,
        vidispine: { url: gate.url },
        forwardTo: sim.url,
        raw: { proxy: { accessLog: true } },
      });
      await until(() => gate.held() === 1, 5000, 'the mint held');
      const { shutdown, delaying, endDelay } = withHeldDelay(r, 30);
      void shutdown.begin('SIGTERM');
      await delaying;
      // Admitted during the delay: it waits for its token.
      const client = await pipelining(r.port(), UPGRADE);
      client.read();
      await until(() => r.app.listeners[0].inFlight() === 1);
      endDelay();
      await until(() => steps(r).includes('close_listeners'));
      gate.release();
      const [upgrade, ...more] = answersIn(await client.closed);
      expect(await shutdown.done).toBe(0);
      // Before: a 101 from Vidispine, then the session cut at once by the drain.
      expect(upgrade?.status).toBe(503);
      expect(upgrade.head).toMatch(/\r\nconnection: close(\r\n|$)/i);
      expect(upgrade.head).toMatch(/\r\nretry-after: 1(\r\n|$)/i);
      expect(upgrade.body.toString()).toBe('the proxy is shutting down\n');
      expect(more).toEqual([]);
      expect(sim.calls({ endpoint: 'ws' })).toBe(0);
      expect(steps(r)).toEqual(['begin', 'close_listeners', 'drained', 'exit']);
      // Accounted once: one line, one count, nothing in flight, no session.
      const logged = r.logs
        .map((line) => JSON.parse(line) as { event?: string; status?: number; path?: string })
        .filter((l) => l.event === 'request' || l.event === 'websocket_session_ended');
      expect(logged.map((l) => `${l.event ?? ''} ${l.path ?? ''} ${l.status ?? 0}`)).toEqual([
        'request /APIWS/echo 503',
      ]);
      expect(r.observer.finished.map((f) => f.status)).toEqual([503]);
      const total = await countsAtRest(r.app);
      expect([total('503'), total('101')]).toEqual([1, undefined]);
      await expectNoSession(r);
    } finally {
      await gate.close();
    }
  });

  it("answers 503 to a WebSocket upgrade Vidispine refused with a 401 during the delay whose replay's token comes once the listeners have closed: a replay not made", async () => {
    const sim = createSimulator();
    await sim.listen(0, '127.0.0.1');
    const gate = await mintGate(sim, false);
    try {
      r = await startApp({
        sim,
        vidispine: { url: gate.url },
        forwardTo: sim.url,
        raw: { proxy: { accessLog: true } },
      });
      // The token the upgrade carries is dead; the new one's mint is held.
      sim.revokeAllTokens();
      gate.hold();
      const { shutdown, delaying, endDelay } = withHeldDelay(r, 30);
      void shutdown.begin('SIGTERM');
      await delaying;
      const client = await pipelining(r.port(), UPGRADE);
      client.read();
      await until(() => gate.held() === 1, 5000, 'the mint for the replay held');
      expect(sim.calls({ endpoint: 'ws' })).toBe(1);
      endDelay();
      await until(() => steps(r).includes('close_listeners'));
      gate.release();
      const [upgrade, ...more] = answersIn(await client.closed);
      expect(await shutdown.done).toBe(0);
      // Before: the replay went to Vidispine, got its 101, and had its session cut at once.
      expect(upgrade?.status).toBe(503);
      expect(upgrade.head).toMatch(/\r\nretry-after: 1(\r\n|$)/i);
      expect(upgrade.body.toString()).toBe('the proxy is shutting down\n');
      expect(more).toEqual([]);
      expect(sim.calls({ endpoint: 'ws' })).toBe(1);
      const logged = r.logs
        .map((line) => JSON.parse(line) as { event?: string; status?: number; replayed?: boolean })
        .filter((l) => l.event === 'request' || l.event === 'websocket_session_ended');
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ event: 'request', status: 503, replayed: false });
      expect(r.observer.finished.map((f) => f.status)).toEqual([503]);
      // The 401 counted once, as a replay not made.
      expect(r.observer.unauthorized).toEqual([{ user: 'alice', retried: false }]);
      await countsAtRest(r.app);
      await expectNoSession(r);
    } finally {
      await gate.close();
    }
  });

  it.each([
    ['a WebSocket upgrade', UPGRADE],
    ['a request', 'GET /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n'],
    // Its body is still coming when the answer ahead is out: dropped unread, it had the
    // connection reset under the answer's last bytes.
    [
      'an upload',
      `POST /API/upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${MiB}\r\n\r\n${'u'.repeat(MiB)}`,
    ],
  ])(
    'neither processes nor counts %s sent behind the answer that closes the connection during the delay, and that answer arrives whole',
    async (_kind, behind) => {
      r = await startApp({ raw: { proxy: { accessLog: true } } });
      const { shutdown, delaying, endDelay } = withHeldDelay(r, 30);
      void shutdown.begin('SIGTERM');
      await delaying;
      const size = 16 * MiB;
      const client = await pipelining(
        r.port(),
        `GET /API/storage/file/VX-1/data?size=${size} HTTP/1.1\r\nHost: x\r\n\r\n`,
      );
      // Its answer, the last owed on the connection, says `close` and is held going out.
      await until(() => client.proxySide.writableNeedDrain, 10_000, 'the answer held back');
      const started = r.observer.started;
      client.client.write(behind);
      await until(() => client.proxySide.bytesRead > 100, 5000, 'the request behind read');
      client.read();
      const [download, ...more] = answersIn(await client.closed);
      expect(download.status).toBe(200);
      expect(download.head).toMatch(/\r\nconnection: close(\r\n|$)/i);
      expect(download.body.length).toBe(size);
      expect(more).toEqual([]);
      endDelay();
      expect(await shutdown.done).toBe(0);
      // Before: the upgrade counted and access-logged 499, as if its client had gone away.
      expect(r.observer.started).toBe(started);
      expect(r.observer.finished.map((f) => f.status)).toEqual([200]);
      const logged = r.logs.filter((line) => line.includes('"event":"request"'));
      expect(logged).toHaveLength(1);
      expect(r.sim.calls({ endpoint: 'ws' })).toBe(0);
      expect(r.sim.calls({ endpoint: 'api' })).toBe(1);
      expect(r.app.listeners[0].inFlight()).toBe(0);
    },
  );

  it('answers 503 to a WebSocket upgrade pipelined behind a request Vidispine answers once the listeners have closed; that answer keeps the connection for it', async () => {
    r = await startApp({ raw: { proxy: { accessLog: true } } });
    const client = await pipelining(
      r.port(),
      `GET /API/slow?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n${UPGRADE}`,
    );
    client.read();
    await until(() => r.sim.inFlightRequests() === 1);
    const shutdown = shutdownCoordinator(r, 30);
    void shutdown.begin('SIGTERM');
    const [slow, upgrade, ...more] = answersIn(await client.closed);
    expect(await shutdown.done).toBe(0);
    // Before: the slow answer said `close`, as if it were the last one owed, and the upgrade
    // was never answered, logged 499 as if its client had gone away.
    expect(slow.status).toBe(200);
    expect(slow.head).toMatch(/\r\nconnection: keep-alive(\r\n|$)/i);
    expect(upgrade?.status).toBe(503);
    expect(upgrade.head).toMatch(/\r\nconnection: close(\r\n|$)/i);
    expect(more).toEqual([]);
    expect(r.sim.calls({ endpoint: 'ws' })).toBe(0);
    expect(r.observer.finished.map((f) => f.status).sort()).toEqual([200, 503]);
    expect(r.app.listeners[0].inFlight()).toBe(0);
  });

  it('answers its 405 to a CONNECT pipelined behind a request Vidispine answers after the signal', async () => {
    r = await startApp();
    const client = await pipelining(
      r.port(),
      'GET /API/slow?ms=300 HTTP/1.1\r\nHost: x\r\n\r\nCONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n',
    );
    client.read();
    await until(() => r.sim.inFlightRequests() === 1);
    const shutdown = shutdownCoordinator(r, 30);
    void shutdown.begin('SIGTERM');
    const [slow, connect, ...more] = answersIn(await client.closed);
    expect(await shutdown.done).toBe(0);
    // Before: the slow answer said `close`, and the CONNECT had no answer at all.
    expect(slow.head).toMatch(/\r\nconnection: keep-alive(\r\n|$)/i);
    expect(connect?.status).toBe(405);
    expect(connect.head).toMatch(/\r\nconnection: close(\r\n|$)/i);
    expect(more).toEqual([]);
  });

  it('keeps its own status (400) for a WebSocket upgrade admission refuses whose turn comes once the listeners have closed, and processes nothing behind it', async () => {
    r = await startApp({ raw: { proxy: { accessLog: true } } });
    const refused =
      'POST /APIWS/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Content-Length: 0\r\n\r\n';
    const client = await pipelining(
      r.port(),
      `GET /API/slow?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n${refused}GET /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    client.read();
    await until(() => r.sim.inFlightRequests() === 1);
    const shutdown = shutdownCoordinator(r, 30);
    void shutdown.begin('SIGTERM');
    const answers = answersIn(await client.closed);
    expect(await shutdown.done).toBe(0);
    // Admission's refusal, not the shutdown's 503; the GET behind it is never processed.
    expect(answers.map((a) => a.status)).toEqual([200, 400]);
    expect(answers[1].head).toMatch(/\r\nconnection: close(\r\n|$)/i);
    expect(r.observer.finished.map((f) => `${f.method} ${f.status}`).sort()).toEqual([
      'GET 200',
      'POST 400',
    ]);
    expect(r.sim.calls({ endpoint: 'api' })).toBe(1);
    expect(r.app.listeners[0].inFlight()).toBe(0);
  });

  it("waits, as for any request in flight, for Vidispine's answer to a WebSocket upgrade sent before the listeners closed", async () => {
    const sockets: net.Socket[] = [];
    const upstream = await startRawUpstream((_request, socket) => {
      sockets.push(socket);
      return 'hang';
    });
    try {
      r = await startApp({ forwardTo: upstream.url });
      const client = net.connect(r.port(), '127.0.0.1');
      const received: Buffer[] = [];
      client.on('data', (chunk: Buffer) => received.push(chunk));
      client.on('error', () => undefined);
      const closed = new Promise<string>((resolve) =>
        client.on('close', () => resolve(Buffer.concat(received).toString('latin1'))),
      );
      client.write(UPGRADE);
      await upstream.received(1);
      const shutdown = shutdownCoordinator(r, 30);
      void shutdown.begin('SIGTERM');
      await until(() => steps(r).includes('close_listeners'));
      sockets[0].write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n',
      );
      expect(await shutdown.done).toBe(0);
      // Before: the connection was cut at once, the handshake unanswered and never counted.
      // The session, once switched, is cut as any open WebSocket is.
      expect((await closed).split('\r\n')[0]).toBe('HTTP/1.1 101 Switching Protocols');
      expect(r.observer.finished.map((f) => f.status)).toEqual([101]);
      expect(steps(r)).toEqual(['begin', 'close_listeners', 'drained', 'exit']);
    } finally {
      await upstream.close();
    }
  });

  it('logs an open WebSocket session the drain cuts as ended by the shutdown, with its bytes', async () => {
    r = await startApp({ raw: { proxy: { accessLog: true } } });
    const client = net.connect(r.port(), '127.0.0.1');
    client.on('error', () => undefined);
    let received = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => (received = Buffer.concat([received, chunk])));
    const closed = new Promise((resolve) => client.on('close', resolve));
    client.write(UPGRADE);
    const afterHead = (): number => received.length - (received.indexOf('\r\n\r\n') + 4);
    await until(() => received.includes('\r\n\r\n'), 5000, 'the 101');
    // "hi", masked with a zero key (6 + 2 bytes); echoed unmasked (2 + 2).
    client.write(Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]));
    await until(() => afterHead() === 4, 5000, 'the echo');
    const shutdown = shutdownCoordinator(r, 30);
    void shutdown.begin('SIGTERM');
    expect(await shutdown.done).toBe(0);
    await closed;
    const logged = r.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    const ended = logged.filter((l) => l.event === 'websocket_session_ended');
    // Before: none; the session's end was in no line.
    expect(ended).toEqual([
      expect.objectContaining({ end: 'shutdown', bytesReceived: 8, bytesSent: 4, user: 'alice' }),
    ]);
    // Written as it was cut, before the process's exit.
    expect(logged.indexOf(ended[0])).toBeLessThan(logged.findIndex((l) => l.step === 'exit'));
    expect(steps(r)).toEqual(['begin', 'close_listeners', 'drained', 'exit']);
  });

  it('logs an open WebSocket session once when the drain window ends, through its grace and the cut after it', async () => {
    r = await startApp({ raw: { proxy: { accessLog: true } } });
    const slow = slowRequest(r.port(), 60_000);
    await until(() => r.sim.inFlightRequests() === 1);
    // The proxy's end of the session's client connection: its close comes after the cut.
    const accepted: net.Socket[] = [];
    const onSocket = (message: unknown): void => {
      accepted.push((message as { socket: net.Socket }).socket);
    };
    diagnostics.subscribe('net.server.socket', onSocket);
    const client = net.connect(r.port(), '127.0.0.1');
    try {
      client.on('error', () => undefined);
      let received = '';
      client.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
      client.write(UPGRADE);
      await until(() => received.includes('\r\n\r\n'), 5000, 'the 101');
    } finally {
      diagnostics.unsubscribe('net.server.socket', onSocket);
    }
    const ours = accepted.find((socket) => socket.remotePort === client.localPort);
    const closed = new Promise((resolve) => ours?.once('close', resolve));
    const shutdown = shutdownCoordinator(r, 0.2);
    void shutdown.begin('SIGTERM');
    expect(await shutdown.done).toBe(0);
    await closed;
    await slow;
    const logged = r.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    const ended = logged.filter((l) => l.event === 'websocket_session_ended');
    // Seen by the cut at the window's end, the one after its grace, and its close events.
    expect(ended).toEqual([expect.objectContaining({ end: 'shutdown' })]);
    expect(logged.indexOf(ended[0])).toBeLessThan(logged.findIndex((l) => l.step === 'exit'));
    expect(steps(r)).toEqual(['begin', 'close_listeners', 'drain_timeout', 'exit']);
  });

  it('counts a WebSocket upgrade still unanswered when the drain window ends as cut by the proxy (444)', async () => {
    const upstream = await startRawUpstream(() => 'hang');
    try {
      r = await startApp({ forwardTo: upstream.url });
      const client = net.connect(r.port(), '127.0.0.1');
      client.on('error', () => undefined);
      const closed = new Promise((resolve) => client.on('close', resolve));
      client.write(UPGRADE);
      await upstream.received(1);
      const shutdown = shutdownCoordinator(r, 0.2);
      void shutdown.begin('SIGTERM');
      expect(await shutdown.done).toBe(0);
      await closed;
      // Before: 499, as if its client had gone away.
      expect(r.observer.finished.map((f) => f.status)).toEqual([444]);
      expect(r.observer.upstreamErrors).toEqual([]);
      expect(r.app.listeners[0].inFlight()).toBe(0);
    } finally {
      await upstream.close();
    }
  });

  it('accounts for every request in flight before a second signal exits: counted, access-logged, none left in flight', async () => {
    const upstream = await startRawUpstream(() => 'hang');
    try {
      r = await startApp({ forwardTo: upstream.url, raw: { proxy: { accessLog: true } } });
      const app = r.app;
      for (const bytes of [
        'GET /API/item HTTP/1.1\r\nHost: x\r\n\r\n',
        'PUT /API/item HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n',
        UPGRADE,
      ]) {
        const client = net.connect(r.port(), '127.0.0.1');
        client.on('error', () => undefined);
        client.write(bytes);
      }
      await until(() => upstream.heads.length === 3);
      const logs = r.logs;
      const atExit: { statuses: number[]; lines: string[]; inFlight: number }[] = [];
      const shutdown = shutdownCoordinator(r, 60, {
        exit: () =>
          atExit.push({
            statuses: r.observer.finished.map((f) => f.status).sort(),
            lines: logs.filter((line) => line.includes('"event":"request"')),
            inFlight: app.listeners[0].inFlight(),
          }),
      });
      void shutdown.begin('SIGTERM');
      void shutdown.begin('SIGTERM');
      // Before: only the upgrade's (its handler reports it at the cut); the request's and the
      // upload's were left to close events the exit does not wait for.
      expect(atExit).toEqual([
        { statuses: [444, 444, 503], lines: expect.any(Array) as unknown, inFlight: 0 },
      ]);
      expect(atExit[0].lines).toHaveLength(3);
      // Counted once: the close events that follow, and the first signal's sequence ending
      // (the ops listener with it), add nothing. The upgrade and the request are both GETs.
      expect(await shutdown.done).toBe(0);
      const total = await countsAtRest(app);
      expect([total('444'), total('503', 'PUT')]).toEqual([2, 1]);
      expect(r.observer.finished).toHaveLength(3);
    } finally {
      await upstream.close();
    }
  });

  it("counts a request Vidispine had whole and had not answered when the drain window ends as the proxy's close, not as a failure of Vidispine", async () => {
    const upstream = await startRawUpstream(() => 'hang');
    try {
      r = await startApp({ forwardTo: upstream.url, raw: { proxy: { accessLog: true } } });
      // Without a body (undici's pool) and with one (node:http).
      const requests = [
        'GET /API/item HTTP/1.1\r\nHost: x\r\n\r\n',
        'POST /API/item HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi',
      ].map((bytes) => {
        const client = net.connect(r.port(), '127.0.0.1');
        const received: Buffer[] = [];
        client.on('data', (chunk: Buffer) => received.push(chunk));
        client.on('error', () => undefined);
        client.write(bytes);
        return new Promise<number>((resolve) =>
          client.on('close', () => resolve(Buffer.concat(received).length)),
        );
      });
      await upstream.received(2);
      const shutdown = shutdownCoordinator(r, 0.2);
      void shutdown.begin('SIGTERM');
      expect(await shutdown.done).toBe(0);
      // Vidispine may have acted on them: the connections close without an answer.
      expect(await Promise.all(requests)).toEqual([0, 0]);
      // Before: both logged 502 with an upstream_error ("The client is destroyed", "socket
      // hang up") counted against Vidispine, for aborts the proxy made itself.
      expect(r.observer.upstreamErrors).toEqual([]);
      expect(r.observer.finished.map((f) => f.status)).toEqual([444, 444]);
      expect(r.logs.filter((line) => line.includes('"upstream_error"'))).toEqual([]);
      expect(r.app.listeners[0].inFlight()).toBe(0);
    } finally {
      await upstream.close();
    }
  });
});
