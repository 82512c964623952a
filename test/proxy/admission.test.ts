import type { RequestHead } from '../../src/proxy/admission';
import {
  FORWARDED_METHODS,
  MAX_HEADER_FIELDS,
  admissionRules,
  admit,
} from '../../src/proxy/admission';
import { CHUNKED, NO_BODY, lengthFraming } from '../../src/proxy/framing';
import { MAX_TARGET_LENGTH } from '../../src/proxy/target';

const identity = {
  defaultUser: 'alice',
  selectHeader: 'x-vidispine-user',
  knownUsers: new Set(['alice', 'bob']),
};
const USERS = [
  { name: 'alice', allowRunAs: false },
  { name: 'bob', allowRunAs: false },
];
const rules = admissionRules(identity, USERS, false);

/** A request head as Node's parser would hand it over. */
function head(raw: string[], overrides: Partial<RequestHead> = {}): RequestHead {
  const headers: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    headers[name] = name in headers ? `${headers[name]}, ${raw[i + 1]}` : raw[i + 1];
  }
  return {
    method: 'GET',
    url: '/API/item',
    httpVersionMajor: 1,
    httpVersionMinor: 1,
    headers,
    rawHeaders: raw,
    ...overrides,
  };
}

const refusal = (h: RequestHead, upgrade = false): [number, string] | 'admitted' => {
  const result = admit(h, rules, upgrade);
  return result.ok ? 'admitted' : [result.status, result.reason];
};

