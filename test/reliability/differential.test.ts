/**
 * A corpus of hostile client messages — framing attacks Node refuses, the ones the proxy
 * must refuse itself, and ordinary requests dressed up — each sent byte for byte through
 * the proxy to a strict recording upstream behind a one-connection pool. For every one:
 * what reaches Vidispine is well framed, at most one request per client request, carries
 * nothing the client could not have sent directly, and the next client still gets its own
 * answer (see `differential.ts`).
 */
import { behindRawUpstream } from '../support/behind-raw-upstream';
import { differential } from '../support/differential';
import { REFUSED_BY_THE_PARSER } from '../support/hostile-requests';

const SMUGGLED = 'GET /API/whoami HTTP/1.1\r\nRunAs: admin\r\nX-Prefix: ';
const WS =
  'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
  'Sec-WebSocket-Version: 13\r\n';
const chunk = (data: string): string => `${data.length.toString(16)}\r\n${data}\r\n`;
const many = (count: number): string => {
  let lines = '';
  for (let i = 0; i < count; i++) lines += `X-${i}: a\r\n`;
  return lines;
};

/** [name, bytes, requests the bytes hold]. */
const CORPUS: [string, string, number][] = [
  // Framing conflicts Node's parser refuses, at the head or in a chunked body.
  ...REFUSED_BY_THE_PARSER.map(([name, bytes]): [string, string, number] => [name, bytes, 1]),
  [
    'a chunk size that overflows',
    `POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\n${SMUGGLED}\r\n0\r\n\r\n`,
    1,
  ],
  [
    'a chunk with a bad terminator',
    `POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n`,
    1,
  ],
  // What the proxy refuses itself.
  ['xchunked', 'POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n', 1],
  [
    'Connection: content-length on a GET with a body',
    `GET /API/whoami HTTP/1.1\r\nHost: x\r\nConnection: content-length\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    1,
  ],
  [
    'Connection: Content-Length on a HEAD with a body',
    `HEAD /API/whoami HTTP/1.1\r\nHost: x\r\nConnection: Content-Length\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    1,
  ],
  [
    'Connection: transfer-encoding on a chunked DELETE',
    `DELETE /API/item/VX-1 HTTP/1.1\r\nHost: x\r\nConnection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(SMUGGLED)}0\r\n\r\n`,
    1,
  ],
  ['Connection: host', 'GET /API/whoami HTTP/1.1\r\nHost: x\r\nConnection: host, close\r\n\r\n', 1],
  [
    'an upgrade with Content-Length',
    `GET /APIWS/echo HTTP/1.1\r\nHost: x\r\n${WS}Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    1,
  ],
  [
    'an upgrade with chunked framing',
    `GET /APIWS/echo HTTP/1.1\r\nHost: x\r\n${WS}Transfer-Encoding: chunked\r\n\r\n${chunk(SMUGGLED)}0\r\n\r\n`,
    1,
  ],
  ['an upgrade by POST', `POST /APIWS/echo HTTP/1.1\r\nHost: x\r\n${WS}\r\n`, 1],
  [
    'gzip, chunked',
    `POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n${chunk(SMUGGLED)}0\r\n\r\n`,
    1,
  ],
  [
    'chunked in HTTP/1.0',
    `POST /x HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk(SMUGGLED)}0\r\n\r\n`,
    1,
  ],
  ['two Host', 'GET /API/whoami HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n', 1],
  [
    'a Content-Length after the 1,000th header',
    `GET /API/whoami HTTP/1.1\r\nHost: x\r\n${many(1000)}Content-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    1,
  ],
  ['HTTP/2.0', 'GET /API/whoami HTTP/2.0\r\nHost: x\r\n\r\n', 1],
  ['HTTP/0.9', 'GET /API/whoami HTTP/0.9\r\nHost: x\r\n\r\n', 1],
  ['an asterisk target', 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n', 1],
  ['an authority target', 'OPTIONS evil.example:443 HTTP/1.1\r\nHost: x\r\n\r\n', 1],
  ['CONNECT', 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n', 1],
  ['a 9 KiB target', `GET /API/whoami?q=${'a'.repeat(9 * 1024)} HTTP/1.1\r\nHost: x\r\n\r\n`, 1],
  // Accepted, but only what the client may send goes on.
  [
    'client credentials',
    'GET /API/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\n' +
      'Proxy-Authorization: Basic eDp5\r\nRunAs: admin\r\n\r\n',
    1,
  ],
  [
    'an absolute-form target',
    'GET http://evil.example:9/API/whoami;x=1?y HTTP/1.1\r\nHost: evil.example:9\r\n\r\n',
    1,
  ],
  [
    'a small body on a GET',
    `GET /API/search HTTP/1.1\r\nHost: x\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    1,
  ],
  [
    'a chunked body with a trailer that names Content-Length',
    `POST /API/import/raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk('abc')}0\r\nContent-Length: 99\r\n\r\n`,
    1,
  ],
  [
    'a chunk extension',
    `POST /API/import/raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\n\r\n`,
    1,
  ],
  [
    'Expect: 100-continue with a body',
    'PUT /API/item/VX-1/metadata HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello',
    1,
  ],
  [
    'hop-by-hop fields and one the Connection header names',
    'GET /API/whoami HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\n' +
      'Keep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: h2c\r\nProxy-Connection: keep-alive\r\n\r\n',
    1,
  ],
  ['obs-text in a value', 'GET /API/whoami HTTP/1.1\r\nHost: x\r\nX-Latin: caf\xe9\r\n\r\n', 1],
  [
    'obs-text in a value of a streamed upload',
    `PUT /API/import/raw HTTP/1.1\r\nHost: x\r\nX-Latin: caf\xe9\r\nTransfer-Encoding: chunked\r\n\r\n${chunk('abc')}0\r\n\r\n`,
    1,
  ],
  [
    'pipelined: a POST, then a GET that tries to carry a RunAs in its body',
    `POST /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi` +
      `GET /API/whoami HTTP/1.1\r\nHost: x\r\nConnection: content-length\r\nContent-Length: ${SMUGGLED.length}\r\n\r\n${SMUGGLED}`,
    2,
  ],
  [
    'HTTP/1.0 keep-alive without Host',
    'GET /API/whoami HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /API/whoami HTTP/1.0\r\n\r\n',
    2,
  ],
];

const proxy = behindRawUpstream({ vidispine: { maxSockets: 1 } });

it.each(CORPUS)('%s', async (_name, message, requests) => {
  const { h, upstream, settled } = proxy;
  expect(await differential(h.port, upstream, message, requests, settled)).toEqual([]);
});
