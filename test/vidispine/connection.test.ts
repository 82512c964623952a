import { classifyUpstreamError } from '../../src/proxy/errors';
import { errorForNetworkFailure } from '../../src/vidispine/classify';
import { errorCode } from '../../src/error-message';
import { isTlsFailure, pathPrefix } from '../../src/vidispine/connection';

const coded = (code: string): Error => Object.assign(new Error(code), { code });

describe('connections to Vidispine', () => {
  it('derives the path prefix of the base URL', () => {
    expect(pathPrefix(new URL('http://vs:8080'))).toBe('');
    expect(pathPrefix(new URL('http://vs:8080/vidi/'))).toBe('/vidi');
    expect(pathPrefix(new URL('http://vs:8080/a/b//'))).toBe('/a/b');
  });

  it('reads the code of an error, when it has a textual one', () => {
    expect(errorCode(coded('ECONNRESET'))).toBe('ECONNRESET');
    expect(errorCode(Object.assign(new Error('x'), { code: 42 }))).toBeUndefined();
    expect(errorCode('ECONNRESET')).toBeUndefined();
  });

  const TLS = [
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'ERR_SSL_WRONG_VERSION_NUMBER',
    'CERT_HAS_EXPIRED',
    'CERT_NOT_YET_VALID',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'HOSTNAME_MISMATCH',
    'INVALID_CA',
    'ERROR_IN_CERT_NOT_AFTER_FIELD',
  ];
  const NOT_TLS = ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EPIPE', 'HPE_INVALID_CONSTANT'];

  it('tells TLS failures from other failures with one rule', () => {
    expect(TLS.filter((code) => !isTlsFailure(code))).toEqual([]);
    expect(NOT_TLS.filter((code) => isTlsFailure(code))).toEqual([]);
    expect(isTlsFailure(undefined)).toBe(false);
  });

  it('forwarded requests and token requests call the same failures TLS', () => {
    const ctx = {
      user: 'alice',
      mode: 'own' as const,
      credential: { username: 'alice', kind: 'password' as const, basicUser: 'alice' },
      secretSource: 'file /run/pw',
      seconds: 60,
      origin: 'https://vs:8443',
      timeoutSeconds: 10,
      settings: {
        url: 'vidispine.url',
        seconds: 'token.seconds',
        caFile: 'vidispine.caFile',
        mintTimeout: 'vidispine.mintTimeoutSeconds',
      },
    };
    for (const code of [...TLS, ...NOT_TLS]) {
      const forwarded = classifyUpstreamError(coded(code)) === 'tls';
      const minted = errorForNetworkFailure(coded(code), ctx).message.startsWith('TLS with');
      expect([code, minted]).toEqual([code, forwarded]);
    }
  });
});
