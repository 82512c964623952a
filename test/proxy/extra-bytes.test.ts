/**
 * Vidispine sends more than the answer it framed: bytes after its `Content-Length`. The
 * client gets the answer as framed, the connection that carried the rest is never used
 * again (the next request on it would read them as its answer), and the log says so once,
 * as nginx's "upstream sent more data than specified in Content-Length header" does.
 */
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { createUpstream } from '../../src/proxy/upstream';
import { startApp, type RunningApp } from '../support/app';
import { createTestCa } from '../support/certificates';
import { configWith } from '../support/config-fixtures';
import { tempFolder } from '../support/files';
import { startHttpsFront, type HttpsFront } from '../support/https-front';
import { rawRequest, type RawResult } from '../support/raw-client';
import { header, ok, startRawUpstream, type RawUpstream } from '../support/raw-upstream';
import { settle, until } from '../support/wait';

let upstream: RawUpstream;
let app: RunningApp;
/** The same upstream behind TLS: its close comes as a close_notify first. */
let front: HttpsFront;
let tlsApp: RunningApp;
beforeAll(async () => {
  upstream = await startRawUpstream();
  app = await startApp({ forwardTo: upstream.url });
  const ca = await createTestCa();
  front = await startHttpsFront(ca, upstream.port);
  const caFile = tempFolder('extra-bytes').file(ca.certPem);
  tlsApp = await startApp({ forwardTo: front.url, vidispine: { caFile } });
});
afterAll(async () => {
  await app.close();
  await tlsApp.close();
  front.close();
  await upstream.close();
});

/** Five bytes framed, then `extra`: ten in all for `world`. */
const FIVE_FRAMED = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';

/** A request without a body goes through undici's pool, one with a body through `node:http`. */
const ENGINES = [
  ['GET (undici)', 'GET', '\r\n'],
  ['POST (node:http)', 'POST', 'Content-Length: 2\r\n\r\nhi'],
] as const;

function send(method: string, path: string, rest: string, through = app): Promise<RawResult> {
  return rawRequest(through.port(), `${method} ${path} HTTP/1.1\r\nHost: proxy\r\n${rest}`, {
    head: method === 'HEAD',
  });
}

