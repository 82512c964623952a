/**
 * Request desynchronisation: raw client bytes in, a strict recording upstream behind the
 * proxy. Whatever a client sends, each of its requests reaches Vidispine as exactly one
 * well-framed request, and the next client on the same pooled connection gets its own
 * answer with its own headers.
 */
import * as net from 'node:net';
import { behindRawUpstream } from '../support/behind-raw-upstream';
import { rawRequest } from '../support/raw-client';
import { header, headerValues, ok, type RawUpstream } from '../support/raw-upstream';
import { until } from '../support/wait';
import { startHarness, type Harness } from '../support/app';

// One pooled upstream connection: every request after the first reuses it.
const proxy = behindRawUpstream({ vidispine: { maxSockets: 1 } });
let upstream: RawUpstream;
let h: Harness;
beforeAll(() => ({ upstream, h } = proxy));
beforeEach(() => {
  upstream.requests.length = 0;
  upstream.malformed.length = 0;
});
afterEach(async () => {
  // The next client on the pool gets its own answer, with only its own headers.
  const before = upstream.requests.length;
  const canary = await rawRequest(
    h.port,
    'GET /API/canary HTTP/1.1\r\nHost: x\r\nX-Canary: yes\r\nConnection: close\r\n\r\n',
  );
  const seen = upstream.requests.slice(before);
  expect(seen.map((r) => `${r.method} ${r.target}`)).toEqual(['GET /API/canary']);
  expect(canary.responses.map((r) => r.body.toString())).toEqual([`answer ${seen[0].sequence}`]);
  expect(header(seen[0], 'runas')).toBeUndefined();
  expect(header(seen[0], 'x-canary')).toBe('yes');
  expect(upstream.malformed).toEqual([]);
});

const SMUGGLED = 'GET /API/whoami HTTP/1.1\r\nRunAs: admin\r\nX-Prefix: ';

describe('Connection cannot remove framing or routing fields', () => {
  it.each(['content-length', 'Content-Length, keep-alive', 'close, content-length'])(
    'Connection: %s on a GET with a body: forwarded with its length, never unframed',
    async (listed) => {
      const request =
        `GET /API/whoami HTTP/1.1\r\nHost: x\r\nConnection: ${listed}\r\n` +
        `Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`;
      const result = await rawRequest(h.port, request);
      expect(result.responses).toHaveLength(1);
      expect(upstream.requests).toHaveLength(1);
      const [forwarded] = upstream.requests;
      expect(forwarded.framing).toBe('length');
      expect(forwarded.body.toString()).toBe(SMUGGLED);
    },
  );

  it('Connection: transfer-encoding on a chunked POST: still chunked upstream', async () => {
    const request =
      'POST /API/import/raw HTTP/1.1\r\nHost: x\r\nConnection: transfer-encoding\r\n' +
      `Transfer-Encoding: chunked\r\n\r\n${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`;
    const result = await rawRequest(h.port, request);
    expect(result.responses).toHaveLength(1);
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0].body.toString()).toBe(SMUGGLED);
  });

  it('Connection: host: Vidispine still gets its own Host', async () => {
    await rawRequest(h.port, 'GET /API/whoami HTTP/1.1\r\nHost: x\r\nConnection: host\r\n\r\n');
    expect(upstream.requests).toHaveLength(1);
    expect(header(upstream.requests[0], 'host')).toBe(`127.0.0.1:${upstream.port}`);
  });

  it('other fields a Connection header lists are removed, as hop-by-hop', async () => {
    await rawRequest(
      h.port,
      'GET /API/whoami HTTP/1.1\r\nHost: x\r\nConnection: x-private\r\nX-Private: 1\r\nX-Kept: 2\r\n\r\n',
    );
    expect(header(upstream.requests[0], 'x-private')).toBeUndefined();
    expect(header(upstream.requests[0], 'x-kept')).toBe('2');
  });
});

