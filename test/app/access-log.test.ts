/** The access log, end to end: off by default, one line per request with its id when on. */
import { Writable } from 'node:stream';
import { createProxyApp, type ProxyApp } from '../../src/app';
import { configFromObject } from '../../src/config/load';
import { createLogger } from '../../src/ops/logger';
import { createSimulator, type Simulator } from '../../src/simulator';
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { call } from '../support/http';
import { rawExchange } from '../support/net';
import { until } from '../support/wait';

/**
 * Keeps `socket` sending bytes, as a client uploading behind its head does, as fast as the
 * connection takes them, until the returned function is called or the socket is gone.
 */
function keepSending(socket: net.Socket): () => void {
  const filler = Buffer.alloc(16 * 1024, 0x61);
  let sending = true;
  const send = (): void => {
    while (sending && !socket.destroyed && socket.write(filler));
  };
  socket.on('drain', send);
  send();
  return () => {
    sending = false;
  };
}

type Line = Record<string, unknown>;

describe('access log', () => {
  let sim: Simulator;
  let app: ProxyApp | undefined;

  beforeEach(async () => {
    sim = createSimulator();
    await sim.listen();
  });
  afterEach(async () => {
    if (app) {
      await app.shutdownSteps.closeListeners();
      await app.shutdownSteps.stop();
    }
    app = undefined;
    await sim.close();
  });

  async function start(
    accessLog: boolean,
    level = 'info',
  ): Promise<{ port: number; lines: Line[] }> {
    const lines: Line[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const text of chunk.toString().split('\n')) {
          if (text !== '') lines.push(JSON.parse(text) as Line);
        }
        done();
      },
    });
    const config = configFromObject(
      {
        vidispine: { url: sim.url },
        users: [{ name: 'alice', password: 'alice-password', listen: '127.0.0.1:0' }],
        proxy: { accessLog },
        ops: { listen: 'off' },
        log: { level },
      },
      {},
    );
    app = createProxyApp({ config, logger: createLogger({ level, destination }) });
    await app.start();
    return { port: app.listeners[0].address()!.port, lines };
  }

  const requests = (lines: Line[]): Line[] => lines.filter((l) => l.event === 'request');

  it('writes nothing per request by default', async () => {
    const { port, lines } = await start(false);
    expect((await call(port, { path: '/API/whoami' })).status).toBe(200);
    expect(requests(lines)).toEqual([]);
  });

  it('logs each request with the client id, or one it made and sent on', async () => {
    const { port, lines } = await start(true);
    await call(port, { path: '/API/whoami', headers: { 'x-request-id': 'client-42' } });
    const echoed = await call(port, { path: '/API/item/VX-1;version=2/metadata?x=1' });
    expect(echoed.status).toBe(200);
    sim.revokeAllTokens();
    expect((await call(port, { path: '/API/whoami' })).text).toBe('alice');

    await new Promise((resolve) => setImmediate(resolve));
    const [first, second, third] = requests(lines);
    expect(first).toMatchObject({
      requestId: 'client-42',
      user: 'alice',
      method: 'GET',
      path: '/API/whoami',
      status: 200,
      replayed: false,
    });
    expect(second).toMatchObject({ path: '/API/item/VX-1;version=2/metadata?x=1', status: 200 });
    expect(second.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(third).toMatchObject({ status: 200, replayed: true });
    expect(typeof first.durationMs).toBe('number');
  });

  it.each(['warn', 'error'])(
    'writes its lines with log.level %s too, as nginx and Envoy keep the access log apart from the level',
    async (level) => {
      const { port, lines } = await start(true, level);
      expect((await call(port, { path: '/API/whoami?token=LEVELSECRET1' })).status).toBe(200);
      await until(() => requests(lines).length > 0, 5000, 'the access line');
      expect(requests(lines)).toEqual([
        expect.objectContaining({
          level: 'info',
          method: 'GET',
          path: '/API/whoami?token=[REDACTED]',
          status: 200,
        }),
      ]);
      expect(JSON.stringify(lines)).not.toContain('LEVELSECRET1');
      // The level still holds for everything else.
      expect(lines.filter((l) => l.level === 'info' && l.event !== 'request')).toEqual([]);
    },
  );

  it("keeps the client's address on the line of a client that went away (499)", async () => {
    const { port, lines } = await start(true);
    const req = http.get({ port, host: '127.0.0.1', path: '/API/slow?ms=5000' });
    req.on('error', () => undefined);
    await until(() => sim.calls({ endpoint: 'api' }) > 0, 5000, 'the request at Vidispine');
    req.destroy();
    await until(() => requests(lines).length > 0, 5000, 'the access line');
    expect(requests(lines)).toEqual([
      expect.objectContaining({ status: 499, remoteAddress: '127.0.0.1' }),
    ]);
  });

  it('logs the credential of a signed URL (passkey, hash) as [REDACTED]', async () => {
    const { port, lines } = await start(true);
    const path = '/APInoauth/is-online?passkey=SIGNEDSECRET123&hash=HASHSECRET&x=1';
    expect((await call(port, { path })).status).toBe(200);

    await new Promise((resolve) => setImmediate(resolve));
    const redacted = '/APInoauth/is-online?passkey=[REDACTED]&hash=[REDACTED]&x=1';
    expect(requests(lines)).toEqual([
      expect.objectContaining({ path: redacted, msg: `GET ${redacted} 200` }),
    ]);
    const text = JSON.stringify(lines);
    expect(text).not.toContain('SIGNEDSECRET123');
    expect(text).not.toContain('HASHSECRET');
  });

  it('logs the 417 to an expectation it cannot meet, like its other refusals', async () => {
    const { port, lines } = await start(true);
    const answer = await rawExchange(
      port,
      'GET /API/whoami HTTP/1.1\r\nHost: x\r\nExpect: foo\r\nConnection: close\r\n\r\n',
    );
    expect(answer.status).toBe(417);
    await until(() => requests(lines).length > 0, 5000, 'the access line');
    expect(requests(lines)).toEqual([
      expect.objectContaining({ method: 'GET', path: '/API/whoami', status: 417 }),
    ]);
    expect(sim.calls({ endpoint: 'api' })).toBe(0);
  });

  it.each([
    [
      'a method the parser refuses',
      'FOO BAR /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n',
      400,
      'HPE_INVALID_METHOD',
    ],
    [
      'a head too large',
      `GET /API/whoami?token=HEADSECRET1 HTTP/1.1\r\nHost: x\r\nCookie: s=${'a'.repeat(20 * 1024)}\r\n\r\n`,
      431,
      'HPE_HEADER_OVERFLOW',
    ],
  ])(
    'logs %s, refused before it was a request, as nginx does: its status and why, with no bytes of it',
    async (_, bytes, status, refusal) => {
      const { port, lines } = await start(true);
      const answer = await rawExchange(port, bytes);
      expect(answer.status).toBe(status);
      await until(() => requests(lines).length > 0, 5000, 'the access line');
      expect(requests(lines)).toEqual([
        expect.objectContaining({
          requestId: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown,
          user: 'alice',
          method: '-',
          path: '-',
          status,
          refusal,
          remoteAddress: '127.0.0.1',
          msg: `- - ${status}`,
        }),
      ]);
      expect(JSON.stringify(lines)).not.toContain('HEADSECRET1');
      expect(sim.calls({ endpoint: 'api' })).toBe(0);
    },
  );

  const CHUNKED_PUT =
    'PUT /API/h/ok?token=BODYSECRET1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n';
  it.each([
    [
      'a chunk size that is not hex',
      '3\r\nabc\r\nZZZ\r\nabc\r\n0\r\n\r\n',
      400,
      'HPE_INVALID_CHUNK_SIZE',
    ],
    [
      'a chunk size past 64 bits',
      '3\r\nabc\r\n1FFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n',
      400,
      'HPE_INVALID_CHUNK_SIZE',
    ],
  ])(
    'logs a request whose body has %s with the status its client got, not as a client gone (499)',
    async (_, body, status, refusal) => {
      const { port, lines } = await start(true);
      const answer = await rawExchange(port, CHUNKED_PUT + body);
      expect(answer.text).toBe(`HTTP/1.1 ${status} Bad Request\r\nConnection: close\r\n\r\n`);
      await until(() => requests(lines).length > 0, 5000, 'the access line');
      expect(requests(lines)).toEqual([
        expect.objectContaining({
          method: 'PUT',
          path: '/API/h/ok?token=[REDACTED]',
          status,
          refusal,
          remoteAddress: '127.0.0.1',
          msg: `PUT /API/h/ok?token=[REDACTED] ${status}`,
        }),
      ]);
      expect(JSON.stringify(lines)).not.toContain('BODYSECRET1');
      expect(sim.calls({ endpoint: 'api' })).toBe(0);
    },
  );

  it('logs a request whose body turns bad once it is at Vidispine with the 400 its client got', async () => {
    const { port, lines } = await start(true);
    // A token first, so that the request goes on at once.
    expect((await call(port, { path: '/API/whoami' })).status).toBe(200);
    await until(() => requests(lines).length === 1, 5000, 'the first access line');
    const client = net.connect(port, '127.0.0.1');
    let received = '';
    client.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    client.write(
      'POST /API/import/raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n',
    );
    await until(() => sim.calls({ endpoint: 'api' }) === 2, 5000, 'the upload at Vidispine');
    client.end('ZZZ\r\nabc\r\n0\r\n\r\n');
    await once(client, 'close');
    expect(received).toBe('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    await until(() => requests(lines).length === 2, 5000, 'the access line');
    expect(requests(lines)[1]).toMatchObject({
      method: 'POST',
      path: '/API/import/raw',
      status: 400,
      refusal: 'HPE_INVALID_CHUNK_SIZE',
    });
    // The client's fault, not Vidispine's.
    expect(lines.filter((l) => l.event === 'upstream_error')).toEqual([]);
  });

  it.each(['Content-Length: 5', 'Transfer-Encoding: chunked'])(
    'logs a request whose client ends its side in the middle of its body (%s) as a client gone (499)',
    async (framing) => {
      const { port, lines } = await start(true);
      expect((await call(port, { path: '/API/whoami' })).status).toBe(200);
      await until(() => requests(lines).length === 1, 5000, 'the first access line');
      const client = net.connect(port, '127.0.0.1');
      client.on('error', () => undefined);
      client.write(`PUT /API/import/raw HTTP/1.1\r\nHost: x\r\n${framing}\r\n\r\n`);
      await until(() => app?.listeners[0].inFlight() === 1, 5000, 'the upload in flight');
      // Its parser's end-of-input error is no refusal of bytes: the client went away.
      client.end();
      await until(() => requests(lines).length === 2, 5000, 'the access line');
      expect(requests(lines)[1]).toMatchObject({ method: 'PUT', status: 499 });
      expect(requests(lines)[1]).not.toHaveProperty('refusal');
      client.destroy();
    },
  );

  it.each([
    [
      'a head the parser refuses',
      'FOO BAR /API/item HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n',
    ],
    ['a request whose body the parser refuses', `${CHUNKED_PUT}3\r\nabc\r\nZZZ\r\n`],
  ])(
    'answers whole the request before %s while its client still sends, then the 400: no reset throws them away',
    async (_, behind) => {
      const { port, lines } = await start(true);
      const size = 300_000;
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.pause();
      const received: Buffer[] = [];
      let error: string | undefined;
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code));
      socket.write(
        `GET /API/storage/file/VX-1/data?size=${size} HTTP/1.1\r\nHost: x\r\n\r\n` + behind,
      );
      // What its client sends after the head, as an upload would.
      const stopSending = keepSending(socket);
      // It reads nothing for a while: the answer waits in the kernel's buffers.
      await until(() => requests(lines).length > 0, 10_000, 'the answer handed to the kernel');
      socket.resume();
      await new Promise((resolve) => socket.once('close', resolve));
      stopSending();
      const text = Buffer.concat(received).toString('latin1');
      expect([error, text.match(/HTTP\/1\.1 \d{3}/g)]).toEqual([
        undefined,
        ['HTTP/1.1 200', 'HTTP/1.1 400'],
      ]);
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      expect(body.indexOf('HTTP/1.1 400')).toBe(size);
      await until(() => requests(lines).length === 2, 5000, 'the access lines');
      expect(requests(lines).map((l) => l.status)).toEqual([200, 400]);
    },
  );

  it.each([
    [
      'a request line that is not HTTP',
      'FOO BAR /API/item HTTP/1.1\r\nHost: x\r\n\r\n',
      'HPE_INVALID_METHOD',
    ],
    [
      'two lengths',
      'PUT /API/item HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'HPE_UNEXPECTED_CONTENT_LENGTH',
    ],
  ])(
    'gets the 400 to a head with %s to a client still sending behind it, the status logged, not a reset',
    async (_, head, refusal) => {
      const { port, lines } = await start(true);
      const socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.pause();
      const closed = new Promise((resolve) => socket.once('close', resolve));
      let text = '';
      let error: string | undefined;
      socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
      socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code));
      socket.write(head);
      // The upload its client sends behind the head, before it reads.
      const stopSending = keepSending(socket);
      await until(() => requests(lines).length > 0, 5000, 'the access line');
      socket.resume();
      await closed;
      stopSending();
      expect([error, text]).toEqual([
        undefined,
        'HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n',
      ]);
      expect(requests(lines)).toEqual([expect.objectContaining({ status: 400, refusal })]);
    },
  );

  it('answers whole the requests before a head the parser refuses, then refuses it with a 400 of its own line', async () => {
    const { port, lines } = await start(true);
    expect((await call(port, { path: '/API/whoami' })).status).toBe(200);
    await until(() => requests(lines).length === 1, 5000, 'the first access line');
    const size = 1_000_000;
    const answer = await rawExchange(
      port,
      `GET /API/storage/file/VX-1/data?size=${size} HTTP/1.1\r\nHost: x\r\n\r\n` +
        'GET /API/slow?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'FOO BAR /API/whoami HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    expect(answer.closed).toBe(true);
    const heads = answer.text.match(/HTTP\/1\.1 \d{3}/g);
    expect(heads).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 400']);
    expect(answer.text).toContain(
      '{"sleptMs":100}HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n',
    );
    expect(answer.text.endsWith('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')).toBe(
      true,
    );
    const body = answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4);
    expect(body.indexOf('HTTP/1.1 200')).toBe(size);
    await until(() => requests(lines).length === 4, 5000, 'the access lines');
    expect(
      requests(lines)
        .slice(1)
        .map((l) => [l.method, l.status, l.refusal, l.cut]),
    ).toEqual([
      ['GET', 200, undefined, undefined],
      ['GET', 200, undefined, undefined],
      ['-', 400, 'HPE_INVALID_METHOD', undefined],
    ]);
  });

  it('answers whole the request before one whose body the parser refuses, then that one its 400, logged with it', async () => {
    const { port, lines } = await start(true);
    expect((await call(port, { path: '/API/whoami' })).status).toBe(200);
    await until(() => requests(lines).length === 1, 5000, 'the first access line');
    const size = 1_000_000;
    const answer = await rawExchange(
      port,
      `GET /API/storage/file/VX-1/data?size=${size} HTTP/1.1\r\nHost: x\r\n\r\n` +
        `${CHUNKED_PUT}3\r\nabc\r\nZZZ\r\n`,
    );
    expect(answer.closed).toBe(true);
    // The 400 goes out after the first answer, never in its place.
    expect(answer.text.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
    const body = answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4);
    expect(body.slice(size)).toBe('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    await until(() => requests(lines).length === 3, 5000, 'the access lines');
    expect(
      requests(lines)
        .slice(1)
        .map((l) => [l.method, l.status, l.refusal, l.cut]),
    ).toEqual([
      ['GET', 200, undefined, undefined],
      ['PUT', 400, 'HPE_INVALID_CHUNK_SIZE', undefined],
    ]);
    // Never forwarded: its turn came with its connection closing.
    expect(sim.calls({ endpoint: 'api' })).toBe(2);
  });
});
