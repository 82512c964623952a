/**
 * Answers that end at their head whatever their `Content-Length` says (RFC 9112 §6.3): a
 * 304 (which may carry the length its 200 would have had, RFC 9110 §8.6, as nginx, Jetty
 * and CDNs send it), a 204, any answer to HEAD. Each reaches the client whole, with the
 * fields Vidispine sent (but a 204's `Content-Length`, which no 204 may carry), counts no
 * upstream error, and the next request on the same pooled upstream connection gets its own
 * answer.
 */
import { behindRawUpstream } from '../support/behind-raw-upstream';
import { rawRequest } from '../support/raw-client';
import { ok } from '../support/raw-upstream';
import { until } from '../support/wait';

// One pooled upstream connection: a request after another reuses it when it is still open.
const proxy = behindRawUpstream({ vidispine: { maxSockets: 1 } });
beforeEach(() => {
  proxy.h.observer.upstreamErrors.length = 0;
  proxy.upstream.requests.length = 0;
});
afterEach(async () => {
  proxy.upstream.respond = (request) => ok(`answer ${request.sequence}`);
  await until(() => proxy.settled(), 2000, 'nothing in flight');
});

const ANSWERS: Record<string, string> = {
  '304': 'HTTP/1.1 304 Not Modified\r\nETag: "v2"\r\nContent-Length: 100\r\n\r\n',
  '204': 'HTTP/1.1 204 No Content\r\nContent-Length: 100\r\n\r\n',
  '200': 'HTTP/1.1 200 OK\r\nETag: "v2"\r\nContent-Length: 100\r\n\r\n',
};

describe.each([
  ['GET', '304', ''],
  ['GET', '204', ''],
  ['HEAD', '200', ''],
  ['HEAD', '304', ''],
  // With a body, the request goes upstream through node:http rather than undici.
  ['PUT', '304', 'x'],
  ['PUT', '204', 'x'],
])('%s answered %s with Content-Length: 100 and no body', (method, status, body) => {
  it('reaches the client whole, and the next client request gets its own answer', async () => {
    const { upstream, h } = proxy;
    upstream.respond = (request) =>
      request.target === '/API/item/VX-1' ? ANSWERS[status] : ok(`answer ${request.sequence}`);
    const length = body === '' ? '' : `Content-Length: ${body.length}\r\n`;
    const result = await rawRequest(
      h.port,
      `${method} /API/item/VX-1 HTTP/1.1\r\nHost: x\r\nIf-None-Match: "v2"\r\n${length}\r\n${body}` +
        'GET /API/canary HTTP/1.1\r\nHost: x\r\n\r\n',
      { responses: 2, head: [method === 'HEAD', false] },
    );
    const [answer, canary] = result.responses;
    expect(answer.status).toBe(Number(status));
    // RFC 9110 §8.6: a 304 may give the length of the 200; a 204 gives none.
    expect(answer.header('content-length')).toBe(status === '204' ? undefined : '100');
    if (status !== '204') expect(answer.header('etag')).toBe('"v2"');
    const forwarded = upstream.requests.map((r) => r.target);
    expect(forwarded).toEqual(['/API/item/VX-1', '/API/canary']);
    expect(canary.body.toString()).toBe(`answer ${upstream.requests[1].sequence}`);
    expect(result.trailing).toBe('');
    expect(result.closed).toBe(false);
    expect(h.observer.upstreamErrors).toEqual([]);
  });
});

describe.each([
  ['GET', ''],
  ['PUT', 'x'],
])('%s answered 304 followed by bytes a 304 cannot have', (method, body) => {
  it('the 304 reaches the client, the bytes never reach the next request', async () => {
    const { upstream, h } = proxy;
    const stray = ok('stray').padEnd(100, 'x');
    upstream.respond = (request) =>
      request.target === '/API/item/VX-1'
        ? `${ANSWERS['304']}${stray}`
        : ok(`answer ${request.sequence}`);
    const length = body === '' ? '' : `Content-Length: ${body.length}\r\n`;
    const result = await rawRequest(
      h.port,
      `${method} /API/item/VX-1 HTTP/1.1\r\nHost: x\r\n${length}\r\n${body}` +
        'GET /API/canary HTTP/1.1\r\nHost: x\r\n\r\n',
      { responses: 2 },
    );
    expect(result.responses.map((r) => r.status)).toEqual([304, 200]);
    expect(result.responses[1].body.toString()).toBe(`answer ${upstream.requests[1].sequence}`);
    expect(result.trailing).toBe('');
    // The connection that carried the stray bytes served nothing after them.
    const [answered, next] = upstream.requests;
    expect(next.connection).not.toBe(answered.connection);
  });
});

