/**
 * Answers from Vidispine that cannot be passed on as they are: the client gets 502 with a
 * reason, the connection to Vidispine is dropped, and the proxy keeps serving.
 */
import * as http from 'node:http';
import type * as net from 'node:net';
import { behindRawUpstream } from '../support/behind-raw-upstream';
import { rawRequest } from '../support/raw-client';
import { ok, type RawUpstream, type Responder } from '../support/raw-upstream';
import { call } from '../support/http';
import { connectionEnd } from '../support/net';
import { until } from '../support/wait';
import { startHarness, type Harness } from '../support/app';

const proxy = behindRawUpstream({ vidispine: { readTimeoutSeconds: 0.3 } });
let upstream: RawUpstream;
let h: Harness;
beforeAll(() => ({ upstream, h } = proxy));
beforeEach(() => {
  h.observer.upstreamErrors.length = 0;
});
afterEach(async () => {
  upstream.respond = (request) => ok(`answer ${request.sequence}`);
  // Still serving, nothing left in flight.
  expect((await call(h.port, { path: '/API/whoami' })).status).toBe(200);
  await until(() => h.listeners[0].inFlight() === 0, 2000);
});

const UPGRADE =
  'GET /APIWS/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

const answering =
  (bytes: string): Responder =>
  (request) =>
    request.target === '/API/bad' ? bytes : ok(`answer ${request.sequence}`);

describe('a reason phrase with a control byte', () => {
  it.each(['O\x01K', 'O\x7fK', 'O\x00K', 'O\x1bK'])('%j: 502, never a crash', async (reason) => {
    upstream.respond = answering(`HTTP/1.1 200 ${reason}\r\nContent-Length: 2\r\n\r\nok`);
    const reply = await call(h.port, { path: '/API/bad' });
    expect(reply.status).toBe(502);
    expect(reply.text).toBe('Vidispine sent an answer that is not valid HTTP\n');
    expect(h.observer.upstreamErrors).toEqual(['protocol']);
  });

  it('eleven in a row leave the proxy serving', async () => {
    upstream.respond = answering('HTTP/1.1 200 O\x01K\r\nContent-Length: 2\r\n\r\nok');
    const replies = await Promise.all(
      Array.from({ length: 11 }, () => call(h.port, { path: '/API/bad' })),
    );
    expect(replies.map((r) => r.status)).toEqual(Array(11).fill(502));
  });

  it('on a WebSocket upgrade: 502', async () => {
    upstream.respond = () =>
      'HTTP/1.1 101 Sw\x01tching\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n';
    const result = await rawRequest(h.port, UPGRADE);
    expect(result.responses.map((r) => r.status)).toEqual([502]);
    expect(h.observer.upstreamErrors).toEqual(['protocol']);
  });
});

describe('a reason phrase beyond ASCII (obs-text)', () => {
  it.each([
    ['UTF-8', 'GET', 'Gel\xc3\xb6scht', 'Gel\xc3\xb6scht'],
    ['UTF-8', 'POST', 'Gel\xc3\xb6scht', 'Gel\xc3\xb6scht'],
    ['Latin-1', 'POST', 'Gel\xf6scht', 'Gel\xf6scht'],
    // undici, which forwards requests without a body, has lost bytes that are no UTF-8.
    ['Latin-1', 'GET', 'Gel\xf6scht', 'OK'],
  ])('in %s, to a %s: passed on, never a 502', async (_coding, method, reason, passed) => {
    upstream.respond = (request) =>
      request.target === '/API/reason'
        ? Buffer.from(`HTTP/1.1 200 ${reason}\r\nContent-Length: 2\r\n\r\nok`, 'latin1')
        : ok(`answer ${request.sequence}`);
    const body = method === 'POST' ? 'Content-Length: 2\r\n\r\nhi' : '\r\n';
    const result = await rawRequest(h.port, `${method} /API/reason HTTP/1.1\r\nHost: x\r\n${body}`);
    expect(result.responses.map((r) => [r.status, r.reason])).toEqual([[200, passed]]);
  });
});

