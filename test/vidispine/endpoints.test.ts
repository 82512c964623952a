import { mintEndpointFor, mintRequestLine } from '../../src/vidispine/endpoints';

describe('mint endpoints', () => {
  it('mints with the user own secret through /API/token, else through the admin endpoint', () => {
    expect(mintEndpointFor({ secret: { kind: 'literal', value: 'pw' } })).toBe('token');
    expect(mintEndpointFor({})).toBe('user_token');
  });

  it('names the request each endpoint makes, the user name escaped', () => {
    expect(mintRequestLine('token', 'alice')).toBe('GET /API/token');
    expect(mintRequestLine('user_token', 'a b/c')).toBe('GET /API/user/a%20b%2Fc/token');
  });
});
