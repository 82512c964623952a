import {
  classifyUpstreamError,
  isWholeAnswerWithoutBody,
  retryAfterHeader,
  statusForUpstreamError,
  upstreamErrorDetail,
  UpstreamProtocolError,
  UpstreamResetError,
  UpstreamTimeoutError,
} from '../../src/proxy/errors';
import { CHUNKED, NO_BODY, lengthFraming } from '../../src/proxy/framing';
import {
  attachToken,
  isAscii,
  answerHeadProblem,
  answerStatusProblem,
  statusLineProblem,
  transferCodingProblem,
  clientResponseHeaders,
  requestDropSet,
  stripClientHeaders,
} from '../../src/proxy/headers';
import { pickIdentity } from '../../src/proxy/identity';
import { locationRewriter, rewriteRefresh } from '../../src/proxy/location';
import { canReplay, planBody } from '../../src/proxy/replay';
import { retriesOnFreshConnection } from '../../src/proxy/retry';
import { hasDotDotSegment, originForm, targetAuthority } from '../../src/proxy/target';

describe('request header policy', () => {
  const drop = requestDropSet({ allowRunAs: false, selectUserHeader: 'X-Vidispine-User' });
  const raw = [
    'Host',
    '127.0.0.1:8080',
    'Authorization',
    'Basic YWRtaW46YWRtaW4=',
    'RunAs',
    'bob',
    'X-Vidispine-User',
    'alice',
    'Proxy-Authorization',
    'Basic eDp5',
    'Connection',
    'keep-alive, X-Hop',
    'X-Hop',
    'gone',
    'Keep-Alive',
    'timeout=5',
    'TE',
    'trailers',
    'Transfer-Encoding',
    'chunked',
    'Content-Length',
    '12',
    'Expect',
    '100-continue',
    'Accept',
    'application/json',
    'index',
    '0',
    'size',
    '1048576',
    'X-Dup',
    'a',
    'x-dup',
    'b',
  ];

  it('strips client credentials, the select header, framing and hop-by-hop fields, keeping the rest as sent', () => {
    expect(stripClientHeaders(raw, drop)).toEqual([
      'Accept',
      'application/json',
      'index',
      '0',
      'size',
      '1048576',
      'X-Dup',
      'a',
      'x-dup',
      'b',
    ]);
  });

  it('lets RunAs through only when allowed', () => {
    const allowing = requestDropSet({ allowRunAs: true });
    expect(stripClientHeaders(['RunAs', 'bob', 'X-Vidispine-User', 'x'], allowing)).toEqual([
      'RunAs',
      'bob',
      'X-Vidispine-User',
      'x',
    ]);
  });

  it('never lets Connection remove framing or routing fields', () => {
    const listed = [
      'Host',
      'x',
      'Connection',
      'content-length, Transfer-Encoding, HOST, x-gone',
      'X-Gone',
      '1',
      'X-Kept',
      '2',
    ];
    expect(stripClientHeaders(listed, drop)).toEqual(['X-Kept', '2']);
  });

  it('attaches host, our token and the framing the body needs', () => {
    expect(attachToken(['Accept', '*/*'], 'vs:8080', 'T0K', NO_BODY, false)).toEqual([
      'Host',
      'vs:8080',
      'Authorization',
      'token T0K',
      'Accept',
      '*/*',
    ]);
    expect(attachToken([], 'vs', 'T', lengthFraming(5), false)).toEqual([
      'Host',
      'vs',
      'Authorization',
      'token T',
      'Content-Length',
      '5',
    ]);
    expect(attachToken([], 'vs', 'T', CHUNKED, true)).toEqual([
      'Host',
      'vs',
      'Authorization',
      'token T',
      'Transfer-Encoding',
      'chunked',
      'Expect',
      '100-continue',
    ]);
  });
});

describe('response header policy', () => {
  const rewrite = locationRewriter(new URL('http://vidispine:8080'), 'http');

  it('drops WWW-Authenticate and hop-by-hop fields and rewrites Location', () => {
    const raw = [
      'WWW-Authenticate',
      'Basic realm="Vidispine"',
      'Connection',
      'keep-alive, X-Hop',
      'X-Hop',
      '1',
      'Transfer-Encoding',
      'chunked',
      'Keep-Alive',
      'timeout=5',
      'Location',
      'http://vidispine:8080/API/item/VX-1',
      'Content-Range',
      'bytes 0-9/100',
      'ETag',
      '"abc"',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
    ];
    expect(clientResponseHeaders(raw, rewrite, 'localhost:9000', 206)).toEqual([
      'Location',
      'http://localhost:9000/API/item/VX-1',
      'Content-Range',
      'bytes 0-9/100',
      'ETag',
      '"abc"',
      'Set-Cookie',
      'a=1',
      'Set-Cookie',
      'b=2',
    ]);
  });
});