describe('WebSocket upgrades', () => {
  const upgrade = (extra: string): string =>
    'GET /APIWS/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

  it.each([
    ['Content-Length', `Content-Length: ${SMUGGLED.length}\r\n`],
    ['Transfer-Encoding', 'Transfer-Encoding: chunked\r\n'],
  ])('an upgrade with %s: 400, nothing forwarded', async (_name, extra) => {
    const body = extra.startsWith('Content')
      ? SMUGGLED
      : `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`;
    const result = await rawRequest(h.port, upgrade(extra) + body, { untilClosed: true });
    expect(result.responses.map((r) => r.status)).toEqual([400]);
    expect(result.closed).toBe(true);
    expect(upstream.requests).toHaveLength(0);
  });

  it('an upgrade Vidispine refuses never returns its connection to the pool', async () => {
    upstream.respond = (request) =>
      request.target.startsWith('/APIWS/')
        ? 'HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope'
        : ok(`answer ${request.sequence}`);
    try {
      const refused = await rawRequest(h.port, upgrade(''));
      expect(refused.responses.map((r) => [r.status, r.body.toString()])).toEqual([[404, 'nope']]);
      const plain = await rawRequest(
        h.port,
        'GET /API/whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
      );
      expect(plain.responses.map((r) => r.status)).toEqual([200]);
      const [ws, next] = upstream.requests;
      expect(next.connection).not.toBe(ws.connection);
    } finally {
      upstream.respond = (request) => ok(`answer ${request.sequence}`);
    }
  });
});