function extraBytesLines(of = app): Record<string, unknown>[] {
  return of.logs
    .filter((line) => line.includes('"upstream_extra_bytes"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The first request's answer, its warning, and the next request's answer and connection. */
async function firstThenSecond(method: string, rest: string, first: () => Promise<RawResult>) {
  const warned = extraBytesLines().length;
  const answered = await first();
  await until(() => extraBytesLines().length > warned, 5000, 'the warning');
  const next = await send(method, '/API/second', rest);
  const [sentFirst, sentSecond] = upstream.requests.slice(-2);
  return {
    first: answered.responses.map((r) => [r.status, r.header('content-length'), String(r.body)]),
    trailing: answered.trailing,
    second: next.responses.map((r) => [r.status, String(r.body)]),
    sameConnection: sentFirst.connection === sentSecond.connection,
    token: header(sentFirst, 'authorization')?.replace(/^token /, '') ?? '',
    lines: extraBytesLines().slice(warned),
  };
}

describe.each(ENGINES)(
  'an answer with bytes after its Content-Length, %s',
  (_name, method, rest) => {
    it('reaches the client as framed, its connection is not reused, and one warning says so', async () => {
      upstream.respond = (request) =>
        request.target.startsWith('/API/first')
          ? `${FIVE_FRAMED}world`
          : ok(`answer to ${request.target}`);
      const seen = await firstThenSecond(method, rest, () =>
        send(method, '/API/first?token=client-secret', rest),
      );
      expect(seen).toMatchObject({
        first: [[200, '5', 'hello']],
        trailing: '',
        second: [[200, 'answer to /API/second']],
        sameConnection: false,
      });
      expect(seen.lines).toHaveLength(1);
      expect(seen.lines[0]).toMatchObject({
        level: 'warn',
        user: 'alice',
        method,
        // Scrubbed as the access line's path is.
        path: '/API/first?token=[REDACTED]',
      });
      expect(seen.lines[0].msg).toMatch(/^Vidispine sent more than its answer to /);
      const text = JSON.stringify(seen.lines);
      expect(text).not.toContain('client-secret');
      expect(text).not.toContain(seen.token);
    });
  },
);

describe.each(ENGINES)(
  'an answer nobody asked for, after a whole one, %s',
  (_name, method, rest) => {
    it('arriving while the connection waits for its next request: closed, and said', async () => {
      let held: Socket | undefined;
      upstream.respond = (request, socket) => {
        if (request.target !== '/API/forged-later') return ok(`answer to ${request.target}`);
        held = socket;
        return FIVE_FRAMED;
      };
      const seen = await firstThenSecond(method, rest, async () => {
        const answered = await send(method, '/API/forged-later', rest);
        // The answer is whole; its connection waits for the next request when these come.
        held?.write(ok('EVIL!'));
        return answered;
      });
      expect(seen).toMatchObject({
        first: [[200, '5', 'hello']],
        second: [[200, 'answer to /API/second']],
        sameConnection: false,
      });
      expect(seen.lines).toHaveLength(1);
      expect(seen.lines[0]).toMatchObject({ method, path: '/API/forged-later' });
    });
  },
);

it('an answer nobody asked for in the same read: undici closes the connection, and says so', async () => {
  upstream.respond = (request) =>
    request.target === '/API/forged-now'
      ? `${FIVE_FRAMED}${ok('EVIL!')}`
      : ok(`answer to ${request.target}`);
  const seen = await firstThenSecond('GET', '\r\n', () => send('GET', '/API/forged-now', '\r\n'));
  expect(seen).toMatchObject({
    first: [[200, '5', 'hello']],
    second: [[200, 'answer to /API/second']],
    sameConnection: false,
  });
  expect(seen.lines.map((line) => line.path)).toEqual(['/API/forged-now']);
});

/**
 * A connection that ends in order had no byte too many: Vidispine's close of one waiting for
 * its next request (over TLS, a close_notify first), an answer saying it is the last. Each
 * three times, then a request that needs its own answer, on both engines, plain and over TLS.
 */
describe.each(ENGINES)('orderly ends write no warning, %s', (_name, method, rest) => {
  const APPS = [
    ['plain', () => app],
    ['TLS', () => tlsApp],
  ] as const;

  it.each(APPS)('Vidispine closing a kept connection while it waits (%s)', async (_, which) => {
    const through = which();
    const warned = extraBytesLines(through).length;
    let held: Socket | undefined;
    upstream.respond = (request, socket) => {
      held = socket;
      return ok(`answer to ${request.target}`);
    };
    for (let i = 0; i < 3; i++) {
      expect((await send(method, '/API/kept', rest, through)).responses[0].status).toBe(200);
      // Its side closes once the proxy closed its own: the proxy has seen the end.
      await new Promise((resolve) => held?.end().once('close', resolve));
    }
    expect((await send(method, '/API/after', rest, through)).responses[0].status).toBe(200);
    expect(extraBytesLines(through).slice(warned)).toEqual([]);
  });

  it('an answer with Connection: close', async () => {
    for (const [, which] of APPS) {
      const through = which();
      const warned = extraBytesLines(through).length;
      upstream.respond = () =>
        'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi';
      for (let i = 0; i < 3; i++) await send(method, '/API/closing', rest, through);
      upstream.respond = (request) => ok(`answer to ${request.target}`);
      const after = await send(method, '/API/after', rest, through);
      expect(after.responses.map((r) => String(r.body))).toEqual(['answer to /API/after']);
      expect(extraBytesLines(through).slice(warned)).toEqual([]);
    }
  });
});

it('a HEAD answered with the Content-Length of its GET and no body: no warning', async () => {
  for (const through of [app, tlsApp]) {
    const warned = extraBytesLines(through).length;
    upstream.respond = () => 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n';
    for (let i = 0; i < 3; i++) await send('HEAD', '/API/head', '\r\n', through);
    upstream.respond = (request) => ok(`answer to ${request.target}`);
    expect((await send('GET', '/API/after', '\r\n', through)).responses[0].status).toBe(200);
    expect(extraBytesLines(through).slice(warned)).toEqual([]);
  }
});

it('100 requests with a body, one after another: one connection, and no warning', async () => {
  upstream.respond = (request) => ok(`answer to ${request.target}`);
  const warned = extraBytesLines().length;
  const before = upstream.requests.length;
  for (let i = 0; i < 100; i++) {
    const answered = await send('POST', `/API/upload/${i}`, 'Content-Length: 2\r\n\r\nhi');
    expect(answered.responses[0].status).toBe(200);
  }
  const connections = new Set(upstream.requests.slice(before).map((r) => r.connection));
  expect(connections.size).toBe(1);
  expect(extraBytesLines().slice(warned)).toEqual([]);
});

it('a kept connection used 1,000 times holds as many listeners while it waits each time', async () => {
  upstream.respond = (request) => ok(`answer to ${request.target}`);
  const to = createUpstream(configWith({ url: upstream.url }).vidispine);
  const sockets = new Set<Socket>();
  const held = new Set<string>();
  try {
    for (let i = 0; i < 1000; i++) {
      const { agent, hostname, port } = to;
      const req = to.request({ agent, hostname, port, method: 'POST', path: `/API/upload/${i}` });
      req.end('hi');
      const [res] = (await once(req, 'response')) as [IncomingMessage];
      const socket = req.socket as Socket;
      sockets.add(socket);
      // Waiting for its next request from the moment the agent takes it back.
      const free = once(socket, 'free');
      res.resume();
      await free;
      await settle();
      held.add(`data ${socket.listenerCount('data')}, close ${socket.listenerCount('close')}`);
    }
    expect(sockets.size).toBe(1);
    expect([...held]).toHaveLength(1);
  } finally {
    to.agent.destroy();
  }
});

it('a token in the extra bytes is in no line: node:http keeps them on its error, not in its message', async () => {
  const warned = extraBytesLines().length;
  // Vidispine (or a hop) echoing the request's Authorization after its answer.
  upstream.respond = (request) => `${FIVE_FRAMED}${header(request, 'authorization') ?? ''}\r\n\r\n`;
  await send('POST', '/API/echo', 'Content-Length: 2\r\n\r\nhi');
  await until(() => extraBytesLines().length > warned, 5000, 'the warning');
  const token = header(upstream.requests[upstream.requests.length - 1], 'authorization');
  expect(token).toMatch(/^token ./);
  expect(JSON.stringify(extraBytesLines().slice(warned))).not.toContain(token?.slice(6));
});