describe('status line', () => {
  it('a reason phrase is valid unless it holds a control byte', () => {
    for (const ok of ['Fine', '', 'Gut \xe4', 'a\tb', undefined]) {
      expect(statusLineProblem(200, ok)).toBeUndefined();
    }
    for (const bad of ['O\x01K', 'a\x7fb', 'x\0', 'a\rb']) {
      expect(statusLineProblem(200, bad)).toBe('control byte in the reason phrase');
    }
  });

  it('a status is valid from 100 to 599', () => {
    for (const ok of [100, 101, 200, 599]) expect(statusLineProblem(ok, 'OK')).toBeUndefined();
    for (const bad of [0, 99, 600, 999]) {
      expect(statusLineProblem(bad, 'OK')).toBe(`status ${bad}`);
    }
  });

  it('as an answer rather than a switch, a 101 is not valid either; the rest as in a status line', () => {
    expect(answerStatusProblem(101, 'Switching Protocols')).toBe('101 without Connection: Upgrade');
    for (const ok of [100, 102, 200, 599]) expect(answerStatusProblem(ok, 'OK')).toBeUndefined();
    expect(answerStatusProblem(999, 'OK')).toBe('status 999');
    expect(answerStatusProblem(200, 'O\x01K')).toBe('control byte in the reason phrase');
  });
});

describe('transfer coding of an answer', () => {
  it('none, or chunked alone in any case and spacing, passes', () => {
    for (const raw of [
      [],
      ['Content-Length', '3'],
      ['Transfer-Encoding', 'chunked'],
      ['transfer-encoding', ' Chunked\t'],
    ]) {
      expect(transferCodingProblem(raw)).toBeUndefined();
    }
  });

  it('any other coding, or chunked twice, is named', () => {
    expect(transferCodingProblem(['X-A', 'chunked', 'Transfer-Encoding', 'gzip, chunked'])).toBe(
      'transfer coding "gzip, chunked"',
    );
    expect(transferCodingProblem(['TRANSFER-ENCODING', 'identity'])).toBe(
      'transfer coding "identity"',
    );
    expect(
      transferCodingProblem(['Transfer-Encoding', 'chunked', 'Transfer-Encoding', 'chunked']),
    ).toBe('transfer coding "chunked, chunked"');
    expect(transferCodingProblem(['Transfer-Encoding', 'xchunked'])).toBe(
      'transfer coding "xchunked"',
    );
    expect(transferCodingProblem(['Transfer-Encoding', 'chunkedx'])).toBe(
      'transfer coding "chunkedx"',
    );
  });

  it('is asked after the status line of an answer head node:http hands over', () => {
    const gzip = ['Transfer-Encoding', 'gzip'];
    const head = (statusCode: number | undefined, rawHeaders: string[]) => ({
      statusCode,
      statusMessage: 'OK',
      rawHeaders,
    });
    expect(answerHeadProblem(head(200, ['Transfer-Encoding', 'chunked']))).toBeUndefined();
    expect(answerHeadProblem(head(200, gzip))).toBe('transfer coding "gzip"');
    expect(answerHeadProblem(head(999, gzip))).toBe('status 999');
    expect(answerHeadProblem(head(undefined, []))).toBe('status 0');
  });
});

