/**
 * The WebSocket sessions open, on `/metrics` of the real ops listener: one more from the `101`
 * relayed to its client, one less exactly once at its end, whatever ends it — either side's
 * close, an error, the send timeout, the shutdown's cut at the drain's end or a second signal
 * — and each end counted once, by what ended it.
 */
import * as diagnostics from 'node:diagnostics_channel';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { ALICE, shutdownCoordinator, startApp, type RunningApp } from '../support/app';
import { pumpUntilClosed, stopReading } from '../support/stalled-reader';
import { parseExposition, value, type Exposition } from '../support/prom-parse';
import { HANG_GUARD_MS, settle, until } from '../support/wait';

const OPEN = 'vidispine_auth_proxy_websocket_sessions_open';
const ENDED = 'vidispine_auth_proxy_websocket_sessions_ended_total';
const ENDS = ['client_closed', 'upstream_closed', 'error', 'shutdown', 'timeout'] as const;
/** The sessions ended, by what ended them: each end's series from the first scrape. */
const NONE_ENDED = { client_closed: 0, upstream_closed: 0, error: 0, shutdown: 0, timeout: 0 };
const BOB = { name: 'bob', password: 'bob-password', listen: '127.0.0.1:0' };

const upgradeTo = (target: string): string =>
  `GET ${target} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

/** Vidispine's `101`, as a raw upstream sends it. */
const SWITCHED =
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n';

/** A client's close frame, masked with a zero key, as a client's must be (RFC 6455 §5.3). */
const CLOSE_FRAME = Buffer.from([0x88, 0x80, 0, 0, 0, 0]);

interface Session {
  /** The client's end. */
  readonly socket: net.Socket;
  /**
   * The `close` of the proxy's end of the client's connection: the session is over (its own
   * listener has run by the time anything awaiting this does).
   */
  readonly closed: Promise<void>;
}

/** The `close` of each connection the proxy accepted, by the client's port. */
const accepted = new Map<number, Promise<void>>();
const onSocket = (message: unknown): void => {
  const socket = (message as { socket: net.Socket }).socket;
  accepted.set(
    socket.remotePort ?? 0,
    new Promise((resolve) => socket.once('close', () => resolve())),
  );
};
beforeAll(() => diagnostics.subscribe('net.server.socket', onSocket));
afterAll(() => diagnostics.unsubscribe('net.server.socket', onSocket));

/** Opens a session on `port` and resolves once the client has its `101`. */
async function openSession(port: number, target = '/APIWS/echo'): Promise<Session> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  let head = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      socket.resume();
      if (head.startsWith('HTTP/1.1 101 ')) resolve();
      else reject(new Error(`not switched: ${head}`));
    };
    socket.on('data', onData);
    socket.write(upgradeTo(target));
  });
  const closed = accepted.get(socket.localPort ?? 0);
  if (closed === undefined) throw new Error('the proxy accepted no such connection');
  accepted.delete(socket.localPort ?? 0);
  return { socket, closed };
}

/** Resolves once the proxy's end of `session`'s client connection closed: the session is over. */
const over = (session: Session): Promise<void> => session.closed;

/**
 * The sessions open by user, from `/metrics`, once every callback pending has run: a session
 * counted down twice would show here as one less.
 */
async function open(r: RunningApp): Promise<Record<string, number | undefined>> {
  await settle();
  await settle();
  const metrics = await r.metrics();
  return {
    alice: value(metrics, OPEN, { user: 'alice' }),
    bob: value(metrics, OPEN, { user: 'bob' }),
  };
}

async function openOf(r: RunningApp): Promise<number | undefined> {
  return (await open(r)).alice;
}

function endedIn(metrics: Exposition): Record<string, number | undefined> {
  return Object.fromEntries(ENDS.map((end) => [end, value(metrics, ENDED, { end })]));
}

/** The sessions ended by what ended them, from `/metrics`, as `open` reads them. */
async function ended(r: RunningApp): Promise<Record<string, number | undefined>> {
  await settle();
  await settle();
  return endedIn(await r.metrics());
}

const total = (counts: Record<string, number | undefined>): number =>
  Object.values(counts).reduce<number>((n, c) => n + (c ?? 0), 0);

let r: RunningApp | undefined;
afterEach(async () => {
  await r?.close();
  r = undefined;
});

describe('the WebSocket sessions open', () => {
  it('are 0 for every configured user from the first scrape, and a refused upgrade is none', async () => {
    const app = await startApp({ raw: { users: [ALICE, BOB] } });
    r = app;
    expect(await open(app)).toEqual({ alice: 0, bob: 0 });
    app.sim.setBackendAvailable(false);
    const refused = net.connect(app.port(), '127.0.0.1');
    refused.on('error', () => undefined);
    let answer = '';
    refused.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    const closed = new Promise((resolve) => refused.once('close', resolve));
    refused.write(upgradeTo('/APIWS/echo'));
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    expect(await open(app)).toEqual({ alice: 0, bob: 0 });
    expect(await ended(app)).toEqual(NONE_ENDED);
  });

  it('count each from its 101 to its end, by user, whichever side ends it and however', async () => {
    const app = await startApp({ raw: { users: [ALICE, BOB] } });
    r = app;
    const sessions = await Promise.all([
      openSession(app.port('alice')),
      openSession(app.port('alice')),
      openSession(app.port('alice')),
      openSession(app.port('bob')),
    ]);
    const [byClient, byUpstream, byError, bobs] = sessions;
    // Before: no such series; requests_in_flight leaves the sessions out once switched.
    expect(await open(app)).toEqual({ alice: 3, bob: 1 });
    expect(await app.metric('vidispine_auth_proxy_requests_in_flight')).toBe(0);

    // The client half-closes: the session ends with its close.
    byClient.socket.end();
    await over(byClient);
    expect(await open(app)).toEqual({ alice: 2, bob: 1 });
    expect(await ended(app)).toEqual({ ...NONE_ENDED, client_closed: 1 });

    // A close handshake: Vidispine closes the TCP connection first.
    byUpstream.socket.write(CLOSE_FRAME);
    await over(byUpstream);
    expect(await open(app)).toEqual({ alice: 1, bob: 1 });
    expect(await ended(app)).toEqual({ ...NONE_ENDED, client_closed: 1, upstream_closed: 1 });

    // A reset: the client connection's error.
    byError.socket.resetAndDestroy();
    await over(byError);
    expect(await open(app)).toEqual({ alice: 0, bob: 1 });
    expect(await ended(app)).toEqual({
      ...NONE_ENDED,
      client_closed: 1,
      upstream_closed: 1,
      error: 1,
    });

    // The client goes without a word.
    bobs.socket.destroy();
    await over(bobs);
    expect(await open(app)).toEqual({ alice: 0, bob: 0 });
    expect(await ended(app)).toEqual({
      ...NONE_ENDED,
      client_closed: 2,
      upstream_closed: 1,
      error: 1,
    });
  });

  it('end at exactly 0 when many are opened and closed at once, each way', async () => {
    const app = await startApp();
    r = app;
    const sessions = await Promise.all(Array.from({ length: 60 }, () => openSession(app.port())));
    expect(await openOf(app)).toBe(60);
    sessions.forEach((session, i) => {
      if (i % 3 === 0) session.socket.end();
      else if (i % 3 === 1) session.socket.write(CLOSE_FRAME);
      else session.socket.resetAndDestroy();
    });
    await Promise.all(sessions.map(over));
    expect(await openOf(app)).toBe(0);
    expect(total(await ended(app))).toBe(60);
    // And again, on the same proxy: nothing was left behind by the first round.
    const again = await Promise.all(Array.from({ length: 20 }, () => openSession(app.port())));
    expect(await openOf(app)).toBe(20);
    for (const session of again) session.socket.destroy();
    await Promise.all(again.map(over));
    expect(await openOf(app)).toBe(0);
    expect(total(await ended(app))).toBe(80);
  });

  it('count down the sessions the drain cuts at its end', async () => {
    const app = await startApp();
    r = app;
    const sessions = await Promise.all([openSession(app.port()), openSession(app.port())]);
    expect(await openOf(app)).toBe(2);
    const shutdown = shutdownCoordinator(app, 30);
    void shutdown.begin('SIGTERM');
    expect(await shutdown.done).toBe(0);
    await Promise.all(sessions.map(over));
    // The ops listener is closed by the shutdown's end: the registry is read directly.
    const metrics = await app.app.metrics.render();
    expect(metrics).toContain(`${OPEN}{user="alice"} 0\n`);
    expect(endedIn(parseExposition(metrics))).toEqual({ ...NONE_ENDED, shutdown: 2 });
  });

  it('count down the sessions a second signal cuts, before its exit', async () => {
    const app = await startApp();
    r = app;
    const sessions = await Promise.all([openSession(app.port()), openSession(app.port())]);
    expect(await openOf(app)).toBe(2);
    // The sessions reported ended by the exit: its scrape, started then, has them.
    const atExit: Promise<string>[] = [];
    const shutdown = shutdownCoordinator(app, 60, {
      exit: () => void atExit.push(app.app.metrics.render()),
    });
    // A request held at Vidispine keeps the drain going until the second signal.
    const held = net.connect(app.port(), '127.0.0.1');
    held.on('error', () => undefined);
    held.write('GET /API/slow?ms=60000 HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => app.sim.inFlightRequests() === 1);
    void shutdown.begin('SIGTERM');
    await until(() => app.logs.some((l) => l.includes('"step":"close_listeners"')));
    void shutdown.begin('SIGTERM');
    expect(atExit).toHaveLength(1);
    const exiting = await atExit[0];
    expect(exiting).toContain(`${OPEN}{user="alice"} 0\n`);
    expect(endedIn(parseExposition(exiting))).toEqual({ ...NONE_ENDED, shutdown: 2 });
    await Promise.all(sessions.map(over));
    // The first signal's sequence went on to its end, the ops listener's close with it.
    const after = await app.app.metrics.render();
    expect(after).toContain(`${OPEN}{user="alice"} 0\n`);
    expect(endedIn(parseExposition(after))).toEqual({ ...NONE_ENDED, shutdown: 2 });
    held.destroy();
  });
});

describe('a WebSocket session cut for its send timeout', () => {
  let upstream: net.Server;
  beforeAll(async () => {
    // Switches, then sends as fast as the proxy takes it, until the session ends.
    upstream = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => {
        socket.write(SWITCHED);
        pumpUntilClosed(socket);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise((resolve) => upstream.close(resolve)));

  it(
    'is counted down once, at the cut',
    async () => {
      const port = (upstream.address() as AddressInfo).port;
      const app = await startApp({
        forwardTo: `http://127.0.0.1:${port}`,
        raw: { proxy: { sendTimeoutSeconds: 0.5 } },
      });
      r = app;
      accepted.clear();
      const client = stopReading(app.port(), upgradeTo('/APIWS/events'));
      await until(() => client.received() > 0, 5000, 'the 101');
      expect(await openOf(app)).toBe(1);
      // Cut once the client took nothing for the timeout: the proxy's end of it closes.
      const [closed] = [...accepted.values()];
      await closed;
      expect(await openOf(app)).toBe(0);
      expect(await ended(app)).toEqual({ ...NONE_ENDED, timeout: 1 });
      await client.end();
    },
    HANG_GUARD_MS,
  );
});