describe('101 Switching Protocols to a plain request', () => {
  it('502, and the request is no longer in flight', async () => {
    upstream.respond = answering(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    );
    const reply = await call(h.port, { path: '/API/bad' });
    expect(reply.status).toBe(502);
    expect(h.observer.upstreamErrors).toEqual(['protocol']);
  });

  // Without `Connection: Upgrade` neither client reads it as a switch: `node:http` took it for
  // the final answer and passed the 101 on, undici failed on it as on a bug of its own.
  it.each([
    ['without a body (undici)', 'GET /API/bad HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['with a body (node:http)', 'POST /API/bad HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi'],
  ])('without Connection: Upgrade, to a request %s: 502 too', async (_, request) => {
    upstream.respond = answering('HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n');
    const result = await rawRequest(h.port, request);
    expect(result.responses.map((r) => [r.status, r.body.toString()])).toEqual([
      [502, 'Vidispine sent an answer that is not valid HTTP\n'],
    ]);
    expect(h.observer.upstreamErrors).toEqual(['protocol']);
  });
});

describe('bytes that are not HTTP', () => {
  it.each([
    ['garbage', 'SSH-2.0-OpenSSH_9.6\r\n'],
    ['a bad Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n'],
    ['a header without a colon', 'HTTP/1.1 200 OK\r\nBroken\r\n\r\n'],
  ])('%s: 502', async (_name, bytes) => {
    upstream.respond = answering(bytes);
    const reply = await call(h.port, { path: '/API/bad' });
    expect(reply.status).toBe(502);
    expect(h.observer.upstreamErrors).toEqual(['protocol']);
  });
});

describe('a head whose framing the parser refuses, after a Content-Length', () => {
  const requests = [
    ['without a body (undici)', 'GET /API/bad HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['with a body (node:http)', 'POST /API/bad HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi'],
  ];
  // undici reports any parse error once a Content-Length was read as a body cut short.
  it.each([
    [
      'with Transfer-Encoding',
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    ],
    ['twice, unlike', 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab'],
    ['then a bad header', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nBro ken: x\r\n\r\nab'],
  ])('%s: 502, logged as a bad head on both engines', async (_name, bytes) => {
    upstream.respond = answering(bytes);
    for (const [, request] of requests) {
      const result = await rawRequest(h.port, request);
      expect(result.responses.map((r) => [r.status, r.body.toString()])).toEqual([
        [502, 'Vidispine sent an answer that is not valid HTTP\n'],
      ]);
    }
    expect(h.observer.upstreamErrors).toEqual(['protocol', 'protocol']);
    const [pooled, streamed] = h.observer.upstreamErrorDetails.slice(-2);
    expect(streamed).toMatch(/^Parse Error: /);
    // Before: "Response body length does not match content-length header".
    expect(pooled).toMatch(/^Response does not match the HTTP\/1\.1 protocol \(/);
  });
});

describe('an answer with more header fields than Node keeps by default', () => {
  // Node's HTTP client kept the first 1,000 or so and dropped the rest without a word.
  let fields = '';
  for (let i = 0; i < 1500; i++) fields += `X-${i}: a\r\n`;
  it.each([
    ['without a body (undici)', 'GET /API/bad HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['with a body (node:http)', 'POST /API/bad HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi'],
  ])('to a request %s: every field reaches the client', async (_, request) => {
    upstream.respond = answering(
      `HTTP/1.1 200 OK\r\n${fields}Set-Cookie: last=1\r\nContent-Length: 3\r\n\r\nabc`,
    );
    const [answer] = (await rawRequest(h.port, request)).responses;
    expect([answer.status, answer.header('set-cookie'), answer.header('content-length')]).toEqual([
      200,
      'last=1',
      '3',
    ]);
    expect(answer.headers.filter(([name]) => name.startsWith('X-'))).toHaveLength(1500);
  });
});

describe('a transfer coding other than chunked alone', () => {
  // Node's parser undoes only the chunking (or reads to the close): the client would get
  // gzip bytes as the body itself, nothing saying so. nginx refuses such an answer too.
  it.each([
    ['gzip, chunked', 'GET', '3\r\nabc\r\n0\r\n\r\n'],
    ['gzip, chunked', 'POST', '3\r\nabc\r\n0\r\n\r\n'],
    ['chunked, gzip', 'GET', 'abc'],
    ['chunked, gzip', 'POST', 'abc'],
    ['identity', 'GET', 'abc'],
    ['chunked\r\nTransfer-Encoding: chunked', 'POST', '3\r\nabc\r\n0\r\n\r\n'],
  ])('Transfer-Encoding: %j to a %s: 502', async (coding, method, body) => {
    upstream.respond = answering(`HTTP/1.1 200 OK\r\nTransfer-Encoding: ${coding}\r\n\r\n${body}`);
    const reply = await call(h.port, {
      method,
      path: '/API/bad',
      body: method === 'POST' ? 'hi' : undefined,
    });
    expect([reply.status, reply.text]).toEqual([
      502,
      'Vidispine sent an answer that is not valid HTTP\n',
    ]);
    expect(h.observer.upstreamErrors).toEqual(['protocol']);
  });

  it('to a WebSocket upgrade: 502', async () => {
    upstream.respond = () => 'HTTP/1.1 400 No\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n';
    const result = await rawRequest(h.port, UPGRADE);
    expect(result.responses.map((r) => r.status)).toEqual([502]);
    expect(h.observer.upstreamErrors).toEqual(['protocol']);
  });

  it.each(['chunked', 'Chunked', ' chunked '])('%j passes', async (coding) => {
    upstream.respond = answering(
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: ${coding}\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
    );
    const reply = await call(h.port, { path: '/API/bad' });
    expect([reply.status, reply.text]).toEqual([200, 'abc']);
  });
});

describe('a status outside 100–599', () => {
  // Below 100 is not an interim answer to wait past: undici took it for one and waited for
  // the final answer until the response timeout. Above 599 no client can tell what it means
  // (RFC 9110 §15).
  it.each([
    ['099', 'without a body (undici)', undefined],
    ['099', 'with a body (node:http)', 'hi'],
    ['999', 'without a body (undici)', undefined],
    ['999', 'with a body (node:http)', 'hi'],
  ])('%s to a request %s: 502 at once', async (status, _, body) => {
    upstream.respond = answering(`HTTP/1.1 ${status} Odd\r\nContent-Length: 2\r\n\r\nok`);
    const method = body === undefined ? 'GET' : 'POST';
    const reply = await call(h.port, { method, path: '/API/bad', body });
    expect(reply.status).toBe(502);
    expect(reply.text).toBe('Vidispine sent an answer that is not valid HTTP\n');
    expect(h.observer.upstreamErrors).toEqual(['protocol']);
  });

  it('999 to a WebSocket upgrade: 502', async () => {
    upstream.respond = () => 'HTTP/1.1 999 Odd\r\nContent-Length: 2\r\n\r\nok';
    const result = await rawRequest(h.port, UPGRADE);
    expect(result.responses.map((r) => r.status)).toEqual([502]);
    expect(h.observer.upstreamErrors).toEqual(['protocol']);
  });
});

describe("an HTTP/1.0 client's answer, delimited by the close of its connection", () => {
  // Chunked from Vidispine; an HTTP/1.0 client gets it without framing, up to the close.
  const whole = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n';
  const cut = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n';
  const engines = [
    ['without a body (undici)', 'GET /API/bad HTTP/1.0\r\n\r\n'],
    ['with a body (node:http)', 'POST /API/bad HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi'],
  ];
  // Any answer but 101 refuses an upgrade, and goes to the client delimited by its close.
  const refusedUpgrade = [
    'to a WebSocket upgrade (refused)',
    UPGRADE.replace('/APIWS/echo', '/API/bad'),
  ];

  it.each(engines)('a request %s: a whole answer ends with an orderly close', async (_, req) => {
    upstream.respond = answering(whole);
    expect(await connectionEnd(h.port, req)).toBe('fin');
  });

  it.each([...engines, refusedUpgrade])(
    'a request %s: Vidispine closing mid-body resets the connection, never a clean close',
    async (_, req) => {
      upstream.respond = (request, socket) => {
        if (request.target !== '/API/bad') return ok(`answer ${request.sequence}`);
        socket.end(cut);
        return 'hang';
      };
      expect(await connectionEnd(h.port, req)).toBe('ECONNRESET');
      // Counted once, whichever client carried it: `node:http` reports no error after a head.
      expect(h.observer.upstreamErrors).toEqual(['reset']);
    },
  );

  it.each(engines)(
    'a request %s: the read timeout resets the connection, never a clean close',
    async (_, req) => {
      upstream.respond = answering(cut);
      expect(await connectionEnd(h.port, req)).toBe('ECONNRESET');
      expect(h.observer.upstreamErrors).toEqual(['timeout']);
    },
  );
});

describe('an answer Vidispine delimits by closing its connection', () => {
  const body = 'a'.repeat(1000);
  let vidispine: net.Socket | undefined;
  beforeEach(() => {
    vidispine = undefined;
    upstream.respond = (request, socket) => {
      if (request.target !== '/API/bad') return ok(`answer ${request.sequence}`);
      vidispine = socket;
      return `HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n${body}`;
    };
  });
  const methods = [
    ['without a body (undici)', 'GET'],
    ['with a body (node:http)', 'POST'],
  ];

  /** What the client got once Vidispine, after the head reached it, ended as `end` ends. */
  function download(
    method: string,
    end: (socket: net.Socket) => void,
  ): Promise<{ bytes: number; whole: boolean }> {
    return new Promise((resolve, reject) => {
      const options = { host: '127.0.0.1', port: h.port, path: '/API/bad', method, agent: false };
      const req = http.request(options, (res) => {
        let bytes = 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => resolve({ bytes, whole: true }));
        res.on('error', () => resolve({ bytes, whole: false }));
        if (vidispine !== undefined) end(vidispine);
      });
      req.on('error', reject);
      req.end(method === 'POST' ? 'hi' : undefined);
    });
  }

  it.each(methods)('a request %s: an orderly close ends it whole', async (_, method) => {
    expect(await download(method, (socket) => socket.end())).toEqual({ bytes: 1000, whole: true });
    expect(h.observer.upstreamErrors).toEqual([]);
  });

  it.each(methods)('a request %s: a reset never passes for its end', async (_, method) => {
    const got = await download(method, (socket) => socket.resetAndDestroy());
    expect(got.whole).toBe(false);
    expect(h.observer.upstreamErrors).toEqual(['reset']);
  });
});

describe('a chunked answer that breaks after its head', () => {
  const HEAD = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
  const large = 'x'.repeat(1024 * 1024 + 1);
  const put = (expect: string, body: string): string =>
    `PUT /API/bad HTTP/1.1\r\nHost: x\r\n${expect}Content-Length: ${body.length}\r\n\r\n${body}`;
  const requests = [
    ['without a body (undici)', 'GET /API/bad HTTP/1.1\r\nHost: x\r\n\r\n'],
    [
      'with a body held for replay',
      'POST /API/bad HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi',
    ],
    ['with a body streamed', put('', large)],
    ['with a body streamed after 100-continue', put('Expect: 100-continue\r\n', large)],
  ];

  /** The head and `body`, then a bad chunk-size line: in the same segment, or `later`. */
  const breaking =
    (body: string, later: boolean): Responder =>
    (request, socket) => {
      if (request.target !== '/API/bad') return ok(`answer ${request.sequence}`);
      if (!later) return `${HEAD}${body}ZZ\r\n`;
      socket.write(`${HEAD}${body}`);
      setTimeout(() => socket.destroyed || socket.write('ZZ\r\n'), 50);
      return 'hang';
    };

  describe.each([
    ['in the segment of the head', false],
    ['50 ms after the head', true],
  ])('%s', (_when, later) => {
    // The client got 0 bytes: an empty reply, which it may take for a stale connection and
    // send again.
    it.each(requests)(
      'to a request %s: the head then a cut, never an empty reply',
      async (_, request) => {
        upstream.respond = breaking('', later);
        const logged = h.observer.finished.length;
        const result = await rawRequest(h.port, request, { untilClosed: true });
        expect(result.closed).toBe(true);
        expect(result.responses).toEqual([]);
        expect(result.trailing).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*chunked\r\n\r\n$/);
        // Counted and logged alike, whichever client carried it, with the status the client saw.
        expect(h.observer.upstreamErrors).toEqual(['protocol']);
        await until(() => h.observer.finished.length > logged, 2000);
        expect(h.observer.finished[logged].status).toBe(200);
      },
    );

    it('to a GET pipelined behind another: logged with the status its client got too', async () => {
      upstream.respond = breaking('', later);
      const logged = h.observer.finished.length;
      const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
      const result = await rawRequest(h.port, get('/API/first') + get('/API/bad'), {
        untilClosed: true,
      });
      expect(result.responses.map((r) => r.status)).toEqual([200]);
      expect(result.trailing).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      await until(() => h.observer.finished.length > logged + 1, 2000);
      expect(h.observer.finished.slice(logged).map((f) => f.status)).toEqual([200, 200]);
    });

    // With a body (node:http), the bytes Node parsed in the segment that broke were dropped.
    it.each(requests)(
      'to a request %s: the head and the body so far, then a cut',
      async (_, request) => {
        upstream.respond = breaking('5\r\nhello\r\n', later);
        const result = await rawRequest(h.port, request, { untilClosed: true });
        expect(result.closed).toBe(true);
        expect(result.responses).toEqual([]);
        expect(result.trailing).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*chunked\r\n\r\n5\r\nhello\r\n$/);
        expect(h.observer.upstreamErrors).toEqual(['protocol']);
      },
    );

    it('to a WebSocket upgrade, which it refuses: counted alike', async () => {
      upstream.respond = breaking('5\r\nhello\r\n', later);
      await connectionEnd(h.port, UPGRADE.replace('/APIWS/echo', '/API/bad'));
      expect(h.observer.upstreamErrors).toEqual(['protocol']);
    });
  });
});

describe('a refusal of a WebSocket upgrade that breaks after its head', () => {
  it('resets its connection, never a clean close, which would make it look whole', async () => {
    upstream.respond = (request, socket) => {
      if (request.target !== '/API/bad') return ok(`answer ${request.sequence}`);
      socket.write('HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
      // Once the client has read the head: a reset coming with the bytes may reach it as a close.
      setTimeout(() => socket.destroyed || socket.write('ZZ\r\n'), 50);
      return 'hang';
    };
    expect(await connectionEnd(h.port, UPGRADE.replace('/APIWS/echo', '/API/bad'))).toBe(
      'ECONNRESET',
    );
    expect(h.observer.upstreamErrors).toEqual(['protocol']);
  });
});

describe('a body Vidispine stops sending', () => {
  it('is cut after readTimeoutSeconds, so a short body never passes for a whole one', async () => {
    upstream.respond = answering('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789');
    const result = await rawRequest(h.port, 'GET /API/bad HTTP/1.1\r\nHost: x\r\n\r\n', {
      untilClosed: true,
    });
    expect(result.closed).toBe(true);
    expect(result.responses).toEqual([]);
    expect(result.trailing).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n0123456789$/);
    expect(h.observer.upstreamErrors).toEqual(['timeout']);
  });

  it('in a refusal of a WebSocket upgrade: cut after readTimeoutSeconds too', async () => {
    upstream.respond = answering('HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\n<html>');
    const refusal = UPGRADE.replace('/APIWS/echo', '/API/bad');
    // Well within the response timeout (300 s), which alone ended it before.
    expect(await connectionEnd(h.port, refusal, 2000)).toBe('ECONNRESET');
    expect(h.observer.upstreamErrors).toEqual(['timeout']);
  });

  it('is not cut while the client is the one reading slowly', async () => {
    const sim = await startHarness({ vidispine: { readTimeoutSeconds: 0.3 } });
    try {
      const size = 16 * 1024 * 1024;
      const received = await new Promise<number>((resolve, reject) => {
        http
          .get(
            { host: '127.0.0.1', port: sim.port, path: `/API/storage/file/VX-1/data?size=${size}` },
            (res) => {
              // Hold the download back for more than three read timeouts, then take it all.
              res.pause();
              let bytes = 0;
              setTimeout(() => {
                res.on('data', (c: Buffer) => (bytes += c.length));
                res.on('end', () => resolve(bytes));
                res.on('error', reject);
                res.resume();
              }, 1000);
            },
          )
          .on('error', reject);
      });
      expect(received).toBe(size);
      expect(sim.observer.upstreamErrors).toEqual([]);
    } finally {
      await sim.close();
    }
  });
});