describe('Location rewrite', () => {
  it('moves Vidispine-origin locations to the client origin, keeping path, query and fragment', () => {
    const rewrite = locationRewriter(new URL('http://vidispine:8080'), 'http');
    expect(rewrite('http://vidispine:8080/API/item/VX-1;version=2?x=1#f', '127.0.0.1:8080')).toBe(
      'http://127.0.0.1:8080/API/item/VX-1;version=2?x=1#f',
    );
    expect(rewrite('HTTP://VIDISPINE:8080/API/x', 'h:1')).toBe('http://h:1/API/x');
    expect(rewrite('http://vidispine:8080', 'h:1')).toBe('http://h:1/');
    expect(rewrite('http://vidispine:8080?q', 'h:1')).toBe('http://h:1/?q');
  });

  it('leaves other origins, look-alike hosts and relative locations alone', () => {
    const rewrite = locationRewriter(new URL('http://vidispine:8080'), 'http');
    expect(rewrite('http://elsewhere:8080/API/x', 'h:1')).toBe('http://elsewhere:8080/API/x');
    expect(rewrite('http://vidispine:80801/API/x', 'h:1')).toBe('http://vidispine:80801/API/x');
    expect(rewrite('http://vidispine:8080.evil/x', 'h:1')).toBe('http://vidispine:8080.evil/x');
    expect(rewrite('/API/item/VX-1', 'h:1')).toBe('/API/item/VX-1');
  });

  it("gives a client that named no host a path, never Vidispine's address", () => {
    const rewrite = locationRewriter(new URL('http://vidispine:8080'), 'http');
    expect(rewrite('http://vidispine:8080/API/x?y', undefined)).toBe('/API/x?y');
    expect(rewrite('http://vidispine:8080', undefined)).toBe('/');
  });

  it('never turns a path that starts with two slashes into a reference to another host', () => {
    const rewrite = locationRewriter(new URL('http://vidispine:8080/vs'), 'http');
    const client = 'http://127.0.0.1:8080/API/a';
    for (const location of [
      'http://vidispine:8080/vs//evil.example/x',
      '//vidispine:8080/vs//evil.example/x',
      '//vidispine:8080/vs/\\evil.example/x',
      'http://vidispine:8080/vs/\t/evil.example/x',
    ]) {
      const path = rewrite(location, undefined);
      expect(new URL(path, client).host).toBe('127.0.0.1:8080');
      expect(new URL(path, client).pathname).toBe(
        new URL(location, 'http://vidispine:8080').pathname.slice(3),
      );
    }
    expect(rewrite('//vidispine:8080/vs//evil.example/x', undefined)).toBe('/.//evil.example/x');
    expect(rewrite('//vidispine:8080/vs//evil.example/x', 'h:1')).toBe(
      'http://h:1//evil.example/x',
    );
  });

  it('rewrites a scheme-relative location that names Vidispine, in either port spelling', () => {
    const rewrite = locationRewriter(new URL('http://vidispine:8080'), 'http');
    expect(rewrite('//vidispine:8080/API/item/VX-1?x=1', 'h:1')).toBe(
      'http://h:1/API/item/VX-1?x=1',
    );
    expect(rewrite('//VIDISPINE:8080', undefined)).toBe('/');
    expect(rewrite('//vidispine:8080.evil/x', 'h:1')).toBe('//vidispine:8080.evil/x');
    expect(rewrite('//elsewhere:8080/API/x', 'h:1')).toBe('//elsewhere:8080/API/x');
    const prefixed = locationRewriter(new URL('https://vs.example/vidi/'), 'http');
    expect(prefixed('//vs.example:443/vidi/API/x', 'h:1')).toBe('http://h:1/API/x');
    expect(prefixed('//vs.example/vidi/API/x', 'h:1')).toBe('http://h:1/API/x');
    expect(prefixed('//vs.example/other/API/x', 'h:1')).toBe('//vs.example/other/API/x');
  });

  it('knows both spellings of a default port and strips a path prefix', () => {
    const rewrite = locationRewriter(new URL('https://vs.example/vidi/'), 'http');
    expect(rewrite('https://vs.example:443/vidi/API/x', 'h:1')).toBe('http://h:1/API/x');
    expect(rewrite('https://vs.example/vidi/API/x', 'h:1')).toBe('http://h:1/API/x');
    expect(rewrite('https://vs.example/other/API/x', 'h:1')).toBe('https://vs.example/other/API/x');
  });

  it("matches the path prefix as written, since a path's case is significant", () => {
    const rewrite = locationRewriter(new URL('http://v:8080/Vidi'), 'http');
    expect(rewrite('HTTP://V:8080/Vidi/API/x', 'h:1')).toBe('http://h:1/API/x');
    expect(rewrite('//V:8080/Vidi/API/x', 'h:1')).toBe('http://h:1/API/x');
    // `/vidi/API/x` is not `/Vidi/API/x`: sent back through the proxy it would become it.
    expect(rewrite('http://v:8080/vidi/API/x', 'h:1')).toBe('http://v:8080/vidi/API/x');
    expect(rewrite('//v:8080/VIDI/API/x', undefined)).toBe('//v:8080/VIDI/API/x');
  });
});

