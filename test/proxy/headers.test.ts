import {
  clientResponseHeaders,
  hasLength,
  requestDropSet,
  stripClientHeaders,
} from '../../src/proxy/headers';
import type { LocationRewriter } from '../../src/proxy/location';

/**
 * The header rules as the RFCs and the proxy's contract state them, one table per rule,
 * each name checked in both directions and in several spellings.
 */

/**
 * Hop-by-hop fields: RFC 9110 §7.6.1 (Connection, Proxy-Connection, Keep-Alive, TE,
 * Transfer-Encoding, Upgrade) plus Trailer, which RFC 2616 §13.5.1 listed and every reverse
 * proxy still drops. Never passed on, in either direction.
 */
const HOP_BY_HOP = [
  'Connection',
  'Proxy-Connection',
  'Keep-Alive',
  'TE',
  'Trailer',
  'Transfer-Encoding',
  'Upgrade',
];

/**
 * Dropped from requests only: the client's credentials and the fields the forwarder sets
 * itself (Host, the body's framing, Expect).
 */
const REQUEST_ONLY = ['Host', 'Content-Length', 'Expect', 'Authorization', 'Proxy-Authorization'];

/** Dropped from responses only: no challenge ever reaches the client. */
const RESPONSE_ONLY = ['WWW-Authenticate', 'Proxy-Authenticate'];

/** End-to-end fields: passed on as they are, in both directions. */
const END_TO_END = [
  'Accept',
  'Content-Type',
  'Content-Range',
  'Cache-Control',
  'ETag',
  'Set-Cookie',
  'X-Request-Id',
  'Close',
  'Trailers',
];

const spellings = (name: string): string[] => [name, name.toLowerCase(), name.toUpperCase()];

const identity: LocationRewriter = (location) => location;

/** The two directions, each as: client or Vidispine headers in → headers passed on out. */
const directions = {
  request: (raw: string[]) =>
    stripClientHeaders(raw, requestDropSet({ allowRunAs: false, selectUserHeader: 'X-User' })),
  response: (raw: string[]) => clientResponseHeaders(raw, identity, 'localhost:9000', 200),
};
type Direction = keyof typeof directions;

const dropped: Record<Direction, readonly string[]> = {
  request: [...HOP_BY_HOP, ...REQUEST_ONLY, 'RunAs', 'X-User'],
  response: [...HOP_BY_HOP, ...RESPONSE_ONLY],
};

/** Whether a field named `name` passes in `direction`; the fields around it always do. */
function passes(direction: Direction, name: string): boolean {
  const out = directions[direction](['X-Before', '1', name, 'v', 'X-After', '2']);
  const kept = out.filter((_, i) => i % 2 === 0);
  expect(kept.filter((n) => n !== name)).toEqual(['X-Before', 'X-After']);
  return kept.includes(name);
}

describe.each(Object.keys(directions) as Direction[])('%s headers', (direction) => {
  it('drops exactly the hop-by-hop fields and its own list, in any spelling', () => {
    const all = [
      ...HOP_BY_HOP,
      ...REQUEST_ONLY,
      ...RESPONSE_ONLY,
      'RunAs',
      'X-User',
      ...END_TO_END,
    ];
    const names = all.flatMap(spellings);
    const droppedNames = names.filter((name) => !passes(direction, name));
    expect(droppedNames).toEqual(dropped[direction].flatMap(spellings));
  });

  it('drops every field a Connection header lists, whatever its length or case', () => {
    const raw = [
      'Connection',
      'X-A',
      'x-a',
      '1',
      'Connection',
      ' x-long-field-name ,X-B ',
      'X-B',
      '2',
    ];
    const out = directions[direction]([...raw, 'X-Long-Field-Name', '3', 'X-C', '4']);
    expect(out).toEqual(['X-C', '4']);
  });

  it('joins the fields of every Connection header, not only the last', () => {
    const out = directions[direction]([
      'X-A',
      '1',
      'Connection',
      'X-A',
      'X-B',
      '2',
      'Connection',
      'X-B',
      'X-C',
      '3',
    ]);
    expect(out).toEqual(['X-C', '3']);
  });

  it('takes field names from Connection only, never from other dropped fields', () => {
    const out = directions[direction]([
      'Trailer',
      'X-Checksum',
      'Upgrade',
      'X-Kept',
      'Connection',
      'close',
      'X-Checksum',
      'abc',
      'X-Kept',
      '1',
    ]);
    expect(out).toEqual(['X-Checksum', 'abc', 'X-Kept', '1']);
  });

  it('drops nothing more for the usual Connection values', () => {
    for (const value of ['close', 'keep-alive', 'Keep-Alive', 'CLOSE', 'keep-alive, close', '']) {
      expect(directions[direction](['Connection', value, 'X-A', '1'])).toEqual(['X-A', '1']);
    }
  });
});