describe('admission passes', () => {
  it('admits an ordinary request: user, path, framing and the headers that may go on', () => {
    const result = admit(
      head(['Host', 'x', 'Accept', '*/*', 'Authorization', 'Basic eDp5', 'Content-Length', '5'], {
        method: 'POST',
        url: 'http://elsewhere/API/item;v=1?q',
      }),
      rules,
      false,
    );
    expect(result).toEqual({
      ok: true,
      user: 'alice',
      path: '/API/item;v=1?q',
      authority: 'elsewhere',
      framing: lengthFraming(5),
      headers: ['Accept', '*/*'],
      requestId: undefined,
      runAsStripped: false,
    });
  });

  it.each([
    [0, 9],
    [2, 0],
    [1, 2],
  ])('HTTP/%d.%d: 505', (major, minor) => {
    expect(
      refusal(head(['Host', 'x'], { httpVersionMajor: major, httpVersionMinor: minor })),
    ).toEqual([505, `HTTP/${major}.${minor} is not supported`]);
  });

  it('HTTP/1.0 without Host is admitted', () => {
    expect(refusal(head([], { httpVersionMinor: 0 }))).toBe('admitted');
  });

  it(`more than ${MAX_HEADER_FIELDS} header fields: 431`, () => {
    const raw = ['Host', 'x'];
    for (let i = 0; i < MAX_HEADER_FIELDS; i++) raw.push(`X-${i}`, 'a');
    expect(refusal(head(raw))).toEqual([431, `more than ${MAX_HEADER_FIELDS} header fields`]);
    expect(refusal(head(raw.slice(0, 2 * MAX_HEADER_FIELDS)))).toBe('admitted');
  });

  it('HTTP/1.1 without Host: 400, an upgrade too (RFC 9112 §3.2)', () => {
    const reason = [400, 'no Host header in an HTTP/1.1 request'];
    expect(refusal(head([]))).toEqual(reason);
    expect(refusal(head([], { url: 'http://x/API/item' }))).toEqual(reason);
    expect(refusal(head(['Upgrade', 'websocket', 'Connection', 'Upgrade']), true)).toEqual(reason);
    expect(refusal(head(['Host', '']))).toBe('admitted');
  });

  it('two Host headers: 400, in any case', () => {
    expect(refusal(head(['Host', 'a', 'HOST', 'b']))).toEqual([400, 'more than one Host header']);
  });

  it.each([
    'evil.example/x?',
    'a b',
    'a@b',
    'a\\b',
    'a#b',
    'a%zz',
    'a%2',
    'h:8o',
    'h:80:80',
    ':80:',
    '[::1',
    '::1',
    '[::1]x',
    'x[::1]',
    '[v1.x]',
    '[fe80::1%25eth0]',
    '[not:an:address]',
    '[1.2.3.4]',
    'caf\xe9.example',
  ])('Host %j: 400', (host) => {
    expect(refusal(head(['Host', host]))).toEqual([400, 'invalid Host header']);
    expect(refusal(head(['Host', host], { url: 'http://fine/API/x' }))).toEqual([
      400,
      'invalid Host header',
    ]);
  });

  it.each([
    ['legacy.example', 'legacy.example'],
    ['legacy.example:8080', 'legacy.example:8080'],
    ['LEGACY.example:', 'LEGACY.example:'],
    ['127.0.0.1:80', '127.0.0.1:80'],
    ['[::1]:8080', '[::1]:8080'],
    ['[2001:DB8::7]', '[2001:DB8::7]'],
    ['[::ffff:1.2.3.4]', '[::ffff:1.2.3.4]'],
    ["a-b_c.d~!$&'()*+,;=%2F", "a-b_c.d~!$&'()*+,;=%2F"],
    ['', undefined],
  ])('Host %j: admitted, the authority a Location names is %j', (host, authority) => {
    expect(admit(head(['Host', host]), rules, false)).toMatchObject({ ok: true, authority });
  });

  it('without Host (HTTP/1.0) the client named no authority', () => {
    const result = admit(head([], { httpVersionMinor: 0 }), rules, false);
    expect(result.ok && result.authority).toBeUndefined();
  });

  it("an absolute-form target's authority stands in for Host (RFC 9112 §3.2.2)", () => {
    expect(
      admit(head(['Host', 'ignored'], { url: 'http://front.example:81?q' }), rules, false),
    ).toMatchObject({ ok: true, path: '/?q', authority: 'front.example:81' });
    expect(
      admit(head([], { url: 'https://[::1]:8443/API/x', httpVersionMinor: 0 }), rules, false),
    ).toMatchObject({ ok: true, path: '/API/x', authority: '[::1]:8443' });
  });

  it.each(['http://user@evil/API/x', 'http:///API/x', 'http://a b/', 'http://[::1/API'])(
    'an absolute-form target %j naming no valid authority: 400',
    (url) => {
      expect(refusal(head(['Host', 'x'], { url }))).toEqual([
        400,
        'invalid authority in the request target',
      ]);
    },
  );

  it('a transfer coding other than chunked alone: 501', () => {
    for (const coding of ['gzip, chunked', 'deflate,chunked', 'chunked, chunked']) {
      expect(refusal(head(['Host', 'x', 'Transfer-Encoding', coding]))).toEqual([
        501,
        `transfer coding "${coding}" is not implemented; send chunked only`,
      ]);
    }
    const chunked = admit(head(['Host', 'x', 'Transfer-Encoding', ' Chunked ']), rules, false);
    expect(chunked.ok && chunked.framing).toBe(CHUNKED);
  });

  it('chunked framing in HTTP/1.0: 400', () => {
    expect(refusal(head(['Transfer-Encoding', 'chunked'], { httpVersionMinor: 0 }))).toEqual([
      400,
      'Transfer-Encoding in an HTTP/1.0 request',
    ]);
  });

  it('a zero Content-Length means no body', () => {
    const result = admit(head(['Host', 'x', 'Content-Length', '0']), rules, false);
    expect(result.ok && result.framing).toBe(NO_BODY);
  });

  it('a Content-Length past 2^32 keeps every digit; past 2^53 − 1, which a number cannot hold exactly: 413', () => {
    // Node's parser takes lengths up to 2^64 − 1; read as a number, 2^53 + 1 went on as 2^53
    // and 2^64 − 1 as a length Vidispine's parser refuses.
    const framingOf = (length: string) => {
      const result = admit(head(['Host', 'x', 'Content-Length', length]), rules, false);
      return result.ok ? result.framing : [result.status, result.reason];
    };
    expect(framingOf('4294967297')).toEqual(lengthFraming(2 ** 32 + 1));
    expect(framingOf('9007199254740991')).toEqual(lengthFraming(Number.MAX_SAFE_INTEGER));
    for (const length of ['9007199254740992', '9007199254740993', '18446744073709551615']) {
      expect(framingOf(length)).toEqual([
        413,
        'a Content-Length above 9007199254740991 bytes is not forwarded',
      ]);
    }
  });

  it(`targets longer than ${MAX_TARGET_LENGTH} bytes: 414; pathless ones: 400`, () => {
    const longest = `/${'a'.repeat(MAX_TARGET_LENGTH - 1)}`;
    expect(refusal(head(['Host', 'x'], { url: longest }))).toBe('admitted');
    expect(refusal(head(['Host', 'x'], { url: `${longest}a` }))).toEqual([
      414,
      `request target longer than ${MAX_TARGET_LENGTH} bytes`,
    ]);
    expect(refusal(head(['Host', 'x'], { url: '*' }))).toEqual([
      400,
      'request target must be a path or an absolute URL',
    ]);
  });

  it('a dot-dot segment: 400, also in an absolute-form target or an upgrade', () => {
    const dotDot = [400, 'a ".." segment in the request path is not forwarded'];
    expect(refusal(head(['Host', 'x'], { url: '/API/%2e%2e/x' }))).toEqual(dotDot);
    expect(refusal(head(['Host', 'x'], { url: 'http://h/../x' }))).toEqual(dotDot);
    const ws = ['Host', 'x', 'Upgrade', 'websocket', 'Connection', 'Upgrade'];
    expect(refusal(head(ws, { url: '/APIWS/../x' }), true)).toEqual(dotDot);
  });

  it('an unknown selected user: 403, marked for the log', () => {
    const result = admit(head(['Host', 'x', 'X-Vidispine-User', 'eve']), rules, false);
    expect(result).toMatchObject({ ok: false, status: 403, event: 'user_selection_refused' });
    const bob = admit(head(['Host', 'x', 'X-Vidispine-User', 'bob']), rules, false);
    expect(bob).toMatchObject({ ok: true, user: 'bob', headers: [] });
  });

  it('an expectation other than 100-continue in HTTP/1.1: 417, its connection kept', () => {
    // Node's test (the value holds "100-continue" as a token) decides which event hands a
    // request over; admission refuses exactly what arrives through `checkExpectation`.
    expect(admit(head(['Host', 'x', 'Expect', 'foo']), rules, false)).toEqual({
      ok: false,
      status: 417,
      reason: 'the expectation "foo" cannot be met; only 100-continue is',
      keepsConnection: true,
    });
    for (const refused of ['100-continu', '100-continues']) {
      expect(refusal(head(['Host', 'x', 'Expect', refused]))).toEqual([
        417,
        `the expectation "${refused}" cannot be met; only 100-continue is`,
      ]);
    }
    for (const taken of ['100-continue', '100-CONTINUE', 'foo, 100-continue', '', ' ', ', ,']) {
      expect(refusal(head(['Host', 'x', 'Expect', taken]))).toBe('admitted');
    }
    // An empty list element is no element (RFC 9110 §5.6.1): an Expect of only those asks for
    // nothing, and is removed on the way like any Expect.
    expect(admit(head(['Host', 'x', 'Expect', ', ']), rules, false)).toMatchObject({
      ok: true,
      headers: [],
    });
    // RFC 9110 §10.1.1 leaves HTTP/1.0's expectations aside, and so does Node: the field is
    // removed on the way, as it always is.
    const old = admit(head(['Expect', 'foo'], { httpVersionMinor: 0 }), rules, false);
    expect(old).toMatchObject({ ok: true, headers: [] });
    // Node never asks about an upgrade's expectations.
    const ws = ['Host', 'x', 'Upgrade', 'websocket', 'Connection', 'Upgrade', 'Expect', 'foo'];
    expect(refusal(head(ws), true)).toBe('admitted');
  });

  it('an unknown selected user keeps its connection too', () => {
    const result = admit(head(['Host', 'x', 'X-Vidispine-User', 'eve']), rules, false);
    expect(result).toMatchObject({ status: 403, keepsConnection: true });
    expect(admit(head(['Host', 'x', 'Host', 'y']), rules, false)).not.toHaveProperty(
      'keepsConnection',
    );
  });

  it('TRACE: 405 naming the methods that are forwarded; OPTIONS is admitted', () => {
    expect(admit(head(['Host', 'x'], { method: 'TRACE' }), rules, false)).toEqual({
      ok: false,
      status: 405,
      reason: 'TRACE is not forwarded: its answer would echo the token',
      allow: FORWARDED_METHODS,
    });
    expect(FORWARDED_METHODS).toBe('GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS');
    expect(refusal(head(['Host', 'x'], { method: 'TRACE' }), true)[0]).toBe(405);
    expect(refusal(head(['Host', 'x'], { method: 'OPTIONS' }))).toBe('admitted');
  });

  it('an upgrade must be a bodiless GET asking for websocket', () => {
    const ws = [
      'Host',
      'x',
      'Upgrade',
      'websocket',
      'Connection',
      'Upgrade',
      'Sec-WebSocket-Version',
      '13',
    ];
    expect(admit(head(ws), rules, true)).toMatchObject({
      ok: true,
      headers: ['Sec-WebSocket-Version', '13'],
    });
    expect(refusal(head([...ws, 'Content-Length', '4']), true)).toEqual([
      400,
      'a WebSocket upgrade must be a GET without a body',
    ]);
    expect(refusal(head([...ws, 'Transfer-Encoding', 'chunked']), true)[0]).toBe(400);
    expect(refusal(head(ws, { method: 'POST' }), true)[0]).toBe(400);
    expect(refusal(head(['Host', 'x', 'Upgrade', 'h2c']), true)).toEqual([
      400,
      'only WebSocket upgrades can be forwarded',
    ]);
    expect(refusal(head(['Host', 'x', 'Connection', 'Upgrade']), true)).toEqual([
      400,
      'only WebSocket upgrades can be forwarded',
    ]);
  });
});