describe('Location rewrite, as a URL parser reads it', () => {
  // Every row: vidispine.url, the Location Vidispine sent, what the client gets (with the
  // Host `h:1`, and without one). A client reads a Location with the WHATWG URL parser (or
  // one as lenient), so each spelling of Vidispine's origin it would follow is one to move.
  type Row = readonly [upstream: string, location: string, withHost: string, withoutHost: string];
  const sameForBoth = (upstream: string, location: string, to: string): Row => [
    upstream,
    location,
    to,
    to,
  ];
  const moved = (upstream: string, location: string, path = '/x'): Row => [
    upstream,
    location,
    `http://h:1${path}`,
    path,
  ];
  const kept = (upstream: string, location: string): Row =>
    sameForBoth(upstream, location, location);
  /** A row's Location as given a client that named a host (`h:1`), and one that named none. */
  const expectRewritten = (...[upstream, location, withHost, withoutHost]: Row): void => {
    const rewrite = locationRewriter(new URL(upstream), 'http');
    expect([rewrite(location, 'h:1'), rewrite(location, undefined)]).toEqual([
      withHost,
      withoutHost,
    ]);
  };
  const VS = 'http://vidispine:8080';

  it.each<Row>([
    // Userinfo names no other host; the client would drop it and reach Vidispine.
    moved(VS, 'http://u@vidispine:8080/x'),
    moved(VS, '//u:p@vidispine:8080/x'),
    moved(VS, 'http://u:p@VIDISPINE:8080/x?q#f', '/x?q#f'),
    // Extra or missing slashes and backslashes, which a special scheme reads as slashes.
    moved(VS, 'http:///vidispine:8080/x'),
    moved(VS, '///vidispine:8080/x'),
    moved(VS, 'http:\\\\vidispine:8080\\x'),
    moved(VS, '/\\vidispine:8080/x'),
    moved(VS, '\\\\vidispine:8080\\x'),
    moved(VS, 'http:vidispine:8080/x'),
    // The host percent-encoded, with a trailing dot, in upper case; the port with zeros.
    moved(VS, 'http://vid%69spine:8080/x'),
    moved(VS, 'http://vidispine.:8080/x'),
    moved(VS, 'HTTP://VIDISPINE:08080/x'),
    // Tabs and line breaks inside, blanks around: a URL parser drops them.
    moved(VS, 'http://vidi\tspine:8080/x'),
    moved(VS, 'ht\ntp://vidispine:8080/\r\nx'),
    moved(VS, ' http://vidispine:8080/x\t'),
    // The default port written or left out, whichever vidispine.url did.
    moved('http://vidispine', 'http://vidispine:80/x'),
    moved('http://vidispine', '//vidispine:0080/x'),
    moved('http://vidispine:80', 'http://vidispine/x'),
    moved('https://vs.example', 'https://vs.example:443/x'),
    // Addresses in any notation a parser takes.
    moved('http://[::1]:8080', 'http://[0:0::1]:8080/x'),
    moved('http://[::1]:8080', '//[0:0:0:0:0:0:0:0001]:8080/x'),
    moved('http://127.0.0.1:8080', 'http://0x7f.1:8080/x'),
    moved('http://127.0.0.1:8080', 'http://2130706433:8080/x'),
    moved('http://127.0.0.1:8080', 'http://127.0.0.1.:8080/x'),
    moved('http://vidispine.:8080', 'http://vidispine:8080/x'),
    // An IPv4 address mapped into IPv6, by which a dual-stack client reaches it.
    moved('http://127.0.0.1:8080', 'http://[::ffff:127.0.0.1]:8080/x'),
    moved('http://127.0.0.1:8080', '//[0:0:0:0:0:FFFF:7f00:0001]:8080/x'),
    moved('http://[::ffff:10.0.0.5]:8080', 'http://10.0.0.5:8080/x'),
    moved('http://[::ffff:10.0.0.5]:8080', 'http://[::ffff:a00:5]:8080/x'),
    // The path as the client will request it: dot segments gone, blanks encoded.
    moved(VS, 'http://vidispine:8080/a/../x'),
    moved(VS, 'http://vidispine:8080/a b', '/a%20b'),
    // A path that would start with `//` stays a path.
    [
      VS,
      'http://vidispine:8080//evil.example/x',
      'http://h:1//evil.example/x',
      '/.//evil.example/x',
    ],
    [VS, '//vidispine:8080/\\evil.example/x', 'http://h:1//evil.example/x', '/.//evil.example/x'],
  ])('with %s, moves %j onto the client origin', expectRewritten);

  it.each<Row>([
    // Other hosts and ports, however close: never moved onto the client origin.
    kept(VS, 'http://vidispine:8081/x'),
    kept(VS, 'https://vidispine:8080/x'),
    kept(VS, 'http://vidispine.evil:8080/x'),
    kept(VS, 'http://vidispine:8080@evil.example/x'),
    kept(VS, '//vidispine:8080@evil.example/x'),
    kept(VS, 'http://evil.example\\@vidispine:8080/x'),
    kept(VS, 'http://vidispine..:8080/x'),
    kept('http://vidispine', 'http://vidispine:8080/x'),
    kept('https://vs.example', 'http://vs.example/x'),
    kept('http://[::1]:8080', 'http://[::2]:8080/x'),
    kept('http://127.0.0.1:8080', 'http://127.0.0.2:8080/x'),
    kept('http://127.0.0.1:8080', 'http://[::ffff:127.0.0.2]:8080/x'),
    kept('http://127.0.0.1:8080', 'http://[::127.0.0.1]:8080/x'),
    kept('http://127.0.0.1:8080', 'http://[1::ffff:127.0.0.1]:8080/x'),
    kept('http://[::1]:8080', 'http://[::ffff:0.0.0.1]:8080/x'),
    // References that name no host: the client resolves them on its own origin.
    kept(VS, '/API/item/VX-1'),
    kept(VS, '/API/a/../b'),
    kept(VS, 'item/VX-1'),
    kept(VS, '../x'),
    kept(VS, '?q=1'),
    kept(VS, '#f'),
    kept(VS, ''),
    kept(VS, '//evil.example/x'),
    kept(VS, '/\\evil.example/x'),
    kept(VS, 'mailto:ops@vidispine'),
    kept(VS, 'urn:vidispine:8080'),
    // Values a URL parser refuses pass as sent.
    kept(VS, 'http://vidispine:80801/x'),
    kept(VS, 'http://vidispine:8080.evil/x'),
    kept(VS, 'http://[::1/x'),
    kept(VS, 'http://vid ispine:8080/x'),
    kept(VS, 'http://%zz:8080/x'),
    kept(VS, 'http://'),
  ])('with %s, keeps %j as sent', expectRewritten);

  // A path under vidispine.url's prefix is one the client reaches without it: the proxy puts
  // the prefix back in front of every path it forwards. A path outside it is no resource the
  // proxy can reach, and goes as sent; either stays a path, on whatever origin the client used.
  const VIDI = 'http://vidispine:8080/Vidi';
  it.each<Row>([
    sameForBoth(VIDI, '/Vidi/API/rel', '/API/rel'),
    sameForBoth(VIDI, '/Vidi/API/rel?a=1#f', '/API/rel?a=1#f'),
    sameForBoth(VIDI, '/Vidi', '/'),
    sameForBoth(VIDI, '/Vidi?a', '/?a'),
    sameForBoth(VIDI, '\\Vidi\\API\\rel', '/API/rel'),
    sameForBoth(VIDI, '/Vi\tdi/API/rel', '/API/rel'),
    sameForBoth(VIDI, '/Vidi//evil.example/x', '/.//evil.example/x'),
    sameForBoth('http://vidispine:8080/Vidi/', '/Vidi/API/rel', '/API/rel'),
    sameForBoth('http://vidispine:8080/a/b', '/a/b/API/rel', '/API/rel'),
    kept(VIDI, '/API/rel'),
    kept(VIDI, '/vidi/API/rel'),
    kept(VIDI, '/Vidix/API/rel'),
    kept(VIDI, '/Vidi%2FAPI/rel'),
    kept(VIDI, '/Vidi/../API/rel'),
    kept(VIDI, 'Vidi/API/rel'),
    kept(VIDI, '//evil.example/Vidi/API/rel'),
    kept(VIDI, '/\\evil.example/Vidi/API/rel'),
  ])('with %s, gives the bare path %j as %j', expectRewritten);

  it('writes every moved Location so that a URL parser reads it on the client origin', () => {
    const rewrite = locationRewriter(new URL('http://vidispine:8080/vs'), 'http');
    for (const location of [
      'http://u@vidispine:8080/vs//evil.example/x',
      '\\\\vidispine:8080\\vs\\\\evil.example\\x',
      '/vs/\\evil.example/x',
      '/vs/\t/evil.example/x',
    ]) {
      for (const host of ['h:1', undefined]) {
        const resolved = new URL(rewrite(location, host), 'http://h:1/API/a');
        expect([resolved.host, resolved.pathname]).toEqual(['h:1', '//evil.example/x']);
      }
    }
  });

  // Node reads a header one character per byte: `é` sent as UTF-8 arrives as `Ã©`. Moved,
  // each byte beyond ASCII is the same byte percent-encoded, what a client reading the
  // value as UTF-8 (a browser's Location) or as bytes (curl) requests.
  const utf8 = (text: string): string => Buffer.from(text).toString('latin1');
  it.each<Row>([
    moved(VS, utf8('http://vidispine:8080/é?q=é#é'), '/%C3%A9?q=%C3%A9#%C3%A9'),
    moved(VS, 'http://vidispine:8080/\xe9', '/%E9'),
    sameForBoth('http://vidispine:8080/Vidi', utf8('/Vidi/Ünï'), '/%C3%9Cn%C3%AF'),
    // A host written in other letters a client maps onto Vidispine's (full width).
    moved(VS, utf8('http://ｖｉｄｉｓｐｉｎｅ:8080/x')),
    kept(VS, utf8('http://vidispiné:8080/x')),
    kept(VS, utf8('/é')),
  ])('with %s, moves the bytes of %j as they came', expectRewritten);
});

