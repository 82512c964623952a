import { password } from '../support/config-fixtures';
import {
  mintEndpointFor,
  mintModeFor,
  mintRequestLine,
  pathSegment,
  showsEndpoint,
} from '../../src/vidispine/endpoints';

describe('mint endpoints', () => {
  const own = { credential: password('alice', 'pw') };
  const runAs = { runAs: password('svc', 'pw') };

  it('mints with the own credential, else the RunAs account, else the admin', () => {
    expect(mintModeFor(own, {})).toBe('own');
    expect(mintModeFor(own, runAs)).toBe('own');
    expect(mintModeFor({}, runAs)).toBe('runAs');
    expect(mintModeFor({}, {})).toBe('admin');
    expect(mintEndpointFor(own, {})).toBe('token');
    expect(mintEndpointFor({}, runAs)).toBe('token_runas');
    expect(mintEndpointFor({}, {})).toBe('user_token');
  });

  it('names the request each endpoint makes, the user name escaped', () => {
    expect(mintRequestLine('token', 'alice')).toBe('GET /API/token');
    expect(mintRequestLine('user_token', 'a b/c')).toBe('GET /API/user/a%20b%2Fc/token');
    expect(mintRequestLine('token_runas', 'bob')).toBe('GET /API/token (RunAs: bob)');
    expect(mintRequestLine('user_token_runas', 'bob')).toBe('GET /API/user/bob/token (RunAs: bob)');
  });

  it('keeps every name one path segment, dot segments included', () => {
    expect(pathSegment('..')).toBe('%2E%2E');
    expect(pathSegment('.')).toBe('%2E');
    expect(pathSegment('a.b')).toBe('a.b');
    expect(pathSegment('../admin')).toBe('..%2Fadmin');
    expect(pathSegment('x?y#z;w')).toBe('x%3Fy%23z%3Bw');
  });
});

it('takes a 2xx or a refusal of the token endpoint itself to show that an endpoint exists', () => {
  const shown = [200, 204, 299, 400, 401, 403, 409];
  const unshown = [101, 199, 300, 302, 307, 402, 404, 405, 407, 408, 410, 429, 499, 500, 503];
  expect([...shown, ...unshown].filter(showsEndpoint)).toEqual(shown);
});
