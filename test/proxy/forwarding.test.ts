import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { patternBytes } from '../../src/simulator/pattern';
import { basic, call } from '../support/http';
import { rawRequest } from '../support/raw-client';
import { createSimulator } from '../../src/simulator';
import { startApp, startHarness, type Harness } from '../support/app';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    users: [
      { name: 'alice', selectUserHeader: 'X-Vidispine-User' },
      { name: 'bob' },
      { name: 'runas', allowRunAs: true },
    ],
  });
});
afterAll(() => h.close());

function json(text: string): Record<string, unknown> {
  return JSON.parse(text) as Record<string, unknown>;
}

async function createItem(port: number, headers: http.OutgoingHttpHeaders = {}) {
  return call(port, {
    method: 'POST',
    path: '/API/item',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ title: 'proxy test' }),
  });
}

describe('credentials', () => {
  it('attaches the listener user token and drops the client Authorization and RunAs', async () => {
    const reply = await call(h.port, {
      path: '/API/whoami',
      headers: { authorization: basic('bob', 'bob-password'), runas: 'bob' },
    });
    expect(reply.status).toBe(200);
    expect(reply.text).toBe('alice');
    expect((await call(h.portOf('bob'), { path: '/API/whoami' })).text).toBe('bob');
  });

  it('lets RunAs through on a listener that allows it', async () => {
    const reply = await call(h.portOf('runas'), {
      path: '/API/whoami',
      headers: { runas: 'alice' },
    });
    expect(reply.text).toBe('alice');
  });

  it('lets RunAs through as the user the select header picks allows, not as the listener does', async () => {
    const asRunas = await call(h.port, {
      path: '/API/whoami',
      headers: { 'x-vidispine-user': 'runas', runas: 'bob' },
    });
    expect(asRunas.text).toBe('bob');
    const asBob = await call(h.port, {
      path: '/API/whoami',
      headers: { 'x-vidispine-user': 'bob', runas: 'alice' },
    });
    expect(asBob.text).toBe('bob');
  });

  it('acts as the user the select header names, and refuses an unknown one with 403', async () => {
    expect(
      (await call(h.port, { path: '/API/whoami', headers: { 'x-vidispine-user': 'bob' } })).text,
    ).toBe('bob');
    const refused = await call(h.port, {
      path: '/API/whoami',
      headers: { 'x-vidispine-user': 'mallory' },
    });
    expect(refused.status).toBe(403);
    expect(refused.text).toMatch(/names no configured user/);
  });

  it('keeps the connection after that 403, unless a body follows: it is not read to waste', async () => {
    const refused = (rest: string) =>
      rawRequest(
        h.port,
        `PUT /API/item HTTP/1.1\r\nHost: x\r\nX-Vidispine-User: mallory\r\n${rest}`,
      );
    const bodiless = await refused('\r\n');
    const upload = await refused(
      `Content-Length: ${256 * 1024 * 1024}\r\n\r\n${'x'.repeat(65536)}`,
    );
    expect(
      [bodiless, upload].map((r) => r.responses.map((a) => [a.status, a.header('connection')])),
    ).toEqual([[[403, 'keep-alive']], [[403, 'close']]]);
  });

  it('mints one token for 10,000 requests', async () => {
    const before = h.sim.calls({ endpoint: 'token', user: 'bob' });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
    const port = h.portOf('bob');
    let ok = 0;
    for (let round = 0; round < 100; round++) {
      const replies = await Promise.all(
        Array.from({ length: 100 }, () => call(port, { path: '/API/whoami', agent })),
      );
      ok += replies.filter((r) => r.status === 200 && r.text === 'bob').length;
    }
    agent.destroy();
    expect(ok).toBe(10_000);
    expect(h.sim.calls({ endpoint: 'token', user: 'bob' }) - before).toBeLessThanOrEqual(1);
  }, 60_000);
});