describe('Refresh rewrite', () => {
  const rewrite = (value: string): string =>
    rewriteRefresh(value, (url) => (url.startsWith('http://vs/') ? url.replace('vs', 'h:1') : url));

  it("rewrites the URL after url=, as a Location's, keeping the rest as written", () => {
    expect(rewrite('5; url=http://vs/API/x?y')).toBe('5; url=http://h:1/API/x?y');
    expect(rewrite('0;URL=http://vs/API/x')).toBe('0;URL=http://h:1/API/x');
    expect(rewrite('5 , Url = http://vs/API/x')).toBe('5 , Url = http://h:1/API/x');
    expect(rewrite(`5; url='http://vs/API/x'`)).toBe(`5; url='http://h:1/API/x'`);
    expect(rewrite('5; url="http://vs/API/x"')).toBe('5; url="http://h:1/API/x"');
  });

  it('leaves a Refresh without a URL, or with one elsewhere, alone', () => {
    for (const value of [
      '5',
      '5; ',
      'http://vs/API/x',
      '5x; url=http://vs/API/x',
      '; url=http://vs/API/x',
      '5; url=http://elsewhere/API/x',
    ]) {
      expect(rewrite(value)).toBe(value);
    }
  });

  // Every row: the Refresh Vidispine sent, what the client gets. The URL is found as HTML's
  // declarative refresh finds it (what a browser follows): after the time and a `;`, `,` or
  // blank, with or without `url=`, up to its closing quote if it opens with one.
  const real = locationRewriter(new URL('http://vidispine:8080'), 'http');
  it.each([
    ['5; url=http://vidispine:8080/x', '5; url=http://h:1/x'],
    ['5; http://vidispine:8080/x', '5; http://h:1/x'],
    ['5,http://vidispine:8080/x', '5,http://h:1/x'],
    ['5 http://vidispine:8080/x', '5 http://h:1/x'],
    ['5 ; \t//vidispine:8080/x', '5 ; \thttp://h:1/x'],
    ["0;URL = 'http://vidispine:8080/x'", "0;URL = 'http://h:1/x'"],
    ['0; url= "http://vidispine:8080/x" ', '0; url= "http://h:1/x" '],
    ["5; url='http://vidispine:8080/x", "5; url='http://h:1/x"],
    ['5; url="http://vidispine:8080/x"tail"', '5; url="http://h:1/x"tail"'],
    ['5.5; url=http://vidispine:8080/x', '5.5; url=http://h:1/x'],
    ['.5; url=http://vidispine:8080/x', '.5; url=http://h:1/x'],
    [' 5; url=http://u@VIDISPINE:08080/x', ' 5; url=http://h:1/x'],
    ['5; urn=http://vidispine:8080/x', '5; urn=http://vidispine:8080/x'],
    ['5; url=//evil.example/x', '5; url=//evil.example/x'],
    ['5; url=/API/x', '5; url=/API/x'],
  ])('%j becomes %j', (value, expected) => {
    expect(rewriteRefresh(value, (url) => real(url, 'h:1'))).toBe(expected);
  });
});

