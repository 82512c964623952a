/**
 * Framing that breaks on either side once bytes are already flowing. An answer that runs on
 * past its `Content-Length` must never be read as the answer to the next request on its
 * pooled connection (response desync), on either engine. A chunked upload its client breaks
 * mid-body (a bad chunk, a close, a reset) must never reach Vidispine as a whole request: the
 * upload streams by then, so only a last chunk the proxy adds itself could end it, and that
 * would turn a cut upload into a complete, shorter one.
 */
import * as net from 'node:net';
import { behindRawUpstream, type BehindRawUpstream } from '../support/behind-raw-upstream';
import { rawRequest } from '../support/raw-client';
import { ok } from '../support/raw-upstream';
import { until } from '../support/wait';

/** A proxy of its own for the tests of a `describe`, forgetting each test's requests. */
function ownProxy(): BehindRawUpstream {
  // One pooled upstream connection per engine: a request after another reuses it when open.
  const proxy = behindRawUpstream({ vidispine: { maxSockets: 1 } });
  beforeEach(() => {
    proxy.upstream.requests.length = 0;
    proxy.upstream.heads.length = 0;
  });
  afterEach(async () => {
    proxy.upstream.respond = (request) => ok(`answer ${request.sequence}`);
    await until(() => proxy.settled(), 5000, 'nothing in flight');
  });
  return proxy;
}

describe.each([
  ['GET', ''],
  // With a body, the request goes upstream through node:http rather than undici.
  ['PUT', 'x'],
])('a %s answered with bytes beyond its Content-Length', (method, body) => {
  // The extra bytes are a whole answer of their own, in the same segment as the real one.
  const OVERRUN = ok('ok') + ok('smuggled');
  const proxy = ownProxy();

  it('passes on its answer whole; the bytes never answer the next request', async () => {
    const { upstream, h } = proxy;
    upstream.respond = (request) =>
      request.target === '/API/item/VX-1' ? OVERRUN : ok(`answer ${request.sequence}`);
    const length = body === '' ? '' : `Content-Length: ${body.length}\r\n`;
    const first = await rawRequest(
      h.port,
      `${method} /API/item/VX-1 HTTP/1.1\r\nHost: x\r\n${length}\r\n${body}`,
    );
    expect(first.responses.map((r) => [r.status, r.body.toString()])).toEqual([[200, 'ok']]);
    expect(first.trailing).toBe('');
    // A request after it, as another client would send it: its own answer, from Vidispine.
    const next = await rawRequest(
      h.port,
      `${method} /API/item/VX-2 HTTP/1.1\r\nHost: x\r\n${length}\r\n${body}`,
    );
    expect(next.responses.map((r) => r.body.toString())).toEqual([
      `answer ${upstream.requests[1].sequence}`,
    ]);
    expect(upstream.requests.map((r) => r.target)).toEqual(['/API/item/VX-1', '/API/item/VX-2']);
    // The connection that carried the extra bytes was not used again.
    expect(upstream.requests[1].connection).not.toBe(upstream.requests[0].connection);
  });
});

describe('a chunked upload its client breaks once it streams', () => {
  // Only uploads, each on a connection of its own: a broken one leaves none open.
  const proxy = ownProxy();
  const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
  const CHUNK = `4000\r\n${'a'.repeat(0x4000)}\r\n`;

  /**
   * A client that sends its head with `Expect: 100-continue`, some chunks once the proxy says
   * `100 Continue` (by then it pipes the body upstream), then `breakIt`. Resolves with what
   * came back to it.
   */
  async function brokenUpload(breakIt: (socket: net.Socket) => void): Promise<string> {
    const socket = net.connect(proxy.h.port, '127.0.0.1');
    socket.on('error', () => undefined);
    let text = '';
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const continued = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        if (text.includes(CONTINUE)) resolve();
      });
    });
    socket.write(
      'PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n',
    );
    await continued;
    await new Promise<void>((resolve) => socket.write(CHUNK.repeat(8), () => resolve()));
    // The body is on its way to Vidispine: its head arrived there, its last chunk never must.
    await until(() => proxy.upstream.heads.length === 1, 5000, 'the upload reached Vidispine');
    breakIt(socket);
    await closed;
    return text.slice(text.indexOf(CONTINUE) + CONTINUE.length);
  }

  it.each([
    ['a chunk size that is not hex', 'zz\r\nhello\r\n0\r\n\r\n'],
    ['a chunk not followed by CRLF', '5\r\nhelloXX0\r\n\r\n'],
    ['a chunk size beyond 64 bits', 'fffffffffffffffff\r\nhello\r\n0\r\n\r\n'],
    ['a malformed trailer field', '0\r\nX A: b\r\n\r\n'],
  ])('with %s: 400 to the client, Vidispine never gets a whole request', async (_, bad) => {
    const answer = await brokenUpload((socket) => socket.write(bad));
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    await until(() => proxy.upstream.open() === 0, 5000, 'the upload connection closed');
    expect(proxy.upstream.requests).toEqual([]);
    expect(proxy.upstream.malformed).toEqual([]);
  });

  it.each([
    ['closes its side', (socket: net.Socket) => socket.end()],
    ['resets', (socket: net.Socket) => socket.resetAndDestroy()],
  ])('that %s mid-body: Vidispine never gets a whole request', async (_, breakIt) => {
    await brokenUpload(breakIt);
    await until(() => proxy.upstream.open() === 0, 5000, 'the upload connection closed');
    expect(proxy.upstream.requests).toEqual([]);
    expect(proxy.upstream.malformed).toEqual([]);
  });

  it('leaves the proxy serving uploads', async () => {
    const { h, upstream } = proxy;
    const result = await rawRequest(
      h.port,
      'PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' +
        `${CHUNK}0\r\n\r\n`,
    );
    expect(result.responses.map((r) => r.status)).toEqual([200]);
    expect(upstream.requests.map((r) => r.body.length)).toEqual([0x4000]);
  });
});
