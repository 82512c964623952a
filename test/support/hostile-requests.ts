/**
 * Request heads Node's parser refuses outright (400, connection closed) before anything of
 * them can be forwarded: conflicting framing, malformed fields, bad line ends. Shared by
 * the whole-app hostile tests and the differential corpus.
 */
const SMUGGLED = 'GET /API/whoami HTTP/1.1\r\nRunAs: admin\r\nX-Prefix: ';

/** [name, bytes] */
export const REFUSED_BY_THE_PARSER: readonly (readonly [string, string])[] = [
  [
    'Content-Length with Transfer-Encoding',
    `POST /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: ${5 + SMUGGLED.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  ],
  [
    'Transfer-Encoding with Content-Length',
    `POST /API/import/raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n${SMUGGLED}`,
  ],
  [
    'two different Content-Length',
    'POST /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
  ],
  [
    'two equal Content-Length',
    'POST /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
  ],
  [
    'Content-Length list',
    'POST /API/import/raw HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello',
  ],
  ['Content-Length with a sign', 'POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello'],
  ['negative Content-Length', 'POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\nhello'],
  [
    'chunked not last',
    'POST /API/import/raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
  ],
  [
    'a vertical tab before chunked',
    'POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n',
  ],
  ['obs-fold', 'GET /API/whoami HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n'],
  ['bare LF line ends', 'GET /API/whoami HTTP/1.1\nHost: x\n\n'],
  ['a bare LF inside the headers', 'GET /API/whoami HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n'],
  ['a bare CR', 'GET /API/whoami HTTP/1.1\r\nHost: x\rX-A: b\r\n\r\n'],
  [
    'a space before the colon',
    'POST /API/import/raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n',
  ],
  ['a NUL in a header value', 'GET /API/whoami HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n'],
  ['HTTP/1.2', 'GET /API/whoami HTTP/1.2\r\nHost: x\r\n\r\n'],
  ['no Host in HTTP/1.1', 'GET /API/whoami HTTP/1.1\r\n\r\n'],
];