describe('request target', () => {
  it('keeps origin-form targets byte for byte', () => {
    for (const target of [
      '/API/item/VX-1;version=3/metadata?field=title&x=%2F',
      '/API/a/../b',
      '//API//x',
      '/API/x?',
    ]) {
      expect(originForm(target)).toBe(target);
    }
  });

  it('reduces absolute-form targets to their path, so no other host is reached', () => {
    expect(originForm('http://evil.example:9/API/x;a=1?b=2')).toBe('/API/x;a=1?b=2');
    expect(originForm('http://evil.example?x=1')).toBe('/?x=1');
    expect(originForm('https://evil.example')).toBe('/');
  });

  it('names the authority of an absolute-form target, none for an origin-form one', () => {
    expect(targetAuthority('/API/x')).toBeUndefined();
    expect(targetAuthority('http://evil.example:9/API/x?y')).toBe('evil.example:9');
    expect(targetAuthority('http://evil.example?x=1')).toBe('evil.example');
    expect(targetAuthority('https://[::1]:8443')).toBe('[::1]:8443');
    expect(targetAuthority('http:///API/x')).toBe('');
  });

  it('refuses forms that name no path', () => {
    expect(originForm('*')).toBeUndefined();
    expect(originForm('evil.example:443')).toBeUndefined();
    expect(originForm('://evil.example/API/x')).toBeUndefined();
    expect(originForm('')).toBeUndefined();
  });
});

describe('dot-dot segments', () => {
  it.each([
    '/..',
    '/API/../x',
    '/API\\..\\x',
    '/API%2f..%2Fx',
    '/API%5C..%5cx',
    '/%2e%2e/x',
    '/.%2E/x',
    '/%2e./x',
    '/API/..\\x',
    '/API/..%5cx',
    '/API/..;a=1/x',
    '/API/..%3ba=1/x',
    '/API/.%2e%3B/x',
    '/API/..#x',
    '/API/../x?q=1',
  ])('finds one in %s', (path) => {
    expect(hasDotDotSegment(path)).toBe(true);
  });

  it.each([
    '/API/x',
    '/API/..x',
    '/API/x..',
    '/API/.../x',
    '/API/./x',
    '/API/%2e%2ex',
    '/API/a%2e%2e/x',
    '/API/x?q=/../y',
    '/API/x?q=%2f..%2f',
    '/API/x%3b../y',
  ])('finds none in %s', (path) => {
    expect(hasDotDotSegment(path)).toBe(false);
  });
});

describe('identity', () => {
  const rule = {
    defaultUser: 'alice',
    selectHeader: 'x-vidispine-user',
    knownUsers: new Set(['alice', 'bob']),
  };

  it('uses the listener user unless the select header names a configured user', () => {
    expect(pickIdentity(rule, [])).toEqual({ ok: true, user: 'alice' });
    expect(pickIdentity(rule, ['X-Vidispine-User', 'bob'])).toEqual({ ok: true, user: 'bob' });
    expect(pickIdentity(rule, ['x-vidispine-user', ' '])).toEqual({ ok: true, user: 'alice' });
    expect(pickIdentity({ ...rule, selectHeader: undefined }, ['x-vidispine-user', 'bob'])).toEqual(
      {
        ok: true,
        user: 'alice',
      },
    );
  });

  it('refuses an unknown user with a reason that does not echo the header value', () => {
    const result = pickIdentity(rule, ['x-vidispine-user', 'mallory']);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(/x-vidispine-user names no configured user/);
    expect(!result.ok && result.reason).not.toMatch(/mallory/);
  });

  describe('a name beyond ASCII', () => {
    const latin1 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
    const intl = {
      ...rule,
      knownUsers: new Set(['dörte', 'dà', '日本', 'Ã©', 'd\uFFFDrte']),
    };
    const pick = (value: string) => pickIdentity(intl, ['X-Vidispine-User', value]);

    it('matches written in UTF-8, as Node reads those bytes (Latin-1)', () => {
      expect(pick(latin1('dörte'))).toEqual({ ok: true, user: 'dörte' });
      expect(pick(latin1('日本'))).toEqual({ ok: true, user: '日本' });
      expect(pick(` ${latin1('dörte')}\t`)).toEqual({ ok: true, user: 'dörte' });
      // `à` is C3 A0 in UTF-8: its A0 (a no-break space in Latin-1) is part of the name.
      expect(pick(latin1('dà'))).toEqual({ ok: true, user: 'dà' });
    });

    it('matches written in Latin-1, and a Latin-1 name first', () => {
      expect(pick('dörte')).toEqual({ ok: true, user: 'dörte' });
      expect(pick('Ã©')).toEqual({ ok: true, user: 'Ã©' });
    });

    it('bytes that are not UTF-8 are no name read as replacement characters', () => {
      expect(pick('d\xf6rtx')).toMatchObject({ ok: false });
      expect(pick('d\xffrte')).toMatchObject({ ok: false });
      expect(pick(latin1('dörtx'))).toMatchObject({ ok: false });
    });
  });

  it('refuses the header twice, which Node would join into "bob, alice"', () => {
    expect(pickIdentity(rule, ['X-Vidispine-User', 'bob', 'x-vidispine-user', 'alice'])).toEqual({
      ok: false,
      reason: 'header x-vidispine-user must appear at most once',
    });
  });
});

