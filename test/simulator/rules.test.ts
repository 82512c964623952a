import { parseAuthorization } from '../../src/simulator/auth';
import { afterUse, isExpired, newTokenState } from '../../src/simulator/tokens';
import {
  grantSeconds,
  negotiate,
  parseAutoRefresh,
  parseSeconds,
} from '../../src/simulator/token-request';

describe('token lifetime rules', () => {
  it('a plain token dies seconds after creation however much it is used', () => {
    let s = newTokenState('alice', 60, false, 0);
    for (const t of [10_000, 30_000, 59_999]) {
      expect(isExpired(s, t)).toBe(false);
      s = afterUse(s, t, 10_000);
    }
    expect(isExpired(s, 60_000)).toBe(true);
  });

  it('autoRefresh pushes only after the refresh interval (documented example)', () => {
    const created = newTokenState('alice', 60, true, 0);
    const at8 = afterUse(created, 8_000, 10_000);
    expect(at8).toBe(created);
    expect(at8.expiresAt).toBe(60_000);
    const at16 = afterUse(at8, 16_000, 10_000);
    expect(at16.expiresAt).toBe(76_000);
    expect(at16.lastPushAt).toBe(16_000);
  });

  it('pushes at exactly the refresh interval and counts from the last push', () => {
    const s = afterUse(newTokenState('a', 60, true, 0), 10_000, 10_000);
    expect(s.expiresAt).toBe(70_000);
    expect(afterUse(s, 19_999, 10_000)).toBe(s);
    expect(afterUse(s, 20_000, 10_000).expiresAt).toBe(80_000);
  });
});

describe('token request parameters', () => {
  it.each([
    [null, 60],
    ['', 60],
    [' ', 60],
    ['1', 1],
    ['3600', 3600],
    ['+5', 5],
    ['2147483647', 2147483647],
  ])('seconds=%j → %s', (raw, value) => {
    expect(parseSeconds(raw, 60)).toEqual({ ok: true, value });
  });

  // Jersey converts with Integer.valueOf; JAX-RS answers 404 for a query parameter it cannot.
  it.each([
    ['abc', 404],
    ['1.5', 404],
    ['1e3', 404],
    [' 5', 404],
    ['2147483648', 404],
    ['99999999999', 404],
    ['0', 400],
    ['-5', 400],
  ])('seconds=%j is refused with %s', (raw, status) => {
    const r = parseSeconds(raw, 60);
    expect(r).toMatchObject({ ok: false, status });
    if (!r.ok) expect(r.reason).not.toContain('\n');
  });

  it('autoRefresh is read as Java reads a boolean: true in any case, anything else false', () => {
    expect(parseAutoRefresh(null)).toBe(false);
    expect(parseAutoRefresh('')).toBe(false);
    expect(parseAutoRefresh('TRUE')).toBe(true);
    expect(parseAutoRefresh('tRuE')).toBe(true);
    expect(parseAutoRefresh('false')).toBe(false);
    for (const raw of ['yes', '1', 'on', ' true', 'true ', 'truee']) {
      expect(parseAutoRefresh(raw)).toBe(false);
    }
  });

  it('caps or rejects non-administrators above the maximum', () => {
    expect(grantSeconds(61, false, { maxSeconds: 60, aboveMax: 'reject' }).ok).toBe(false);
    expect(grantSeconds(61, false, { maxSeconds: 60, aboveMax: 'cap' })).toEqual({
      ok: true,
      value: 60,
    });
    expect(grantSeconds(60, false, { maxSeconds: 60, aboveMax: 'reject' })).toEqual({
      ok: true,
      value: 60,
    });
    expect(grantSeconds(86400, true, { maxSeconds: 60, aboveMax: 'reject' })).toEqual({
      ok: true,
      value: 86400,
    });
  });
});

describe('Accept negotiation', () => {
  const offered = ['text/plain', 'application/json', 'application/xml'];
  it.each([
    [undefined, 'text/plain'],
    ['', 'text/plain'],
    ['*/*', 'text/plain'],
    ['application/json', 'application/json'],
    ['application/xml', 'application/xml'],
    ['application/json, text/plain', 'application/json'],
    ['text/plain;q=0.5, application/xml', 'application/xml'],
    ['application/*', 'application/json'],
    ['*/*;q=0.1, text/plain;q=0', 'application/json'],
    ['text/html', undefined],
    ['application/json;q=0', undefined],
  ])('Accept %j → %s', (accept, expected) => {
    expect(negotiate(accept, offered)).toBe(expected);
  });
});

describe('Authorization parsing', () => {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  it.each([
    [undefined, { kind: 'none' }],
    ['token abc', { kind: 'token', value: 'abc' }],
    [`Basic ${b64('u:p:q')}`, { kind: 'basic', user: 'u', secret: 'p:q' }],
    [`basic ${b64('u:')}`, { kind: 'basic', user: 'u', secret: '' }],
  ])('%j', (header, expected) => {
    expect(parseAuthorization(header)).toEqual(expected);
  });

  it.each([
    'Basic',
    'Basic !!!',
    `Basic ${b64('nocolon')}`,
    'Bearer x.y.z',
    'garbage',
    // Vidispine documents `token <t>`: the word in lower case and one space, nothing else.
    'Token abc',
    'TOKEN abc',
    'token  abc',
    'token\tabc',
    'token abc def',
    'token',
  ])('%j is invalid with a one-line reason', (header) => {
    const r = parseAuthorization(header);
    expect(r.kind).toBe('invalid');
    if (r.kind === 'invalid') expect(r.reason).toMatch(/^[^\n]+$/);
  });
});