describe('a burst of WebSocket sessions ending every way at once', () => {
  let upstream: net.Server;
  /** Vidispine's end of each session, by the number in its path. */
  const upstreams = new Map<number, net.Socket>();
  let heldAtVidispine = 0;
  beforeAll(async () => {
    upstream = net.createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', (request: Buffer) => {
        const session = /^GET \/APIWS\/(\d+) /.exec(request.toString('latin1'))?.[1];
        // Any other request is held, unanswered.
        if (session === undefined) {
          heldAtVidispine += 1;
          return;
        }
        socket.write(SWITCHED);
        upstreams.set(Number(session), socket);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise((resolve) => upstream.close(resolve)));

  it(
    'counts each once: the sessions ended and those open add up to the 101s, and none stays open',
    async () => {
      const port = (upstream.address() as AddressInfo).port;
      const app = await startApp({
        forwardTo: `http://127.0.0.1:${port}`,
        raw: { proxy: { sendTimeoutSeconds: 0.2 } },
      });
      r = app;
      const count = 240;
      const sessions = await Promise.all(
        Array.from({ length: count }, (_, i) => openSession(app.port(), `/APIWS/${i}`)),
      );
      await until(() => upstreams.size === count);
      expect(await openOf(app)).toBe(count);
      // A request held at Vidispine keeps the drain going, for the send timeouts to come
      // within it, until the second signal cuts what is left.
      const held = net.connect(app.port(), '127.0.0.1');
      held.on('error', () => undefined);
      held.write('GET /API/held HTTP/1.1\r\nHost: x\r\n\r\n');
      await until(() => heldAtVidispine === 1);
      const atExit: Promise<string>[] = [];
      const shutdown = shutdownCoordinator(app, 60, {
        exit: () => void atExit.push(app.app.metrics.render()),
      });
      const stalled: Session[] = [];
      sessions.forEach((session, i) => {
        const vidispine = upstreams.get(i);
        if (vidispine === undefined) throw new Error(`no upstream end for session ${i}`);
        const way = i % 8;
        if (way === 0) session.socket.end();
        else if (way === 1) session.socket.resetAndDestroy();
        else if (way === 2) session.socket.destroy();
        else if (way === 3) vidispine.resetAndDestroy();
        else if (way === 4) vidispine.end();
        else if (way === 5) {
          session.socket.pause();
          pumpUntilClosed(vidispine);
          stalled.push(session);
        }
        // The rest are left to the shutdown.
      });
      void shutdown.begin('SIGTERM');
      await Promise.all(stalled.map(over));
      void shutdown.begin('SIGTERM');
      expect(atExit).toHaveLength(1);
      const exiting = parseExposition(await atExit[0]);
      expect(value(exiting, OPEN, { user: 'alice' })).toBe(0);
      expect(total(endedIn(exiting))).toBe(count);
      await Promise.all(sessions.map(over));
      await settle();
      // The ops listener is closed by the shutdown's end: the registry is read directly.
      const after = parseExposition(await app.app.metrics.render());
      const counts = endedIn(after);
      expect(value(after, OPEN, { user: 'alice' })).toBe(0);
      expect(total(counts)).toBe(count);
      const switched = { user: 'alice', method: 'GET', code: '101' };
      expect(value(after, 'vidispine_auth_proxy_requests_total', switched)).toBe(count);
      // 30 each way: a FIN and a close without one are the client's, either side's reset an
      // error; the second signal cut the 60 left.
      expect(counts).toEqual({
        client_closed: 60,
        upstream_closed: 30,
        error: 60,
        timeout: 30,
        shutdown: 60,
      });
      held.destroy();
    },
    HANG_GUARD_MS,
  );
});
