/**
 * Hostile input, written byte for byte on raw TCP connections to the whole app. Nothing
 * malformed may reach Vidispine, and nothing may reach any host but Vidispine.
 */
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import * as http2 from 'node:http2';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { REFUSED_BY_THE_PARSER } from '../support/hostile-requests';
import { call } from '../support/http';
import { startApp, type RunningApp } from '../support/app';
import { rawExchange, startRecorder, type Recorder } from '../support/net';
import { onPath } from '../monitoring/tools';

/** curl, which repeats a request refused with HTTP_1_1_REQUIRED over HTTP/1.1. */
const CURL = onPath('curl');

let r: RunningApp;
let evil: Recorder;
beforeAll(async () => {
  evil = await startRecorder();
  r = await startApp({
    raw: {
      users: [
        {
          name: 'runas',
          password: 'runas-password',
          listen: '127.0.0.1:0',
          selectUserHeader: 'X-Vidispine-User',
        },
        { name: 'alice', password: 'alice-password' },
        { name: 'admin', password: 'admin', listen: '127.0.0.1:0', allowRunAs: true },
      ],
    },
  });
});
afterAll(async () => {
  await r.close();
  await evil.close();
});
afterEach(async () => {
  // Whatever came before, the proxy still serves and nothing went elsewhere.
  expect((await call(r.port(), { path: '/API/whoami' })).text).toBe('runas');
  expect(evil.connections).toBe(0);
});

const api = (): number => r.sim.calls({ endpoint: 'api' });

describe('request smuggling', () => {
  it.each(REFUSED_BY_THE_PARSER)(
    '%s: 400, connection closed, nothing forwarded',
    async (_name, bytes) => {
      const before = api();
      const answer = await rawExchange(r.port(), bytes);
      expect(answer.status).toBe(400);
      expect(answer.closed).toBe(true);
      expect(api()).toBe(before);
    },
  );
});