describe('request targets', () => {
  it('forwards path, matrix parameters and query byte for byte', async () => {
    const created = await createItem(h.port);
    const id = String(json(created.text).id);
    const path = `/API/item/${id};version=3;x=a%2Fb/metadata?field=title&q=%2e%2E%20;z&empty=`;
    const reply = await call(h.port, { path });
    expect(reply.status).toBe(200);
    const request = json(reply.text).request as Record<string, unknown>;
    expect(request.uri).toBe(path);
    expect(request.matrix).toEqual({ version: '3', x: 'a%2Fb' });
  });

  it('never lets an absolute-form target reach another host', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(h.port, '127.0.0.1', () => {
        socket.write(
          'GET http://evil.invalid:1/API/whoami HTTP/1.1\r\nHost: evil.invalid:1\r\nConnection: close\r\n\r\n',
        );
      });
      let text = '';
      socket.setEncoding('utf8').on('data', (d: string) => (text += d));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer.endsWith('alice')).toBe(true);
  });
});

describe('responses', () => {
  it('rewrites a Location on Vidispine to the origin the client used', async () => {
    const created = await createItem(h.port);
    expect(created.status).toBe(201);
    const id = String(json(created.text).id);
    expect(created.headers.location).toBe(`http://127.0.0.1:${h.port}/API/item/${id}`);

    const seeOther = await call(h.port, {
      method: 'POST',
      path: '/API/item?respond=303',
      headers: { host: 'legacy.example:8080', 'content-type': 'application/json' },
      body: '{}',
    });
    expect(seeOther.status).toBe(303);
    expect(seeOther.headers.location).toMatch(/^http:\/\/legacy\.example:8080\/API\/item\/[^/]+$/);
  });

  it('rewrites the Location Vidispine builds from the Host the proxy sends it', async () => {
    // vidispine.url names the server as localhost, which it does not listen as: only a
    // Location built from the request's Host matches the configured URL.
    const sim = createSimulator();
    const { port: simPort } = new URL(await sim.listen(0, '127.0.0.1'));
    const app = await startApp({ sim, vidispine: { url: `http://localhost:${simPort}` } });
    try {
      const created = await createItem(app.port());
      expect(created.status).toBe(201);
      const id = String(json(created.text).id);
      expect(created.headers.location).toBe(`http://127.0.0.1:${app.port()}/API/item/${id}`);
      const seeOther = await call(app.port(), {
        method: 'POST',
        path: '/API/item?respond=303',
        headers: { host: 'media.example' },
        body: '{}',
      });
      expect(seeOther.status).toBe(303);
      expect(seeOther.headers.location).toMatch(/^http:\/\/media\.example\/API\/item\/VX-\d+$/);
    } finally {
      await app.close();
    }
  });

  it("moves each spelling of Vidispine's origin a client would follow onto the client origin", async () => {
    // A server behind `/Vidi` that answers `/Vidi/API/moved?i=N` with the Nth header and
    // records every path it is asked for.
    const paths: string[] = [];
    let answers: [string, string][] = [];
    const upstream = http.createServer((req, res) => {
      paths.push(req.url ?? '');
      const index = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('i'));
      res.writeHead(303, [...(answers[index] ?? []), 'Content-Length', '0']).end();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const { port } = upstream.address() as net.AddressInfo;
    const app = await startApp({ forwardTo: `http://127.0.0.1:${port}/Vidi` });
    const client = 'http://legacy.example:8080';
    try {
      answers = [
        ['Location', `http://u:p@127.0.0.1:${port}/Vidi/API/a`],
        ['Location', `http:\\\\127.0.0.1:${port}\\Vidi\\API\\a`],
        ['Location', `HTTP://0x7F.1:0${port}/Vidi/API/a`],
        ['Location', `///127.0.0.1.:${port}/Vidi/API/a`],
        ['Content-Location', `http://127.0.0.1:${port}/Vi\tdi/API/a`],
        ['Refresh', `5; http://127.0.0.1:${port}/Vidi/API/a`],
        ['Refresh', `5; URL = 'http://127.0.0.1:${port}/Vidi/API/a'`],
        ['Location', '/Vidi/API/a'],
        ['Location', '/API/a'],
        ['Location', `http://127.0.0.2:${port}/Vidi/API/a`],
        // 127.0.0.1 as an IPv6 address, which a dual-stack client reaches it by.
        ['Location', `http://[::ffff:127.0.0.1]:${port}/Vidi/API/a`],
        ['Content-Location', `//[::FFFF:7F00:1]:${port}/Vidi/API/a`],
      ];
      const got: string[] = [];
      for (const [i, [name]] of answers.entries()) {
        const reply = await call(app.port(), {
          path: `/API/moved?i=${i}`,
          headers: { host: 'legacy.example:8080' },
        });
        got.push(String(reply.headers[name.toLowerCase()]));
      }
      expect(got).toEqual([
        `${client}/API/a`,
        `${client}/API/a`,
        `${client}/API/a`,
        `${client}/API/a`,
        `${client}/API/a`,
        `5; ${client}/API/a`,
        `5; URL = '${client}/API/a'`,
        '/API/a',
        '/API/a',
        `http://127.0.0.2:${port}/Vidi/API/a`,
        `${client}/API/a`,
        `${client}/API/a`,
      ]);
      // Followed through the proxy, the bare path reaches the resource Vidispine named,
      // where it asked for `/Vidi/Vidi/API/a`.
      paths.length = 0;
      const target = new URL(got[7], `${client}/API/moved`);
      await call(app.port(), { path: `${target.pathname}?i=99`, headers: { host: target.host } });
      expect(paths).toEqual(['/Vidi/API/a?i=99']);
    } finally {
      await app.close();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });

  it('moves a Location with bytes beyond ASCII without changing them, through either engine', async () => {
    // Sent as UTF-8; `node:http` reads and writes a header one character per byte.
    const bytes = (text: string): string => Buffer.from(text).toString('latin1');
    const upstream = http.createServer((req, res) => {
      req.resume();
      const { port } = upstream.address() as net.AddressInfo;
      res.writeHead(303, [
        'Location',
        bytes(`http://127.0.0.1:${port}/Vidi/API/é?q=é`),
        'Content-Location',
        bytes('/Vidi/API/ü'),
        'Content-Length',
        '0',
      ]);
      res.end();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const { port } = upstream.address() as net.AddressInfo;
    const app = await startApp({ forwardTo: `http://127.0.0.1:${port}/Vidi` });
    try {
      const got: string[] = [];
      // Without a body through undici, with one through node:http.
      for (const body of [undefined, 'x']) {
        const reply = await call(app.port(), {
          method: body === undefined ? 'GET' : 'POST',
          path: '/API/item',
          headers: { host: 'legacy.example:8080' },
          body,
        });
        got.push(String(reply.headers.location), String(reply.headers['content-location']));
      }
      const location = 'http://legacy.example:8080/API/%C3%A9?q=%C3%A9';
      expect(got).toEqual([location, '/API/%C3%BC', location, '/API/%C3%BC']);
    } finally {
      await app.close();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });

  it('passes ETag / If-None-Match and answers 304', async () => {
    const id = String(json((await createItem(h.port)).text).id);
    const first = await call(h.port, { path: `/API/item/${id}` });
    expect(first.headers.etag).toBeDefined();
    const again = await call(h.port, {
      path: `/API/item/${id}`,
      headers: { 'if-none-match': String(first.headers.etag) },
    });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  it('serves Range requests and HEAD', async () => {
    const ranged = await call(h.port, {
      path: '/API/storage/file/VX-7/data?size=100000',
      headers: { range: 'bytes=1000-1999' },
    });
    expect(ranged.status).toBe(206);
    expect(ranged.headers['content-range']).toBe('bytes 1000-1999/100000');
    expect(ranged.body.equals(patternBytes(1000, 1000))).toBe(true);

    const head = await call(h.port, {
      method: 'HEAD',
      path: '/API/storage/file/VX-7/data?size=100000',
    });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('100000');
    expect(head.body.length).toBe(0);
  });

  it("passes a client's HEAD or GET /API/token on as Vidispine answers it; its own token stays", async () => {
    const own = h.store.current('alice')?.value;
    const head = await call(h.port, { method: 'HEAD', path: '/API/token' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe('32');
    expect(head.body.length).toBe(0);
    // autoRefresh=yes is false to Vidispine (Boolean.valueOf), not a 400.
    const got = await call(h.port, { path: '/API/token?autoRefresh=yes' });
    expect(h.sim.tokenInfo(got.text)).toMatchObject({ user: 'alice', autoRefresh: false });
    expect(h.store.current('alice')?.value).toBe(own);
  });
});

it('passes a chunked body both ways without its trailer fields, byte-exact', async () => {
  // An upstream that answers in chunks with a trailer, and records the trailers it is sent.
  let received: { body: string; trailers: NodeJS.Dict<string>; te?: string | string[] } | undefined;
  const upstream = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      received = {
        body: Buffer.concat(parts).toString(),
        trailers: req.trailers,
        te: req.headers.te,
      };
      res.writeHead(200, { Trailer: 'X-Checksum', 'Content-Type': 'text/plain' });
      res.write('abc');
      res.write('defg');
      res.addTrailers({ 'X-Checksum': '7' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const { port } = upstream.address() as net.AddressInfo;
  const app = await startApp({ forwardTo: `http://127.0.0.1:${port}` });
  try {
    const answer = await new Promise<{
      body: string;
      trailers: NodeJS.Dict<string>;
      trailer?: string;
    }>((resolve, reject) => {
      const req = http.request(
        {
          port: app.port(),
          method: 'POST',
          path: '/API/import/raw',
          headers: { te: 'trailers', trailer: 'X-Sent' },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () =>
            resolve({
              body: Buffer.concat(parts).toString(),
              trailers: res.trailers,
              trailer: res.headers.trailer,
            }),
          );
        },
      );
      req.on('error', reject);
      req.write('12');
      req.write('345');
      req.addTrailers({ 'X-Sent': 'yes' });
      req.end();
    });
    expect(received).toEqual({ body: '12345', trailers: {}, te: undefined });
    expect(answer).toEqual({ body: 'abcdefg', trailers: {}, trailer: undefined });
  } finally {
    await app.close();
    await new Promise((resolve) => upstream.close(resolve));
  }
});

describe('request bodies', () => {
  function sha(body: Buffer): string {
    return createHash('sha256').update(body).digest('hex');
  }

  it('passes a small body and the index/size upload headers', async () => {
    const body = patternBytes(7, 300_000);
    const reply = await call(h.port, {
      method: 'POST',
      path: '/API/import/raw?transferId=t1&filename=a.mxf',
      headers: {
        index: '0',
        size: String(body.length),
        'content-type': 'application/octet-stream',
      },
      body,
    });
    expect(reply.status).toBe(200);
    expect(json(reply.text)).toMatchObject({
      transferId: 't1',
      index: 0,
      size: body.length,
      bytes: body.length,
      sha256: sha(body),
    });
  });

  it('keeps the connection of a request without a body that expects 100 Continue', async () => {
    // Node closes the connection of a client that expected `100` and got a final answer
    // without one, since its body might still come; with none to come, each such request
    // cost a connection, and a request pipelined behind it went unanswered.
    const expecting = 'Host: x\r\nExpect: 100-continue\r\n';
    const result = await rawRequest(
      h.port,
      `POST /API/import/raw?transferId=e HTTP/1.1\r\n${expecting}Content-Length: 0\r\n\r\n` +
        `GET /API/whoami HTTP/1.1\r\n${expecting}\r\n` +
        'GET /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n',
      { responses: 3 },
    );
    expect(result.responses.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(result.closed).toBe(false);
  });

  it('forwards a request whose Expect names no expectation, on both engines', async () => {
    // RFC 9110 §5.6.1: an empty list element is no element, so `Expect:` (or `Expect: ,`)
    // asks for nothing (Python's requests sends it for `headers={'Expect': ''}`). Refused
    // with 417, the request never reached Vidispine; nginx and Envoy pass it on.
    const result = await rawRequest(
      h.port,
      'GET /API/whoami HTTP/1.1\r\nHost: x\r\nExpect:\r\n\r\n' +
        'POST /API/item HTTP/1.1\r\nHost: x\r\nExpect: ,\r\nContent-Type: application/json\r\n' +
        'Content-Length: 2\r\n\r\n{}',
      { responses: 2 },
    );
    expect(result.responses.map((r) => [r.status, r.body.toString()])).toEqual([
      [200, 'alice'],
      [201, expect.stringContaining('"id":"VX-')],
    ]);
    expect(result.closed).toBe(false);
  });

  it('passes a chunked body of unknown length', async () => {
    const parts = [patternBytes(0, 5_000_000), patternBytes(5_000_000, 123)];
    const reply = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: h.port, method: 'PUT', path: '/API/import/raw', agent: false },
        (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (d: string) => (text += d));
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      for (const part of parts) req.write(part);
      req.end();
    });
    expect(json(reply)).toMatchObject({ bytes: 5_000_123, sha256: sha(Buffer.concat(parts)) });
  });
});