describe('fields a Connection header may not name', () => {
  // Whatever else a caller drops, framing and routing fields are never made hop-by-hop by a
  // Connection header (RFC 9110 §7.6.1): a body is never forwarded without its framing.
  it.each([['Content-Length'], ['Transfer-Encoding'], ['Host']])('%s', (name) => {
    const raw = ['Connection', `${name.toUpperCase()}, X-Gone`, name, '7', 'X-Gone', '1'];
    expect(stripClientHeaders(raw, new Set(['connection']))).toEqual([name, '7']);
  });

  it('a response keeps Content-Length when Connection names it', () => {
    const raw = ['Connection', 'content-length', 'Content-Length', '12'];
    expect(clientResponseHeaders(raw, identity, undefined, 200)).toEqual(['Content-Length', '12']);
  });
});

describe('Content-Length on answers that carry no content', () => {
  const raw = ['ETag', '"v"', 'Content-Length', '100'];
  it.each([101, 199, 204])('a %s loses it (RFC 9110 §8.6)', (status) => {
    expect(clientResponseHeaders(raw, identity, undefined, status)).toEqual(['ETag', '"v"']);
  });
  it.each([200, 205, 304, 404])('a %s keeps it', (status) => {
    expect(clientResponseHeaders(raw, identity, undefined, status)).toEqual(raw);
  });
});

describe('client credentials', () => {
  it('RunAs and the select header pass only when the listener allows them', () => {
    const raw = ['RunAs', 'bob', 'X-User', 'bob', 'Authorization', 'Basic eDp5'];
    const allowing = requestDropSet({ allowRunAs: true });
    expect(stripClientHeaders(raw, allowing)).toEqual(['RunAs', 'bob', 'X-User', 'bob']);
    const selecting = requestDropSet({ allowRunAs: true, selectUserHeader: 'X-USER' });
    expect(stripClientHeaders(raw, selecting)).toEqual(['RunAs', 'bob']);
  });
});

describe('an answer with a length', () => {
  it('is one whose head carries Content-Length, in any case', () => {
    expect(hasLength(['Content-Type', 'x', 'content-LENGTH', '0'])).toBe(true);
    expect(hasLength(['X-Fourteen-Chr', '1'])).toBe(false);
    expect(hasLength(['Content-Type', 'x', 'Content-Lengthy', '1', 'X', 'Content-Length'])).toBe(
      false,
    );
    expect(hasLength([])).toBe(false);
  });
});

describe('response Location and Content-Location', () => {
  const marked: LocationRewriter = (location, host) => `rewritten(${location}, ${host})`;

  it('and Content-Location are the only values rewritten, in any case', () => {
    const raw = [
      'location',
      'http://vs/API/a',
      'Content-Location',
      'http://vs/API/b',
      'CONTENT-LOCATION',
      'http://vs/API/b2',
      'Content-Location-X',
      'http://vs/API/b3',
      'Link',
      '<http://vs/API/c>',
      'X-Location',
      'http://vs/API/d',
      'Refresh',
      '5; url=http://vs/API/e',
      'X-Refresh',
      '5; url=http://vs/API/f',
    ];
    expect(clientResponseHeaders(raw, marked, 'h:1', 200)).toEqual([
      'location',
      'rewritten(http://vs/API/a, h:1)',
      'Content-Location',
      'rewritten(http://vs/API/b, h:1)',
      'CONTENT-LOCATION',
      'rewritten(http://vs/API/b2, h:1)',
      'Content-Location-X',
      'http://vs/API/b3',
      'Link',
      '<http://vs/API/c>',
      'X-Location',
      'http://vs/API/d',
      'Refresh',
      '5; url=rewritten(http://vs/API/e, h:1)',
      'X-Refresh',
      '5; url=http://vs/API/f',
    ]);
  });
});