describe('replay decision', () => {
  it('plans bodies by what a 401 would cost', () => {
    expect(planBody(NO_BODY, 1024)).toBe('none');
    expect(planBody(lengthFraming(0), 1024)).toBe('none');
    expect(planBody(lengthFraming(1024), 1024)).toBe('buffer');
    expect(planBody(lengthFraming(1025), 1024)).toBe('expect');
    expect(planBody(CHUNKED, 1024)).toBe('expect');
  });

  it('replays once, and an expect body only while it is held back', () => {
    expect(canReplay('none', 0, false, false)).toBe(true);
    expect(canReplay('buffer', 0, false, false)).toBe(true);
    expect(canReplay('expect', 0, false, false)).toBe(true);
    expect(canReplay('expect', 0, true, false)).toBe(false);
    expect(canReplay('buffer', 0, true, false)).toBe(true);
    expect(canReplay('none', 1, false, false)).toBe(false);
  });

  it('replays again while the refused token is one the store already replaced', () => {
    expect(canReplay('none', 1, false, true)).toBe(true);
    expect(canReplay('buffer', 2, false, true)).toBe(true);
    expect(canReplay('expect', 1, false, true)).toBe(true);
    expect(canReplay('expect', 1, true, true)).toBe(false);
    expect(canReplay('expect', 0, true, true)).toBe(false);
  });
});

describe('retry after a failed connection', () => {
  it.each(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])(
    'retries an idempotent %s reset on a reused connection',
    (method) => expect(retriesOnFreshConnection(method, 'reset', true)).toBe(true),
  );

  it.each(['POST', 'PATCH', 'CONNECT', 'PROPFIND', undefined])('never retries %s', (method) =>
    expect(retriesOnFreshConnection(method, 'reset', true)).toBe(false),
  );

  it('retries neither a failure on a new connection nor one that was not a reset', () => {
    expect(retriesOnFreshConnection('GET', 'reset', false)).toBe(false);
    for (const reason of ['refused', 'timeout', 'dns', 'tls', 'protocol', 'other'] as const) {
      expect(retriesOnFreshConnection('GET', reason, true)).toBe(false);
    }
  });
});