describe('request ids', () => {
  const logged = admissionRules(identity, USERS, true);

  it('keeps a usable client id, once', () => {
    const result = admit(head(['Host', 'x', 'X-Request-Id', 'abc-1']), logged, false);
    expect(result).toMatchObject({
      ok: true,
      requestId: 'abc-1',
      headers: ['X-Request-Id', 'abc-1'],
    });
  });

  it('replaces an unusable one instead of sending both', () => {
    const result = admit(
      head(['Host', 'x', 'X-Request-Id', 'has space', 'x-request-id', 'second']),
      logged,
      false,
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.headers).toEqual(['X-Request-Id', result.requestId]);
  });

  it('passes a client id through untouched when the access log is off', () => {
    const result = admit(head(['Host', 'x', 'X-Request-Id', 'has space']), rules, false);
    expect(result).toMatchObject({ requestId: undefined, headers: ['X-Request-Id', 'has space'] });
  });
});

describe('RunAs follows the user a request acts as', () => {
  // alice's listener allows RunAs for alice; bob, picked by the select header, does not.
  const mixed = admissionRules(
    identity,
    [
      { name: 'alice', allowRunAs: true },
      { name: 'bob', allowRunAs: false },
    ],
    false,
  );
  const sent = (raw: string[]) => {
    const result = admit(head(['Host', 'x', ...raw]), mixed, false);
    return result.ok
      ? { user: result.user, headers: result.headers, runAsStripped: result.runAsStripped }
      : result;
  };

  it("passes RunAs on for a user that allows it, the listener's own", () => {
    expect(sent(['RunAs', 'carol'])).toEqual({
      user: 'alice',
      headers: ['RunAs', 'carol'],
      runAsStripped: false,
    });
    expect(sent(['X-Vidispine-User', 'alice', 'RunAs', 'carol'])).toEqual({
      user: 'alice',
      headers: ['RunAs', 'carol'],
      runAsStripped: false,
    });
  });

  it('removes RunAs for a selected user that does not allow it, and says so', () => {
    expect(sent(['X-Vidispine-User', 'bob', 'runas', 'carol', 'Accept', '*/*'])).toEqual({
      user: 'bob',
      headers: ['Accept', '*/*'],
      runAsStripped: true,
    });
  });

  it('passes RunAs on for a selected user that allows it on a listener whose own user does not', () => {
    const bobs = admissionRules(
      { ...identity, defaultUser: 'bob' },
      [
        { name: 'alice', allowRunAs: true },
        { name: 'bob', allowRunAs: false },
      ],
      false,
    );
    const picked = admit(
      head(['Host', 'x', 'X-Vidispine-User', 'alice', 'RunAs', 'carol']),
      bobs,
      false,
    );
    expect(picked).toMatchObject({
      user: 'alice',
      headers: ['RunAs', 'carol'],
      runAsStripped: false,
    });
    const own = admit(head(['Host', 'x', 'RunAs', 'carol']), bobs, false);
    expect(own).toMatchObject({ user: 'bob', headers: [], runAsStripped: true });
  });

  it('has nothing to say when no RunAs was sent', () => {
    expect(sent(['X-Vidispine-User', 'bob'])).toEqual({
      user: 'bob',
      headers: [],
      runAsStripped: false,
    });
  });
});