describe('other hosts', () => {
  it('an absolute-form target goes to Vidispine, path only', async () => {
    const before = api();
    const answer = await rawExchange(
      r.port(),
      `GET ${evil.url}/API/whoami HTTP/1.1\r\nHost: 127.0.0.1:${evil.port}\r\nConnection: close\r\n\r\n`,
    );
    expect(answer.status).toBe(200);
    expect(answer.text.endsWith('\r\n\r\nrunas')).toBe(true);
    expect(api()).toBe(before + 1);
  });

  it('an absolute-form target on another scheme goes to Vidispine too', async () => {
    const answer = await rawExchange(
      r.port(),
      'GET ftp://evil.example/API/whoami HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n',
    );
    expect(answer.text.endsWith('\r\n\r\nrunas')).toBe(true);
  });

  it('a spoofed Host goes to Vidispine', async () => {
    const reply = await call(r.port(), {
      path: '/API/whoami',
      headers: { host: `127.0.0.1:${evil.port}`, 'x-forwarded-host': `127.0.0.1:${evil.port}` },
    });
    expect(reply.text).toBe('runas');
  });

  it('CONNECT is refused and opens no tunnel', async () => {
    const before = api();
    const answer = await rawExchange(
      r.port(),
      `CONNECT 127.0.0.1:${evil.port} HTTP/1.1\r\nHost: 127.0.0.1:${evil.port}\r\n\r\nGET / HTTP/1.1\r\n\r\n`,
    );
    expect(answer.status).toBe(405);
    expect(answer.closed).toBe(true);
    expect(api()).toBe(before);
  });

  it('an asterisk or authority-form target is refused', async () => {
    for (const target of ['*', `127.0.0.1:${evil.port}`]) {
      const answer = await rawExchange(
        r.port(),
        `OPTIONS ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      expect(answer.status).toBe(400);
    }
  });
});

describe('a Vidispine URL with a path, behind a front end that serves other things too', () => {
  // A front end such as nginx resolves dot segments (RFC 3986 §5.2.4), decoding `%2e` and
  // `%2f` first: `/vidispine/../other/` would reach whatever it serves at `/other/`, with
  // our token attached.
  let front: RunningApp;
  let frontEnd: Recorder;
  beforeAll(async () => {
    frontEnd = await startRecorder();
    front = await startApp({ forwardTo: `${frontEnd.url}/vidispine` });
  });
  afterAll(async () => {
    await front.close();
    await frontEnd.close();
  });

  it.each([
    '/../other/x',
    '/API/../../other/x',
    '/%2e%2e/other/x',
    '/API/.%2E/%2e./other/x',
    '/API/..%2f..%2fother/x',
    '/API/..%2F..%5Cother/x',
    '/API\\..\\..\\other/x',
    '/API/..;a=1/../other/x',
    // A front end decodes `%3b` (nginx does) and hands on `..;a=1`.
    '/API/..%3ba=1/..%3B/other/x',
    '/API/..?q=1',
    '/API/..#x',
    '/..',
  ])('%s: 400, nothing forwarded', async (path) => {
    const answer = await rawExchange(
      front.port(),
      `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    expect(answer.status).toBe(400);
    expect(frontEnd.requests).toEqual([]);
  });

  it('dots that are no segment of their own, or in the query, are forwarded byte for byte', async () => {
    const paths = ['/API/item/..x/a..', '/API/./x', '/API/x...', '/API/search?q=../x&r=%2e%2e'];
    for (const path of paths) expect((await call(front.port(), { path })).text).toBe('evil');
    expect(frontEnd.requests).toEqual(paths.map((p) => `GET /vidispine${p}`));
  });
});

describe('sizes and methods', () => {
  it('oversized headers: 431, nothing forwarded', async () => {
    const before = api();
    const answer = await rawExchange(
      r.port(),
      `GET /API/whoami HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(answer.status).toBe(431);
    expect(api()).toBe(before);
  });

  it.each([9 * 1024, 15 * 1024])('a URL of %d bytes: 414, nothing forwarded', async (size) => {
    const before = api();
    const path = `/API/whoami?q=${'a'.repeat(size)}`;
    const answer = await rawExchange(
      r.port(),
      `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    expect(answer.status).toBe(414);
    expect(api()).toBe(before);
  });

  it('a URL beyond the header limit: refused (431), nothing forwarded', async () => {
    const before = api();
    const answer = await rawExchange(
      r.port(),
      `GET /API/whoami?q=${'a'.repeat(40_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    expect([414, 431]).toContain(answer.status);
    expect(api()).toBe(before);
  });

  it('a URL just under the limit is forwarded', async () => {
    const reply = await call(r.port(), { path: `/API/whoami?q=${'a'.repeat(7 * 1024)}` });
    expect(reply.text).toBe('runas');
  });

  it('an HTTP/1.1 request without Host: 400 with its reason, counted under its method, nothing forwarded', async () => {
    // RFC 9112 §3.2. Node answered it on its own, with no reason and seen by no metric or log.
    const counted = (): Promise<number> =>
      r.metric('vidispine_auth_proxy_requests_total', {
        user: 'runas',
        method: 'GET',
        code: '400',
      });
    const before = { api: api(), counted: await counted() };
    const answer = await rawExchange(r.port(), 'GET /API/whoami HTTP/1.1\r\n\r\n');
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('no Host header in an HTTP/1.1 request');
    expect(answer.closed).toBe(true);
    expect(await counted()).toBe(before.counted + 1);
    expect(api()).toBe(before.api);
  });

  it.each(['FOO BAR', 'G@T', 'BREW', 'get', 'GET\t'])('method %j: 400', async (method) => {
    const before = api();
    const answer = await rawExchange(r.port(), `${method} /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(answer.status).toBe(400);
    expect(api()).toBe(before);
  });

  it.each([
    ['a method the parser refuses', 'FOO BAR /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n', '400'],
    [
      'a head too large',
      `GET /API/whoami HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`,
      '431',
    ],
  ])('%s is counted in requests_total as OTHER with its status', async (_, bytes, code) => {
    const counted = (): Promise<number> =>
      r.metric('vidispine_auth_proxy_requests_total', { user: 'runas', method: 'OTHER', code });
    const before = await counted();
    const answer = await rawExchange(r.port(), bytes);
    expect(answer.status).toBe(Number(code));
    expect(await counted()).toBe(before + 1);
    expect(await r.metric('vidispine_auth_proxy_requests_in_flight')).toBe(0);
  });

  it('a request whose chunked body the parser refuses is counted in requests_total under its method as the 400 its client got, not as 499', async () => {
    const counted = (code: string): Promise<number> =>
      r.metric('vidispine_auth_proxy_requests_total', { user: 'runas', method: 'PUT', code });
    const before = { api: api(), refused: await counted('400'), gone: await counted('499') };
    const answer = await rawExchange(
      r.port(),
      'PUT /API/h/ok HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nZZZ\r\nabc\r\n0\r\n\r\n',
    );
    expect(answer.text).toBe('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    expect(await counted('400')).toBe(before.refused + 1);
    expect(await counted('499')).toBe(before.gone);
    expect(await r.metric('vidispine_auth_proxy_requests_in_flight')).toBe(0);
    expect(api()).toBe(before.api);
  });

  it('an expectation other than 100-continue: 417 counted under its method, nothing forwarded, the connection kept', async () => {
    const counted = (): Promise<number> =>
      r.metric('vidispine_auth_proxy_requests_total', {
        user: 'runas',
        method: 'GET',
        code: '417',
      });
    const before = { api: api(), counted: await counted() };
    const answer = await rawExchange(
      r.port(),
      'GET /API/whoami HTTP/1.1\r\nHost: x\r\nExpect: foo\r\n\r\n' +
        'GET /API/whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    expect(answer.status).toBe(417);
    // The next request on the connection is served.
    expect(answer.text.endsWith('\r\n\r\nrunas')).toBe(true);
    expect(answer.closed).toBe(true);
    expect(await counted()).toBe(before.counted + 1);
    expect(api()).toBe(before.api + 1);
    expect(await r.metric('vidispine_auth_proxy_requests_in_flight')).toBe(0);
  });

  it('an expectation other than 100-continue with a body: 417, the body not read to waste', async () => {
    const before = api();
    const answer = await rawExchange(
      r.port(),
      'PUT /API/item/VX-1/metadata HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nContent-Length: 100000\r\n\r\n',
    );
    expect(answer.status).toBe(417);
    expect(answer.text).toMatch(/\r\nConnection: close\r\n/i);
    expect(answer.closed).toBe(true);
    expect(api()).toBe(before);
  });

  it.each(['HTTP/1.2', 'HTTP/11', 'HTTX/1.1'])('version %s: refused', async (version) => {
    const before = api();
    const answer = await rawExchange(r.port(), `GET /API/whoami ${version}\r\nHost: x\r\n\r\n`);
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(api()).toBe(before);
  });
});

describe('HTTP/2 with prior knowledge', () => {
  // HTTP/2 is not offered: the first stream is refused with HTTP/2's own word for it.
  it('the first stream is refused with HTTP_1_1_REQUIRED, counted as a 505, nothing forwarded', async () => {
    const counted = (): Promise<number> =>
      r.metric('vidispine_auth_proxy_requests_total', {
        user: 'runas',
        method: 'OTHER',
        code: '505',
      });
    const before = { api: api(), counted: await counted() };
    const session = http2.connect(`http://127.0.0.1:${r.port()}`);
    session.on('error', () => undefined);
    const stream = session.request({ ':path': '/API/whoami' });
    stream.on('error', () => undefined);
    stream.resume();
    await new Promise((resolve) => stream.on('close', resolve));
    session.destroy();
    expect(stream.rstCode).toBe(http2.constants.NGHTTP2_HTTP_1_1_REQUIRED);
    expect(await counted()).toBe(before.counted + 1);
    expect(api()).toBe(before.api);
  });

  (CURL === undefined ? it.skip : it)(
    'curl --http2-prior-knowledge repeats the request over HTTP/1.1 and gets its answer',
    async () => {
      // Not spawnSync: the proxy answers from this process.
      const curl = await promisify(execFile)(CURL as string, [
        '-sS',
        '--http2-prior-knowledge',
        `http://127.0.0.1:${r.port()}/API/whoami`,
      ]);
      expect(curl).toEqual({ stdout: 'runas', stderr: '' });
    },
  );
});

describe('WebSocket upgrades', () => {
  const upgrade = (path: string, extra = ''): string =>
    `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

  it('a long target: 414, nothing forwarded', async () => {
    const answer = await rawExchange(r.port(), upgrade(`/APIWS/echo?q=${'a'.repeat(9 * 1024)}`));
    expect(answer.status).toBe(414);
    expect(r.sim.calls({ endpoint: 'ws' })).toBe(0);
  });

  it('without Host in HTTP/1.1: 400, nothing forwarded', async () => {
    const answer = await rawExchange(r.port(), upgrade('/APIWS/echo').replace('Host: x\r\n', ''));
    expect(answer.status).toBe(400);
    expect(answer.text).toContain('no Host header in an HTTP/1.1 request');
    expect(r.sim.calls({ endpoint: 'ws' })).toBe(0);
  });

  it('an unknown user: 403, logged, nothing forwarded', async () => {
    const before = r.logs.length;
    const answer = await rawExchange(r.port(), upgrade('/APIWS/echo', 'X-Vidispine-User: eve\r\n'));
    expect(answer.status).toBe(403);
    expect(r.logs.slice(before).some((l) => l.includes('user_selection_refused'))).toBe(true);
    expect(r.sim.calls({ endpoint: 'ws' })).toBe(0);
  });
});

describe('WebSocket upgrades acting as a user who does not allow RunAs', () => {
  it('the RunAs header is removed and said', async () => {
    const before = r.logs.length;
    const socket = new WebSocket(`ws://127.0.0.1:${r.port()}/APIWS/echo`, {
      headers: { RunAs: 'admin' },
    });
    await once(socket, 'open');
    socket.close();
    await once(socket, 'close');
    const line = r.logs.slice(before).find((l) => l.includes('runas_stripped'));
    expect(JSON.parse(line ?? '{}')).toMatchObject({ event: 'runas_stripped', user: 'runas' });
  });
});

describe('choosing a user', () => {
  it('the select header may name a configured user', async () => {
    const reply = await call(r.port('runas'), {
      path: '/API/whoami',
      headers: { 'x-vidispine-user': 'alice' },
    });
    expect(reply.text).toBe('alice');
  });

  it('an unknown user: 403, logged, nothing forwarded', async () => {
    const before = api();
    const reply = await call(r.port('runas'), {
      path: '/API/whoami',
      headers: { 'x-vidispine-user': 'mallory' },
    });
    expect(reply.status).toBe(403);
    expect(api()).toBe(before);
    const line = r.logs.find((l) => l.includes('x-vidispine-user'));
    expect(line).toBeDefined();
    expect(JSON.parse(line ?? '{}')).toMatchObject({ level: 'warn', listener: 'runas' });
  });

  it('refusals that keep coming are said at warn once per listener, then at debug', async () => {
    const before = r.logs.length;
    for (const name of ['mallory', 'eve', 'trudy']) {
      const reply = await call(r.port('runas'), {
        path: '/API/whoami',
        headers: { 'x-vidispine-user': name },
      });
      expect(reply.status).toBe(403);
    }
    const refusals = r.logs
      .slice(before)
      .map((l) => JSON.parse(l) as { event?: string; level?: string })
      .filter((l) => l.event === 'user_selection_refused');
    expect(refusals.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('the select header twice (Node would join them into "bob, alice"): 403, nothing forwarded', async () => {
    const before = api();
    const answer = await rawExchange(
      r.port('runas'),
      'GET /API/whoami HTTP/1.1\r\nHost: x\r\nX-Vidispine-User: alice\r\nX-Vidispine-User: runas\r\nConnection: close\r\n\r\n',
    );
    expect(answer.status).toBe(403);
    expect(answer.text).toContain('must appear at most once');
    expect(api()).toBe(before);
  });

  it('RunAs is stripped where not allowed (the call runs as the listener user) and logged', async () => {
    const reply = await call(r.port('runas'), {
      path: '/API/whoami',
      headers: { RunAs: 'admin' },
    });
    expect(reply.text).toBe('runas');
    const line = r.logs.find((l) => l.includes('runas_stripped'));
    expect(JSON.parse(line ?? '{}')).toMatchObject({
      level: 'warn',
      user: 'runas',
      msg: 'RunAs header removed: the request acts as "runas", who does not allow it (allowRunAs is false)',
    });
  });

  it('RunAs is passed where allowed', async () => {
    const reply = await call(r.port('admin'), {
      path: '/API/whoami',
      headers: { RunAs: 'alice' },
    });
    expect(reply.text).toBe('alice');
  });

  it('client credentials never reach Vidispine: its Basic header is replaced by our token', async () => {
    const reply = await call(r.port('runas'), {
      path: '/API/whoami',
      headers: { authorization: `Basic ${Buffer.from('admin:admin').toString('base64')}` },
    });
    expect(reply.text).toBe('runas');
  });
});