describe('error mapping', () => {
  const coded = (code: string): Error => Object.assign(new Error(code), { code });

  it('classifies upstream failures and maps them to 502 or 504', () => {
    expect(classifyUpstreamError(coded('ECONNREFUSED'))).toBe('refused');
    expect(classifyUpstreamError(coded('ECONNRESET'))).toBe('reset');
    expect(classifyUpstreamError(new UpstreamTimeoutError('connect'))).toBe('timeout');
    expect(classifyUpstreamError(coded('ENOTFOUND'))).toBe('dns');
    expect(classifyUpstreamError(coded('DEPTH_ZERO_SELF_SIGNED_CERT'))).toBe('tls');
    expect(classifyUpstreamError(coded('HPE_INVALID_CONSTANT'))).toBe('protocol');
    expect(classifyUpstreamError(new Error('x'))).toBe('other');
    expect(classifyUpstreamError('not an error')).toBe('other');
    expect(statusForUpstreamError('timeout')).toBe(504);
    expect(statusForUpstreamError('refused')).toBe(502);
  });

  // EPROTO is the errno OpenSSL's failed handshake reaches node:http's client as, but also
  // what the kernel reports of an ICMP parameter problem on any TCP connection, https or not:
  // told as TLS, the line's hint sent the operator after a CA file for a plain-HTTP Vidispine.
  it('counts EPROTO as tls only when OpenSSL reported it', () => {
    const eproto = (message: string): Error =>
      Object.assign(new Error(message), { code: 'EPROTO' });
    expect(
      classifyUpstreamError(
        eproto(
          'write EPROTO 40ED8C60A57F0000:error:0A00010B:SSL routines:tls_validate_record_header:wrong version number:../deps/openssl/openssl/ssl/record/methods/tlsany_meth.c:77:\n',
        ),
      ),
    ).toBe('tls');
    expect(classifyUpstreamError(eproto('connect EPROTO 10.0.0.5:8080'))).toBe('other');
    expect(classifyUpstreamError(eproto('read EPROTO'))).toBe('other');
  });

  describe('the detail an operator is told', () => {
    const TOKEN = 'VSAPI-0123456789abcdef';
    const coded2 = (message: string, code: string): Error =>
      Object.assign(new Error(message), { code });

    it('is the error message, with a code it does not name', () => {
      expect(
        upstreamErrorDetail(coded2('connect ECONNREFUSED 10.0.0.5:8080', 'ECONNREFUSED'), TOKEN),
      ).toBe('connect ECONNREFUSED 10.0.0.5:8080');
      expect(
        upstreamErrorDetail(
          coded2('unable to verify the first certificate', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'),
          TOKEN,
        ),
      ).toBe('unable to verify the first certificate (UNABLE_TO_VERIFY_LEAF_SIGNATURE)');
      expect(upstreamErrorDetail(new Error('other side closed'), TOKEN)).toBe('other side closed');
      expect(upstreamErrorDetail('thrown text', TOKEN)).toBe('thrown text');
    });

    // OpenSSL's error queue, printed whole: a certificate that does not parse is an error of
    // the ASN.1 decoder under one of the TLS layer, a line each.
    it('keeps the lines of an OpenSSL error apart', () => {
      const queue = [
        '80CC53A30D7F0000:error:0680007B:asn1 encoding routines:asn1_get_length:too long:../deps/openssl/openssl/crypto/asn1/asn1_lib.c:95:',
        '80CC53A30D7F0000:error:0688010A:asn1 encoding routines:asn1_item_embed_d2i:nested asn1 error:../deps/openssl/openssl/crypto/asn1/tasn_dec.c:349:Type=X509',
        '80CC53A30D7F0000:error:0A00000D:SSL routines:tls_process_server_certificate:ASN1 lib:../deps/openssl/openssl/ssl/statem/statem_clnt.c:1851:',
      ];
      expect(upstreamErrorDetail(coded2(`${queue.join('\n')}\n`, 'ERR_SSL_ASN1_LIB'), TOKEN)).toBe(
        'too long; nested asn1 error, Type=X509; ASN1 lib (ERR_SSL_ASN1_LIB)',
      );
    });

    it("leaves out the codes of the forwarder's own errors", () => {
      expect(upstreamErrorDetail(new UpstreamProtocolError('status 999'), TOKEN)).toBe(
        'status 999',
      );
      expect(upstreamErrorDetail(new UpstreamTimeoutError('connect'), TOKEN)).toBe(
        'connect to Vidispine timed out',
      );
      expect(upstreamErrorDetail(new UpstreamResetError(), TOKEN)).toBe(
        'Vidispine reset the connection before the end of its answer',
      );
    });

    it('names every address of a name that refused, as one AggregateError without a message', () => {
      const refused = Object.assign(
        new AggregateError([
          coded2('connect ECONNREFUSED ::1:8080', 'ECONNREFUSED'),
          coded2('connect ECONNREFUSED 127.0.0.1:8080', 'ECONNREFUSED'),
        ]),
        { code: 'ECONNREFUSED' },
      );
      expect(upstreamErrorDetail(refused, TOKEN)).toBe(
        'connect ECONNREFUSED ::1:8080; connect ECONNREFUSED 127.0.0.1:8080',
      );
      expect(upstreamErrorDetail(new AggregateError([], 'all failed'), TOKEN)).toBe('all failed');
    });

    it('blanks the token out before it is cut, and shows control bytes as ?', () => {
      expect(
        upstreamErrorDetail(new UpstreamProtocolError(`transfer coding "${TOKEN}"`), TOKEN),
      ).toBe('transfer coding "[REDACTED]"');
      const long = upstreamErrorDetail(new Error(`${'x'.repeat(195)}${TOKEN}\r\n`), TOKEN);
      expect(long).toBe(`${'x'.repeat(195)}[REDA…`);
      expect(upstreamErrorDetail(new Error('a\r\nb\u001b[31m'), TOKEN)).toBe('a??b?[31m');
    });
  });

  it('takes a 204 or 304 short of its Content-Length as whole, nothing else', () => {
    const mismatch = coded('UND_ERR_RES_CONTENT_LENGTH_MISMATCH');
    expect(isWholeAnswerWithoutBody(304, mismatch)).toBe(true);
    expect(isWholeAnswerWithoutBody(204, mismatch)).toBe(true);
    for (const status of [0, 200, 206, 301, 404, 500]) {
      expect(isWholeAnswerWithoutBody(status, mismatch)).toBe(false);
    }
    expect(isWholeAnswerWithoutBody(304, coded('ECONNRESET'))).toBe(false);
    expect(isWholeAnswerWithoutBody(304, coded('UND_ERR_SOCKET'))).toBe(false);
  });

  it('gives Retry-After as a positive whole number', () => {
    expect(retryAfterHeader(0)).toBe('1');
    expect(retryAfterHeader(2.2)).toBe('3');
    expect(retryAfterHeader(Number.NaN)).toBe('1');
  });
});

describe('ASCII header values', () => {
  it('tells obs-text apart, which Node would write as UTF-8 when asking for 100', () => {
    expect(isAscii(['Accept', '*/*', 'X-A', 'a\tb'])).toBe(true);
    expect(isAscii(['X-Latin', 'caf\xe9'])).toBe(false);
    expect(isAscii(['caf\xe9', 'names are not looked at'])).toBe(true);
  });
});