describe('request hygiene', () => {
  const refused = async (bytes: string, status: number): Promise<void> => {
    const result = await rawRequest(h.port, bytes, { untilClosed: true });
    expect(result.responses.map((r) => r.status)).toEqual([status]);
    expect(result.closed).toBe(true);
    expect(upstream.requests).toHaveLength(0);
  };

  it('Transfer-Encoding: gzip, chunked: 501, nothing forwarded', () =>
    refused(
      'POST /API/import/raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n',
      501,
    ));

  it('two Transfer-Encoding lines that add up to gzip, chunked: 501', () =>
    refused(
      'POST /API/import/raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      501,
    ));

  it('chunked in an HTTP/1.0 request: 400', () =>
    refused(
      'POST /API/import/raw HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
    ));

  it.each([
    ['without a body (undici)', 'GET /API/whoami', ''],
    ['with a body (node:http)', 'POST /API/item', 'Content-Length: 2\r\n'],
  ])(
    'a request %s: our Authorization precedes every client field, so a receiver keeping the first ones keeps it',
    async (_, line, framing) => {
      let fields = '';
      for (let i = 0; i < 50; i++) fields += `X-${i}: a\r\n`;
      const body = framing === '' ? '' : 'hi';
      await rawRequest(h.port, `${line} HTTP/1.1\r\nHost: x\r\n${fields}${framing}\r\n${body}`);
      const names = upstream.requests[0].headers.map(([name]) => name.toLowerCase());
      const token = names.indexOf('authorization');
      expect(token).toBeGreaterThan(0);
      expect(token).toBeLessThan(names.indexOf('x-0'));
      // Before it, only what the HTTP client sets itself.
      expect(names.slice(0, token).every((n) => n === 'host' || n === 'connection')).toBe(true);
    },
  );

  it('bytes pipelined behind a request that said Connection: close: that request is answered, the bytes ignored (RFC 9112 §9.6)', async () => {
    const result = await rawRequest(
      h.port,
      'POST /API/item HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx' +
        'GET /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n',
      { untilClosed: true },
    );
    expect(result.responses.map((r) => [r.status, r.body.toString()])).toEqual([
      [200, `answer ${upstream.requests[0].sequence}`],
    ]);
    expect(result.closed).toBe(true);
    expect(result.trailing).toBe('');
    expect(upstream.requests.map((r) => [r.method, r.target, r.body.toString()])).toEqual([
      ['POST', '/API/item', 'x'],
    ]);
  });

  it('bytes that do not parse behind a request still being answered: that request answered whole, then the 400, then the close (as nginx)', async () => {
    const result = await rawRequest(
      h.port,
      'POST /API/item HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx\x00garbage\r\n\r\n',
      { untilClosed: true },
    );
    // The 400 goes out after the answer, never in its place.
    expect(result.responses.map((r) => [r.status, r.body.toString()])).toEqual([
      [200, `answer ${upstream.requests[0].sequence}`],
      [400, ''],
    ]);
    expect(result.trailing).toBe('');
    expect(result.closed).toBe(true);
    expect(upstream.requests.map((r) => [r.method, r.target, r.body.toString()])).toEqual([
      ['POST', '/API/item', 'x'],
    ]);
  });

  it('a body that does not parse behind a request already refused: one answer, nothing after it', async () => {
    const result = await rawRequest(
      h.port,
      'HEAD /API/whoami HTTP/2.0\r\nHost: x\r\nTransfer-Encoding: */*\r\n\r\n' +
        'GET /API/whoami HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      { untilClosed: true, head: [true] },
    );
    expect(result.responses.map((r) => r.status)).toEqual([505]);
    expect(result.trailing).toBe('');
    expect(result.closed).toBe(true);
    expect(upstream.requests).toEqual([]);
  });

  it.each([
    ['a malformed chunk', 'zz\r\n', 400],
    ['chunk extensions over 16 KiB', `1;${'a'.repeat(20_000)}\r\nx\r\n`, 413],
  ])(
    '%s in the body of the request being answered: Node answers it itself',
    async (_, chunk, status) => {
      const result = await rawRequest(
        h.port,
        `POST /API/import/raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk}`,
        { untilClosed: true },
      );
      expect(result.responses.map((r) => r.status)).toEqual([status]);
      expect(result.closed).toBe(true);
    },
  );

  it('two Host headers: 400', () =>
    refused('GET /API/whoami HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400));

  it('an HTTP/1.1 request without Host: 400 (RFC 9112 §3.2)', () =>
    refused('GET /API/whoami HTTP/1.1\r\n\r\n', 400));

  it('a Content-Length after the 1,000th header: 431, never dropped', () => {
    let request = 'GET /API/whoami HTTP/1.1\r\nHost: x\r\n';
    for (let i = 0; i < 1000; i++) request += `X-${i}: a\r\n`;
    return refused(`${request}Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`, 431);
  });

  it.each(['HTTP/2.0', 'HTTP/0.9'])('a %s request line: 505', (version) =>
    refused(`GET /API/whoami ${version}\r\nHost: x\r\n\r\n`, 505),
  );

  it.each(['evil.example/x?', 'a b', 'a@b', 'evil.example#', '[::1'])(
    'Host %j: 400, connection closed, nothing forwarded',
    (host) => refused(`GET /API/item HTTP/1.1\r\nHost: ${host}\r\n\r\n`, 400),
  );

  it('an invalid Host on a WebSocket upgrade: 400, nothing forwarded', () =>
    refused(
      'GET /APIWS/echo HTTP/1.1\r\nHost: evil.example/x?\r\nUpgrade: websocket\r\n' +
        'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        'Sec-WebSocket-Version: 13\r\n\r\n',
      400,
    ));

  it('an absolute-form target with userinfo: 400, nothing forwarded', () =>
    refused('GET http://user@evil.example/API/item HTTP/1.1\r\nHost: x\r\n\r\n', 400));

  describe('a Location on Vidispine names the authority the client reached', () => {
    beforeEach(() => {
      upstream.respond = (request) =>
        request.target.startsWith('/API/item')
          ? `HTTP/1.1 303 See Other\r\nLocation: ${upstream.url}/API/item/VX-1\r\nContent-Length: 0\r\n\r\n`
          : ok(`answer ${request.sequence}`);
    });
    afterEach(() => {
      upstream.respond = (request) => ok(`answer ${request.sequence}`);
    });
    const location = async (requestHead: string): Promise<string | undefined> => {
      const result = await rawRequest(h.port, `${requestHead}\r\n\r\n`);
      expect(result.responses.map((r) => r.status)).toEqual([303]);
      return result.responses[0].header('location');
    };

    it.each([
      ['legacy.example:8080', 'http://legacy.example:8080/API/item/VX-1'],
      ['[::1]:8080', 'http://[::1]:8080/API/item/VX-1'],
      ['', '/API/item/VX-1'],
    ])('Host %j: %s', async (host, expected) => {
      expect(await location(`GET /API/item HTTP/1.1\r\nHost: ${host}`)).toBe(expected);
    });

    it("an absolute-form target's authority, not Host's (RFC 9112 §3.2.2)", async () => {
      expect(
        await location('GET http://front.example:81/API/item HTTP/1.1\r\nHost: back.example'),
      ).toBe('http://front.example:81/API/item/VX-1');
    });
  });

  it.each([
    ['5; url=', ''],
    ['0;URL=', ''],
    ["5; url='", "'"],
  ])('a Refresh %s… on Vidispine is moved like a Location (as nginx does)', async (head, end) => {
    upstream.respond = (request) =>
      request.target === '/API/item'
        ? `HTTP/1.1 200 OK\r\nRefresh: ${head}${upstream.url}/API/item/VX-1?x=1${end}\r\nContent-Length: 0\r\n\r\n`
        : ok(`answer ${request.sequence}`);
    try {
      for (const method of ['GET', 'POST']) {
        const result = await rawRequest(
          h.port,
          `${method} /API/item HTTP/1.1\r\nHost: legacy.example:8080\r\nContent-Length: 0\r\n\r\n`,
        );
        expect(result.responses.map((r) => [r.status, r.header('refresh')])).toEqual([
          [200, `${head}http://legacy.example:8080/API/item/VX-1?x=1${end}`],
        ]);
      }
    } finally {
      upstream.respond = (request) => ok(`answer ${request.sequence}`);
    }
  });

  it('a Content-Location on Vidispine is moved like a Location, on both engines', async () => {
    upstream.respond = (request) =>
      request.target === '/API/item/VX-1'
        ? `HTTP/1.1 200 OK\r\nContent-Location: ${upstream.url}/API/item/VX-1;version=2?x=1\r\nContent-Length: 0\r\n\r\n`
        : ok(`answer ${request.sequence}`);
    try {
      for (const body of ['', 'Content-Length: 2\r\n\r\nhi']) {
        const result = await rawRequest(
          h.port,
          `PUT /API/item/VX-1 HTTP/1.1\r\nHost: legacy.example:8080\r\n${body === '' ? '\r\n' : body}`,
        );
        expect(result.responses.map((r) => [r.status, r.header('content-location')])).toEqual([
          [200, 'http://legacy.example:8080/API/item/VX-1;version=2?x=1'],
        ]);
      }
    } finally {
      upstream.respond = (request) => ok(`answer ${request.sequence}`);
    }
  });

  it('HTTP/1.0 without Host: a Location on Vidispine becomes a path, never its address', async () => {
    upstream.respond = (request) =>
      request.target === '/API/item'
        ? `HTTP/1.1 303 See Other\r\nLocation: ${upstream.url}/API/item/VX-1?x=1\r\nContent-Length: 0\r\n\r\n`
        : ok(`answer ${request.sequence}`);
    try {
      const result = await rawRequest(h.port, 'POST /API/item HTTP/1.0\r\n\r\n');
      expect(result.responses.map((r) => [r.status, r.header('location')])).toEqual([
        [303, '/API/item/VX-1?x=1'],
      ]);
      expect(result.responses[0].headers.join('\n')).not.toContain(String(upstream.port));
    } finally {
      upstream.respond = (request) => ok(`answer ${request.sequence}`);
    }
  });

  it('HTTP/1.0 without Host: a path that starts with // stays a path, never another host', async () => {
    const authority = upstream.url.slice('http:'.length);
    upstream.respond = (request) =>
      request.target === '/API/item'
        ? `HTTP/1.1 303 See Other\r\nLocation: ${authority}//evil.example/x\r\n` +
          `Refresh: 0; url=${upstream.url}/\\evil.example/y\r\nContent-Length: 0\r\n\r\n`
        : ok(`answer ${request.sequence}`);
    try {
      const result = await rawRequest(h.port, 'POST /API/item HTTP/1.0\r\n\r\n');
      const [answer] = result.responses;
      expect([answer.status, answer.header('location'), answer.header('refresh')]).toEqual([
        303,
        '/.//evil.example/x',
        // Written as a URL parser read it: the backslash is a slash.
        '0; url=/.//evil.example/y',
      ]);
      const client = 'http://127.0.0.1:8080/API/item';
      expect(new URL(answer.header('location') ?? '', client).host).toBe('127.0.0.1:8080');
      expect(new URL('/.//evil.example/y', client).host).toBe('127.0.0.1:8080');
    } finally {
      upstream.respond = (request) => ok(`answer ${request.sequence}`);
    }
  });

  it('with the access log on, an unusable X-Request-Id is replaced, not sent beside ours', async () => {
    const logged = await startHarness({ forwardTo: upstream.url, proxy: { accessLog: true } });
    try {
      await rawRequest(
        logged.port,
        'GET /API/whoami HTTP/1.1\r\nHost: x\r\nX-Request-Id: not usable!\r\nConnection: close\r\n\r\n',
      );
      const ids = headerValues(upstream.requests[0], 'x-request-id');
      expect(ids).toHaveLength(1);
      expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await logged.close();
    }
  });
});

describe('TRACE', () => {
  it.each([
    ['plain', 'TRACE /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n'],
    [
      'offering a WebSocket upgrade',
      'TRACE /APIWS/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    ],
  ])(
    '%s: refused with 405, never forwarded, since its echo would carry the token',
    async (_name, bytes) => {
      // An upstream that does what TRACE asks: the request, token and all, as the body.
      upstream.respond = (request) =>
        ok(request.headers.map(([name, value]) => `${name}: ${value}`).join('\r\n'));
      try {
        const result = await rawRequest(h.port, bytes, { untilClosed: true });
        expect(result.responses.map((r) => [r.status, r.header('allow')])).toEqual([
          [405, 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS'],
        ]);
        expect(result.responses[0].body.toString()).not.toMatch(/authorization/i);
        expect(upstream.requests).toEqual([]);
      } finally {
        upstream.respond = (request) => ok(`answer ${request.sequence}`);
      }
    },
  );
});

describe('pipelined requests', () => {
  const held: (() => void)[] = [];
  // A pool of its own with room for several requests at once.
  let pooled: Harness;
  beforeAll(async () => {
    pooled = await startHarness({ forwardTo: upstream.url });
  });
  afterAll(() => pooled.close());
  beforeEach(() => {
    // POSTs are answered only when the test says so.
    upstream.respond = (request, socket) => {
      if (request.method !== 'POST') return ok(`answer ${request.sequence}`);
      held.push(() => socket.write(ok(`posted ${request.sequence}`)));
      return 'hang';
    };
  });
  afterEach(() => {
    upstream.respond = (request) => ok(`answer ${request.sequence}`);
  });

  /** Resolves once a request sent after `bytes` on another connection was answered. */
  const roundTrip = (): Promise<unknown> =>
    rawRequest(pooled.port, 'GET /API/later HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');

  it('a GET after a POST waits until the POST was answered, and answers keep their order', async () => {
    const pipelined = rawRequest(
      pooled.port,
      'POST /API/first HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi' +
        'GET /API/second HTTP/1.1\r\nHost: x\r\n\r\n',
      { responses: 2 },
    );
    await upstream.received(1);
    // The GET was parsed with the POST; had it been forwarded, it would be upstream before
    // a request that arrived later on another connection.
    await roundTrip();
    expect(upstream.requests.map((r) => r.target)).toEqual(['/API/first', '/API/later']);
    held.shift()?.();
    const result = await pipelined;
    expect(upstream.requests.map((r) => r.target)).toEqual([
      '/API/first',
      '/API/later',
      '/API/second',
    ]);
    const [post, , get] = upstream.requests;
    expect(result.responses.map((r) => r.body.toString())).toEqual([
      `posted ${post.sequence}`,
      `answer ${get.sequence}`,
    ]);
  });

  it('safe requests still run side by side once a small answer went out', async () => {
    upstream.respond = (request, socket) => {
      if (request.target !== '/API/slow') return ok(`answer ${request.sequence}`);
      held.push(() => socket.write(ok('slow')));
      return 'hang';
    };
    const pipelined = rawRequest(
      pooled.port,
      'GET /API/first HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /API/slow HTTP/1.1\r\nHost: x\r\n\r\nGET /API/fast HTTP/1.1\r\nHost: x\r\n\r\n',
      { responses: 3 },
    );
    await upstream.received(3);
    held.shift()?.();
    const result = await pipelined;
    expect(result.responses.map((r) => r.body.toString().split(' ')[0])).toEqual([
      'answer',
      'slow',
      'answer',
    ]);
  });

  it.each([
    ['CONNECT', 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n', 405],
    [
      'a WebSocket upgrade',
      'GET /APIWS/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      200,
    ],
  ])(
    '%s after a POST is answered after it, never in front of its answer',
    async (_name, bytes, status) => {
      const pipelined = rawRequest(
        pooled.port,
        `POST /API/first HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi${bytes}`,
        { responses: 2 },
      );
      await upstream.received(1);
      held.shift()?.();
      const result = await pipelined;
      expect(result.responses.map((r) => r.status)).toEqual([200, status]);
      expect(result.responses[0].body.toString()).toBe(`posted ${upstream.requests[0].sequence}`);
    },
  );

  it.each([
    ['CONNECT', 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n'],
    [
      'a WebSocket upgrade',
      'GET /APIWS/echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    ],
  ])(
    '%s after a refused request gets no answer: the refusal closed the connection',
    async (_name, bytes) => {
      const result = await rawRequest(
        pooled.port,
        `GET /API/first HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n${bytes}`,
        { untilClosed: true },
      );
      expect(result.responses.map((r) => [r.status, r.header('connection')])).toEqual([
        [400, 'close'],
      ]);
      expect(result.closed).toBe(true);
      expect(result.trailing).toBe('');
      expect(upstream.requests).toEqual([]);
    },
  );

  it('a pipelined connection that dies leaves nothing in flight', async () => {
    const client = net.connect(pooled.port, '127.0.0.1');
    client.on('error', () => undefined);
    client.write(
      'POST /API/first HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi' +
        'GET /API/second HTTP/1.1\r\nHost: x\r\n\r\n' +
        'DELETE /API/third HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    await upstream.received(1);
    client.destroy();
    await until(() => pooled.listeners[0].inFlight() === 0, 2000);
    held.length = 0;
    expect(upstream.requests.map((r) => r.target)).toEqual(['/API/first']);
  });
});