describe('HEAD answered with the Transfer-Encoding its GET would have', () => {
  it('reaches the client without it, framed by its head alone, and the next request gets its own answer', async () => {
    // RFC 9112 §6.1: the field would describe Vidispine's framing of a GET, not the proxy's
    // (an HTTP/1.0 client's GET gets none); any hop may drop it, and nginx does.
    const { upstream, h } = proxy;
    upstream.respond = (request) =>
      request.target === '/API/item/VX-1'
        ? 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n'
        : ok(`answer ${request.sequence}`);
    const result = await rawRequest(
      h.port,
      'HEAD /API/item/VX-1 HTTP/1.1\r\nHost: x\r\n\r\nGET /API/canary HTTP/1.1\r\nHost: x\r\n\r\n',
      { responses: 2, head: [true, false] },
    );
    const [answer, canary] = result.responses;
    expect(answer.status).toBe(200);
    expect(answer.header('content-type')).toBe('text/plain');
    expect(answer.header('transfer-encoding')).toBeUndefined();
    expect(answer.header('content-length')).toBeUndefined();
    expect(canary.body.toString()).toBe(`answer ${upstream.requests[1].sequence}`);
    expect(result.trailing).toBe('');
    expect(result.closed).toBe(false);
    expect(h.observer.upstreamErrors).toEqual([]);
  });
});

describe.each([
  ['GET', 'HTTP/1.1 204 No Content\r\n\r\n'],
  ['GET', 'HTTP/1.1 304 Not Modified\r\nETag: "v2"\r\n\r\n'],
  ['HEAD', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'],
  ['HEAD', 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n'],
  ['PUT', 'HTTP/1.1 204 No Content\r\n\r\n'],
])('an HTTP/1.0 keep-alive %s answered %j', (method, head) => {
  it('keeps its connection, as nginx does: a bodiless answer needs no length to end', async () => {
    // ApacheBench's -k speaks this. Node keeps an HTTP/1.0 connection only for an answer
    // with a Content-Length, though one without a body needs none.
    const { upstream } = proxy;
    upstream.respond = (request) =>
      request.target === '/API/item/VX-1' ? head : ok(`answer ${request.sequence}`);
    const body = method === 'PUT' ? 'Content-Length: 1\r\n\r\nx' : '\r\n';
    const result = await rawRequest(
      proxy.h.port,
      `${method} /API/item/VX-1 HTTP/1.0\r\nConnection: keep-alive\r\n${body}` +
        'GET /API/canary HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
      { responses: 2, head: [method === 'HEAD', false] },
    );
    const [answer, canary] = result.responses;
    expect(answer.header('connection')).toBe('keep-alive');
    expect(answer.header('keep-alive')).toMatch(/^timeout=\d+$/);
    expect(answer.header('transfer-encoding')).toBeUndefined();
    expect(canary.body.toString()).toBe(`answer ${upstream.requests[1].sequence}`);
    expect(canary.header('connection')).toBe('keep-alive');
    expect(result.trailing).toBe('');
    expect(result.closed).toBe(false);
  });
});

it('an HTTP/1.0 keep-alive GET answered without a length still ends with its connection', async () => {
  const { upstream } = proxy;
  upstream.respond = () =>
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n';
  const result = await rawRequest(
    proxy.h.port,
    'GET /API/item/VX-1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
    { untilClosed: true },
  );
  expect(result.responses[0].header('connection')).toBe('close');
  expect(result.responses[0].header('transfer-encoding')).toBeUndefined();
  expect(result.responses[0].body.toString()).toBe('ok');
  expect(result.closed).toBe(true);
});
