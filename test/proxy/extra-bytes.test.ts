/**
 * Vidispine sends more than the answer it framed: bytes after its `Content-Length`. The
 * client gets the answer as framed, the connection that carried the rest is never used
 * again (the next request on it would read them as its answer), and the log says so once,
 * as nginx's "upstream sent more data than specified in Content-Length header" does.
 */
import type { Socket } from 'node:net';
import { startApp, type RunningApp } from '../support/app';
import { rawRequest, type RawResult } from '../support/raw-client';
import { header, ok, startRawUpstream, type RawUpstream } from '../support/raw-upstream';
import { until } from '../support/wait';

let upstream: RawUpstream;
let app: RunningApp;
beforeAll(async () => {
  upstream = await startRawUpstream();
  app = await startApp({ forwardTo: upstream.url });
});
afterAll(async () => {
  await app.close();
  await upstream.close();
});

/** Five bytes framed, then `extra`: ten in all for `world`. */
const FIVE_FRAMED = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';

/** A request without a body goes through undici's pool, one with a body through `node:http`. */
const ENGINES = [
  ['GET (undici)', 'GET', '\r\n'],
  ['POST (node:http)', 'POST', 'Content-Length: 2\r\n\r\nhi'],
] as const;

function send(method: string, path: string, rest: string): Promise<RawResult> {
  return rawRequest(app.port(), `${method} ${path} HTTP/1.1\r\nHost: proxy\r\n${rest}`);
}

function extraBytesLines(): Record<string, unknown>[] {
  return app.logs
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
