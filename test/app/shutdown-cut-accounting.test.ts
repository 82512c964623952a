/**
 * Every request in flight when the proxy cuts its connections is accounted for exactly once
 * — one access line, one count, one duration, in flight back to 0 — whether a second signal
 * cuts it (and the exit follows in the same turn) or the drain window's end does.
 */
import * as diagnostics from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import * as net from 'node:net';
import type { ShutdownCoordinator, ShutdownSteps } from '../../src/ops/shutdown';
import { parseExposition, samples, value } from '../support/prom-parse';
import { shutdownCoordinator, startApp, type RunningApp } from '../support/app';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream';
import { until } from '../support/wait';

const UPGRADE = (path: string): string =>
  `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
  'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';

let r: RunningApp | undefined;
let upstream: RawUpstream;
const clients: net.Socket[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await r?.close();
  r = undefined;
  await upstream.close();
});

function open(port: number, bytes: string): net.Socket {
  const client = net.connect(port, '127.0.0.1');
  client.on('error', () => undefined);
  client.on('data', () => undefined);
  client.write(bytes);
  clients.push(client);
  return client;
}

interface Line {
  event?: string;
  method?: string;
  path?: string;
  status?: number;
  replayed?: boolean;
}

function requestLines(logs: readonly string[]): string[] {
  return logs
    .map((line) => JSON.parse(line) as Line)
    .filter((l) => l.event === 'request')
    .map((l) => `${l.method} ${l.path} ${l.status}${l.replayed === true ? ' replayed' : ''}`)
    .sort();
}

/**
 * Requests of every kind in flight at once, and what each must be logged as once cut: held
 * at Vidispine, HEAD, pipelined behind one held, a refusal queued behind one held, an upload
 * still coming, an upgrade unanswered, a WebSocket session open (logged at its 101 only), a
 * keep-alive connection idle (nothing), a replay after a 401 held at Vidispine.
 */
async function everyKindInFlight(app: RunningApp): Promise<string[]> {
  const port = app.port();
  // Idle keep-alive: answered before, nothing in flight.
  const idle = open(port, 'GET /API/done HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise((resolve) => idle.once('data', resolve));
  // A WebSocket session, open.
  const session = open(port, UPGRADE('/APIWS/open'));
  await new Promise((resolve) => session.once('data', resolve));
  // The replay: Vidispine refuses the token, the store finds it dead, the replay is held.
  app.sim.revokeAllTokens();
  open(port, 'GET /API/replay HTTP/1.1\r\nHost: x\r\n\r\n');
  await until(() => upstream.heads.filter((h) => h.target === '/API/replay').length === 2);
  open(port, 'GET /API/held/one HTTP/1.1\r\nHost: x\r\n\r\n');
  open(port, 'HEAD /API/held/head HTTP/1.1\r\nHost: x\r\n\r\n');
  open(
    port,
    'GET /API/held/first HTTP/1.1\r\nHost: x\r\n\r\n' +
      'GET /API/held/second HTTP/1.1\r\nHost: x\r\n\r\n' +
      'TRACE /API/refused HTTP/1.1\r\nHost: x\r\n\r\n',
  );
  open(
    port,
    'PUT /API/held/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n',
  );
  open(port, UPGRADE('/APIWS/held'));
  // Behind an answer that closes its connection: never processed, so not counted.
  open(port, `TRACE /API/closing HTTP/1.1\r\nHost: x\r\n\r\n${UPGRADE('/APIWS/behind')}`);
  // Behind a request held at Vidispine: its turn never comes.
  open(port, `GET /API/held/ahead HTTP/1.1\r\nHost: x\r\n\r\n${UPGRADE('/APIWS/queued')}`);
  await until(() => upstream.heads.filter((h) => h.target.includes('held')).length === 6);
  await until(() => app.app.listeners[0].inFlight() === 10);
  return [
    'GET /API/done 200',
    'GET /APIWS/open 101',
    'GET /API/replay 444 replayed',
    'GET /API/held/one 444',
    'HEAD /API/held/head 444',
    'GET /API/held/first 444',
    'GET /API/held/second 444',
    'TRACE /API/refused 444',
    'PUT /API/held/upload 503',
    'GET /APIWS/held 444',
    'TRACE /API/closing 405',
    'GET /API/held/ahead 444',
    'GET /APIWS/queued 444',
  ].sort();
}

beforeEach(async () => {
  let replays = 0;
  upstream = await startRawUpstream((request) => {
    if (request.target === '/API/done') return 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
    if (request.target === '/APIWS/open') {
      return 'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n';
    }
    if (request.target === '/API/replay' && (replays += 1) === 1) {
      return 'HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n';
    }
    return 'hang';
  });
});

async function expectEachOnce(app: RunningApp, expected: readonly string[]): Promise<void> {
  expect(requestLines(app.logs)).toEqual(expected);
  expect(app.observer.finished).toHaveLength(expected.length);
  const metrics = parseExposition(await app.app.metrics.render());
  expect(value(metrics, 'vidispine_auth_proxy_requests_in_flight', {})).toBe(0);
  const total = samples(metrics, 'vidispine_auth_proxy_requests_total').reduce(
    (n, s) => n + s.value,
    0,
  );
  expect(total).toBe(expected.length);
  expect(
    value(metrics, 'vidispine_auth_proxy_request_duration_seconds_count', { user: 'alice' }),
  ).toBe(expected.length);
}

/** The app, its access log on, forwarding to the raw upstream. */
async function startLogging(): Promise<RunningApp> {
  r = await startApp({ forwardTo: upstream.url, raw: { proxy: { accessLog: true } } });
  return r;
}

/**
 * A shutdown of `app`, at once and with `drainSeconds` of drain; `atExit` has the access lines
 * written by the time of each exit.
 */
function shutdownOf(
  app: RunningApp,
  drainSeconds: number,
  steps: ShutdownSteps = app.app.shutdownSteps,
): { shutdown: ShutdownCoordinator; atExit: string[][] } {
  const atExit: string[][] = [];
  const shutdown = shutdownCoordinator(app, drainSeconds, {
    steps,
    exit: () => atExit.push(requestLines(app.logs)),
  });
  return { shutdown, atExit };
}

/** A SIGTERM, then a second once the listeners are closing (the drain is under way). */
async function secondSignalInDrain(app: RunningApp, shutdown: ShutdownCoordinator): Promise<void> {
  void shutdown.begin('SIGTERM');
  await until(() => app.logs.some((l) => l.includes('"step":"close_listeners"')));
  void shutdown.begin('SIGTERM');
}

it('a second signal accounts for each request in flight once, before the exit and after', async () => {
  const app = await startLogging();
  const expected = await everyKindInFlight(app);
  const { shutdown, atExit } = shutdownOf(app, 60);
  await secondSignalInDrain(app, shutdown);
  expect(atExit).toEqual([expected]);
  expect(app.app.listeners[0].inFlight()).toBe(0);
  expect(await shutdown.done).toBe(0);
  await expectEachOnce(app, expected);
});

it("the drain window's end accounts for each request in flight once", async () => {
  const app = await startLogging();
  const expected = await everyKindInFlight(app);
  const { shutdown } = shutdownOf(app, 0.2);
  void shutdown.begin('SIGTERM');
  expect(await shutdown.done).toBe(0);
  await until(() => app.app.listeners[0].inFlight() === 0);
  await expectEachOnce(app, expected);
});

it('a second signal accounts for a request waiting for its token, and one waiting for the new token after a 401, as their 503', async () => {
  const app = await startLogging();
  app.sim.revokeAllTokens();
  app.sim.failTokenEndpoints({ kind: 'delay', ms: 60_000 });
  const mints = (): number =>
    app.sim.calls({ endpoint: 'token' }) + app.sim.calls({ endpoint: 'user_token' });
  const before = mints();
  open(app.port(), 'GET /API/replay HTTP/1.1\r\nHost: x\r\n\r\n');
  await until(() => mints() > before);
  open(app.port(), 'GET /API/held/token HTTP/1.1\r\nHost: x\r\n\r\n');
  await until(() => app.app.listeners[0].inFlight() === 2);
  const { shutdown, atExit } = shutdownOf(app, 60);
  await secondSignalInDrain(app, shutdown);
  const expected = ['GET /API/held/token 503', 'GET /API/replay 503'];
  expect(atExit).toEqual([expected]);
  expect(await shutdown.done).toBe(0);
  await expectEachOnce(app, expected);
});

it("a cut in the instant after an answer finished, before its close, logs the answer's status", async () => {
  const app = await startLogging();
  const onFinish = (message: unknown): void => {
    if ((message as { request: IncomingMessage }).request.url !== '/API/done') return;
    // Node has detached the finished answer from its connection; its `close` is next.
    process.nextTick(() => void app.app.listeners[0].destroy());
  };
  diagnostics.subscribe('http.server.response.finish', onFinish);
  try {
    open(app.port(), 'GET /API/done HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => requestLines(app.logs).length === 1);
  } finally {
    diagnostics.unsubscribe('http.server.response.finish', onFinish);
  }
  // Before: 499, as if its client had gone before the answer it got whole.
  expect(requestLines(app.logs)).toEqual(['GET /API/done 200']);
  await expectEachOnce(app, ['GET /API/done 200']);
});

it("a second signal during the grace after the drain window's end accounts for each request once", async () => {
  const app = await startLogging();
  const expected = await everyKindInFlight(app);
  const steps = app.app.shutdownSteps;
  let secondSignal!: () => void;
  const secondSent = new Promise<void>((resolve) => (secondSignal = resolve));
  const { shutdown, atExit } = shutdownOf(app, 0.2, {
    ...steps,
    // The second signal comes the moment the cut returns: the upload's 503 is out and its
    // connection in its grace (its client reads nothing), however late a poll of the logs
    // would have seen the drain window's end on a loaded machine.
    abortInFlight: (grace) => {
      const cut = steps.abortInFlight(grace);
      if (grace === true) {
        void shutdown.begin('SIGTERM');
        secondSignal();
      }
      return cut;
    },
  });
  void shutdown.begin('SIGTERM');
  await secondSent;
  expect(atExit).toEqual([expected]);
  expect(await shutdown.done).toBe(0);
  await expectEachOnce(app, expected);
});
